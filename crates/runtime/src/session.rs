//! [`Session`]: a robot session as a description — the robot, where it is
//! ([`Backend`]), how its loop is paced ([`Pacing`]), what drives it ([`Drive`]), the
//! loop's settings, where its state goes (Rerun, a state record) and how long it runs —
//! and [`Session::run`], which builds it and runs it with the one loop driver, lockstep
//! or real time, telling an [`Observer`] what happens as it happens.

use std::path::PathBuf;

use embody_control::{ControlConfig, RtConfig};
use embody_model::{Model, robots};
use embody_planner::Progress;
use embody_sim::Environment;
use embody_viz::VizConfig;

use crate::backend::{self, Backend, Wire};
use crate::drive::Drive;
use crate::error::RuntimeError;
use crate::report::Report;

/// How the loop is paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// Tick by tick on simulated time, as fast as the CPU allows: bit-identical for a
    /// seed. The simulator only.
    Lockstep,
    /// On its own thread on the system clock, with these real-time settings.
    Realtime(RtConfig),
}

/// Hears what a session does as it does it.
pub trait Observer {
    /// Something the user should know as the session starts (which map the motors are
    /// driven with, …).
    fn note(&mut self, _text: &str) {}
    /// A task step of unit `unit` started or ended.
    fn progress(&mut self, _unit: usize, _progress: &Progress) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// A robot session. See the module docs.
#[derive(Clone, Debug)]
pub struct Session {
    /// The robot: a built-in name or a URDF path (default: the task's robot, else the
    /// first built-in; a unit's robot on the wire).
    pub robot: Option<String>,
    /// Whether a simulated or mocked robot's base floats (default: the model's own).
    pub floating_base: Option<bool>,
    /// Where the robot is.
    pub backend: Backend,
    /// How the loop is paced.
    pub pacing: Pacing,
    /// What drives the robot.
    pub drive: Drive,
    /// The loop's settings (default: [`default_control`]); on a unit its rate is the
    /// unit's.
    pub control: Option<ControlConfig>,
    /// Record to Rerun (the sink and the recording's settings).
    pub rerun: Option<VizConfig>,
    /// Write the simulator's state every tick to this file (JSON Lines; lockstep).
    pub record: Option<PathBuf>,
    /// Seed of the simulator's noise (unit `k` of a fleet: seed + k).
    pub seed: u64,
    /// Simulated units side by side (lockstep).
    pub units: u32,
    /// End the run after this much loop time (s) even if its driver goes on.
    pub stop_after_s: Option<f64>,
    /// Time the loop from this much loop time on (s): a warm-up before measuring.
    pub measure_after_s: f64,
    /// Take the first unit's frames into this dataset (see [`crate::dataset::record`]).
    pub dataset: Option<crate::dataset::DatasetSink>,
    /// Join the site's network as this unit (real time): publish its state and events,
    /// take operators' commands (see `embody_net`).
    pub net: Option<embody_net::UnitLinkConfig>,
    /// Join through this link, already open, instead (a unit serving a library:
    /// [`crate::serve`]).
    pub link: Option<crate::SharedLink>,
}

impl Session {
    /// A session of the default robot on `backend` driven by `drive`, lockstep, with the
    /// default loop settings and no sinks.
    pub fn new(backend: Backend, drive: Drive) -> Session {
        Session {
            robot: None,
            floating_base: None,
            backend,
            pacing: Pacing::Lockstep,
            drive,
            control: None,
            rerun: None,
            record: None,
            seed: 0,
            units: 1,
            stop_after_s: None,
            measure_after_s: 0.0,
            dataset: None,
            net: None,
            link: None,
        }
    }

    /// The robot the session drives: the unit's, else the one asked for, else the
    /// task's, else the first built-in.
    pub fn robot_name(&self) -> String {
        if let Backend::Wire(Wire {
            unit: Some(unit), ..
        }) = &self.backend
        {
            return unit.config.robot.clone();
        }
        if let Backend::Simulator(sim) = &self.backend
            && let Some(s) = &sim.scenario
        {
            return s.model.name.clone();
        }
        let task_robot = match &self.drive {
            Drive::Task(task) => task.robot().map(str::to_owned),
            Drive::Demonstrate(demo) => demo.task.robot().map(str::to_owned),
            _ => None,
        };
        (self.robot.clone())
            .or(task_robot)
            .unwrap_or_else(|| robots::BUILTIN_ROBOTS[0].name.to_owned())
    }

    fn check(&self) -> Result<(), RuntimeError> {
        const MAX_UNITS: u32 = 1024;
        let sim = matches!(self.backend, Backend::Simulator(_));
        let lockstep = self.pacing == Pacing::Lockstep;
        let refuse = |why: &str| Err(RuntimeError::Invalid(why.to_owned()));
        if lockstep && !sim {
            return refuse(
                "only the simulator runs in lockstep: a robot on the wire or the mock runs in real time",
            );
        }
        if self.record.is_some() && !(sim && lockstep) {
            return refuse("a state record is written in lockstep simulation only");
        }
        if (self.net.is_some() || self.link.is_some()) && lockstep {
            return refuse(
                "a unit joins the network in real time only: lockstep runs faster than the clock",
            );
        }
        if self.units > 1 && !(sim && lockstep) {
            return refuse("several units side by side run in lockstep simulation only");
        }
        if !(1..=MAX_UNITS).contains(&self.units) {
            return refuse("a session has 1 to 1024 units");
        }
        if !(self.measure_after_s.is_finite() && self.measure_after_s >= 0.0) {
            return refuse("measure_after_s must be a finite time ≥ 0");
        }
        let endless_policy = matches!(&self.drive, Drive::Policy(run) if run.seconds.is_none());
        if self.stop_after_s.is_none()
            && (endless_policy || matches!(self.drive, Drive::Hold | Drive::Off | Drive::Motion))
        {
            return refuse(
                "holding, drives off, the benchmark motion and a policy without seconds never end: give the session a length (stop_after_s)",
            );
        }
        if let Some(s) = self.stop_after_s.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(RuntimeError::Invalid(format!(
                "a session's length must be positive and finite, not {s:e} s"
            )));
        }
        Ok(())
    }

    /// The backend, with the simulator in the task's scene when its file gives one
    /// (`[environment]`): a scenario's scene and a task's cannot both be given.
    fn scene_backend(
        &self,
        observer: &mut dyn Observer,
    ) -> Result<std::borrow::Cow<'_, Backend>, RuntimeError> {
        let task = match &self.drive {
            Drive::Task(task) => task,
            Drive::Demonstrate(demo) => &demo.task,
            _ => return Ok(std::borrow::Cow::Borrowed(&self.backend)),
        };
        let jitter = task.start.jitter_rad;
        if task.environment.is_none() && task.cameras.is_empty() && jitter == 0.0 {
            return Ok(std::borrow::Cow::Borrowed(&self.backend));
        }
        let file = task.source.file.display();
        match &self.backend {
            Backend::Simulator(sim) => {
                let mut sim = sim.clone();
                sim.start_jitter_rad = jitter;
                if let Some(environment) = &task.environment {
                    if sim.environment != Environment::default() {
                        return Err(RuntimeError::Invalid(format!(
                            "{file}: the task gives the scene ([environment]) and so does the simulator's scenario: give it in one of them"
                        )));
                    }
                    sim.environment = environment.clone();
                }
                for camera in &task.cameras {
                    if sim.cameras.iter().any(|c| c.name == camera.name) {
                        return Err(RuntimeError::Invalid(format!(
                            "{file}: camera '{}' is in the task and in the scenario: name them apart",
                            camera.name
                        )));
                    }
                    sim.cameras.push(camera.clone());
                }
                Ok(std::borrow::Cow::Owned(Backend::Simulator(sim)))
            }
            _ => {
                observer.note("the task's [environment] and [[cameras]] are the simulator's: this robot does not see them, and the steps that wait on the scene's objects are skipped");
                Ok(std::borrow::Cow::Borrowed(&self.backend))
            }
        }
    }

    /// Builds the session and runs it to its end. See the module docs.
    pub fn run(&self, observer: &mut dyn Observer) -> Result<Report, RuntimeError> {
        self.check()?;
        let name = self.robot_name();
        let model = backend::model_for(&self.backend, &name, self.floating_base)?;
        let mut control = self
            .control
            .clone()
            .unwrap_or_else(|| default_control(&model));
        if let Backend::Wire(wire) = &self.backend {
            if let Some(unit) = &wire.unit {
                unit_control(&mut control, &unit.config.control);
            }
            if let Some(ms) = wire.sensor_timeout_ms {
                if let Some(why) = embody_fleet::check::sensor_timeout_problem(ms, control.rate_hz)
                {
                    return Err(RuntimeError::Invalid(format!("sensor timeout {why}")));
                }
                control.set_sensor_timeout(ms);
            }
        }
        self.drive.adjust(&mut control);
        // A loop pinned to a CPU has it to itself: everything started from here on (the
        // cameras, the recorder, the loop's helpers) starts elsewhere.
        let _reserved = match self.pacing {
            Pacing::Realtime(RtConfig { cpu: Some(cpu), .. }) => {
                embody_hal::thread::reserve_cpu(cpu)
                    .inspect_err(|e| {
                        observer.note(&format!("CPU {cpu} not kept for the loop: {e}"))
                    })
                    .ok()
            }
            _ => None,
        };
        let backend = self.scene_backend(observer)?;
        let opened = backend::open(
            &backend,
            model,
            &name,
            control.rate_hz,
            self.seed,
            self.units,
        )?;
        for note in &opened.notes {
            observer.note(note);
        }
        match self.pacing {
            Pacing::Lockstep => crate::run_lockstep::run(self, opened, control, observer),
            Pacing::Realtime(rt) => crate::realtime::run(self, opened, control, rt, observer),
        }
    }
}

/// The loop settings for `model`: the defaults, with joint PD stiff enough to hold a
/// floating-base robot up as an inverted pendulum on its ankles.
pub fn default_control(model: &Model) -> ControlConfig {
    let mut config = ControlConfig::default();
    if model.free_flyer().is_some() {
        stiff_joint_pd(&mut config);
    }
    config
}

/// `control` with a unit's own settings: its loop rate and, where set, its sensor timeout —
/// for joint states that stop changing and for reads that bring nothing new (link errors
/// counted in ticks), so that neither faults before the other.
fn unit_control(control: &mut ControlConfig, unit: &embody_fleet::config::Control) {
    control.rate_hz = unit.rate_hz;
    if let Some(ms) = unit.sensor_timeout_ms {
        control.set_sensor_timeout(ms);
    }
}

/// Joint PD stiff enough to hold a humanoid up as an inverted pendulum on its ankles
/// (20 and 0.6 per N·m of effort limit).
pub fn stiff_joint_pd(config: &mut ControlConfig) {
    config.joint_pd.kp_per_effort = 20.0;
    config.joint_pd.kd_per_effort = 0.6;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_sets_the_loop_rate_and_only_a_sensor_timeout_it_names() {
        let mut unit = embody_fleet::config::Control {
            rate_hz: 500.0,
            watchdog_ms: 50,
            damping_ms: 1000,
            sensor_timeout_ms: None,
        };
        let mut control = ControlConfig::default();
        unit_control(&mut control, &unit);
        assert_eq!(control.rate_hz, 500.0);
        assert_eq!(control.estimator.health.joint_timeout_ms, 5.0);
        assert_eq!(control.safety.link_error_ticks, 5);
        unit.sensor_timeout_ms = Some(40.0);
        unit_control(&mut control, &unit);
        assert_eq!(control.estimator.health.joint_timeout_ms, 40.0);
        // 40 ms at 500 Hz: 20 reads in a row may bring nothing.
        assert_eq!(control.safety.link_error_ticks, 20);
    }
}
