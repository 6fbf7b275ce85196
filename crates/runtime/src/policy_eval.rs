//! Policies in simulation: [`simulation`] makes the lockstep session a package runs in
//! (its robot, started in the manifest's start state, among its `scene`'s objects and
//! cameras), and [`evaluate`] runs the episodes a package defines — each with a command
//! drawn from the episode's ranges by a seeded generator, its scene's `random` objects
//! placed by the episode's own seed, for the episode's time — and scores each by the
//! episode's success test. A faulted loop fails its episode.

use std::path::PathBuf;

use embody_policy::Manifest;
use embody_policy::manifest::Success;
use embody_policy::package::{read_manifest, robot_name};
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

use crate::backend::{Backend, Simulator};
use crate::drive::Drive;
use crate::error::RuntimeError;
use crate::policy_driver::{PolicyOutcome, PolicyRun, start_configuration};
use crate::report::{FaultReport, Report};
use crate::session::{Quiet, Session};

/// Which robot a package runs on in simulation.
#[derive(Clone, Debug, Default)]
pub struct RobotChoice {
    /// A built-in name or URDF path (default: the manifest's).
    pub robot: Option<String>,
    /// Whether its base floats (default: the manifest's, else the model's).
    pub floating_base: Option<bool>,
}

/// The lockstep simulation session `run` drives, on `choice`'s robot started in the
/// manifest's start state, with the manifest; it stops once the run's time is up.
pub fn simulation(
    run: PolicyRun,
    choice: &RobotChoice,
) -> Result<(Session, Manifest), RuntimeError> {
    let manifest = read_manifest(&run.package)?;
    let (robot, floating_base) = robot_name(
        &run.package,
        &manifest,
        choice.robot.as_deref(),
        choice.floating_base,
    )?;
    let model = embody_model::robots::load(&robot, floating_base)?;
    let mut simulator = Simulator {
        initial: Some(start_configuration(&model, &manifest, 0.0)),
        show_truth: true,
        ..Simulator::default()
    };
    if let Some(scene) = &manifest.scene {
        let task = crate::task::Task::load(&run.package.join(scene))?;
        simulator.environment = task.environment.unwrap_or_default();
        simulator.cameras = task.cameras;
    }
    // Time for an approach to the start posture, then the run (its driver ends it).
    let stop = run.seconds.map(|s| s + 60.0);
    let session = Session {
        robot: Some(robot),
        floating_base,
        stop_after_s: stop,
        ..Session::new(Backend::Simulator(simulator), Drive::Policy(run))
    };
    Ok((session, manifest))
}

/// One evaluated episode.
#[derive(Clone, Debug)]
pub struct Episode {
    /// Its index (0-based).
    pub index: u32,
    /// The command it drew.
    pub command: Vec<(String, f64)>,
    /// Whether it met the success test.
    pub succeeded: bool,
    /// What the policy did.
    pub outcome: PolicyOutcome,
    /// For a `placed` test: how far the object ended from its place (m; infinite when
    /// the scene has no such object).
    pub placed_miss_m: Option<f64>,
    /// The loop's faults.
    pub faults: Vec<FaultReport>,
}

/// Every episode of an evaluation.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// The episodes, in order.
    pub episodes: Vec<Episode>,
}

impl Evaluation {
    /// The share of episodes that succeeded (0–1).
    pub fn success_rate(&self) -> f64 {
        let won = self.episodes.iter().filter(|e| e.succeeded).count();
        won as f64 / self.episodes.len().max(1) as f64
    }
}

/// The episode `manifest` defines, or why it cannot be evaluated.
pub fn episode_of(manifest: &Manifest) -> Result<&embody_policy::manifest::Episode, RuntimeError> {
    manifest.episode.as_ref().ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "policy {} defines no [episode] to evaluate",
            manifest.name
        ))
    })
}

/// The commands of `episodes` episodes of `spec`, drawn from its ranges with `seed`.
pub fn sample_commands(
    spec: &embody_policy::manifest::Episode,
    episodes: u32,
    seed: u64,
) -> Vec<Vec<(String, f64)>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..episodes)
        .map(|_| {
            (spec.sample.iter())
                .map(|(key, &[lo, hi])| {
                    let value = if hi > lo {
                        rng.random_range(lo..=hi)
                    } else {
                        lo
                    };
                    (key.clone(), value)
                })
                .collect()
        })
        .collect()
}

/// Whether `unit`'s run (the policy's `outcome`) met `success`, and for a `placed` test
/// how far the object ended from its place (m; infinite when the scene lacks it).
pub fn succeeded(
    success: &Success,
    unit: &crate::report::UnitReport,
    outcome: &PolicyOutcome,
) -> (bool, Option<f64>) {
    match success {
        Success::Reach { .. } => (outcome.reach.as_ref().is_some_and(|r| r.succeeded()), None),
        Success::Upright => (!outcome.fell(), None),
        Success::Placed {
            object,
            position,
            within_m,
        } => {
            let miss = (unit.objects.iter())
                .find(|(name, _)| name == object)
                .map_or(f64::INFINITY, |(_, pose)| {
                    (0..3)
                        .map(|i| (pose[i] - position[i]).powi(2))
                        .sum::<f64>()
                        .sqrt()
                });
            (miss <= *within_m, Some(miss))
        }
    }
}

/// Runs `episodes` episodes of the package in `package` on `choice`'s robot, commands
/// drawn with `seed`; `each` hears every episode as it ends.
/// Episode `k` runs with seed `seed + k` (its scene's objects, its sensors' noise).
pub fn evaluate(
    package: &std::path::Path,
    choice: &RobotChoice,
    episodes: u32,
    seed: u64,
    each: &mut dyn FnMut(&Episode),
) -> Result<Evaluation, RuntimeError> {
    let manifest = read_manifest(package)?;
    let spec = episode_of(&manifest)?;
    let commands = sample_commands(spec, episodes, seed);
    let mut evaluation = Evaluation::default();
    for (index, command) in (0u32..).zip(commands) {
        let run = PolicyRun {
            package: PathBuf::from(package),
            command: command.clone(),
            seconds: Some(spec.seconds),
            record: None,
            approach: false,
        };
        let (mut session, _) = simulation(run, choice)?;
        session.seed = seed.wrapping_add(u64::from(index));
        let report: Report = session.run(&mut Quiet)?;
        let unit = report
            .units
            .first()
            .ok_or_else(|| RuntimeError::Invalid("no unit ran".into()))?;
        let outcome = unit.policy.clone().unwrap_or_default();
        let faults = unit.fault_reports();
        let (met, placed_miss_m) = succeeded(&spec.success, unit, &outcome);
        let episode = Episode {
            index,
            command,
            succeeded: met && faults.is_empty(),
            outcome,
            placed_miss_m,
            faults,
        };
        each(&episode);
        evaluation.episodes.push(episode);
    }
    Ok(evaluation)
}
