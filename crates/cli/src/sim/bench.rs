//! `embody sim bench`: how many physics steps per second one thread runs
//! (`embody_runtime::bench::sim`), with or without ground contact, or in a scenario's
//! scene; with a peer simulator's figure for the same scene (`--against`), the ratio.

use std::sync::Arc;

use clap::Args;
use embody_model::robots;
use embody_runtime::bench::sim::{self, SimBench};
use embody_sim::{Integrator, Scenario};

use crate::error::Result;
use crate::numbers::{count, float};

/// Arguments of `embody sim bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Built-in robot (arm7, humanoid, so101) or path to a URDF file.
    #[arg(long, default_value = "humanoid")]
    robot: String,
    /// Put the robot on a floating base (built-in robots use their own).
    #[arg(long)]
    floating_base: bool,
    /// Ground contact (a floating-base robot stands on the ground).
    #[arg(long)]
    contacts: bool,
    /// Time this scenario's scene instead: its robot holding its initial posture among
    /// its static boxes and objects.
    #[arg(long, conflicts_with_all = ["robot", "floating_base", "contacts"])]
    scenario: Option<std::path::PathBuf>,
    /// Steps per timed batch.
    #[arg(long, default_value_t = 20_000, value_parser = count::<usize>(1..=10_000_000))]
    steps: usize,
    /// Timed batches; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = count::<usize>(1..=1000))]
    batches: usize,
    /// Physics step (s).
    #[arg(long, default_value_t = 0.002, value_parser = float(1e-6..=0.01, " s"))]
    dt: f64,
    /// Integrator.
    #[arg(long, value_enum, default_value_t = IntegratorArg::SemiImplicitEuler)]
    integrator: IntegratorArg,
    /// A peer simulator's steps/s in the same scene, `NAME=STEPS_PER_S` (repeatable;
    /// `scripts/compare_mujoco.sh` passes MuJoCo's): ours is printed as a ratio to it.
    #[arg(long, value_name = "NAME=STEPS_PER_S", value_parser = peer_rate)]
    against: Vec<(String, f64)>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Parses `NAME=STEPS_PER_S`.
fn peer_rate(text: &str) -> std::result::Result<(String, f64), String> {
    let (name, rate) =
        (text.rsplit_once('=')).ok_or_else(|| format!("`{text}` is not NAME=STEPS_PER_S"))?;
    let rate: f64 = (rate.trim().parse())
        .map_err(|_| format!("`{rate}` in `{text}` is not a number of steps per second"))?;
    if name.trim().is_empty() || !(rate.is_finite() && rate > 0.0) {
        return Err(format!(
            "`{text}`: give the peer's name and a positive steps/s"
        ));
    }
    Ok((name.trim().to_owned(), rate))
}

/// The integrator on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum IntegratorArg {
    SemiImplicitEuler,
    Rk4,
}

/// Runs `embody sim bench`.
pub fn run(args: &BenchArgs) -> Result {
    let model = robots::load(&args.robot, args.floating_base.then_some(true))?;
    let bench = SimBench {
        scenario: args.scenario.as_deref().map(Scenario::load).transpose()?,
        contacts: args.contacts,
        steps: args.steps,
        batches: args.batches,
        dt_s: args.dt,
        integrator: match args.integrator {
            IntegratorArg::SemiImplicitEuler => Integrator::SemiImplicitEuler,
            IntegratorArg::Rk4 => Integrator::Rk4,
        },
    };
    let f = sim::run(Arc::new(model), &bench)?;
    let against: Vec<_> = (args.against.iter())
        .map(|(name, rate)| {
            serde_json::json!({ "name": name, "steps_per_s": rate, "ratio": f.steps_per_s / rate })
        })
        .collect();
    if args.json {
        let mut value = serde_json::json!(f);
        value["against"] = serde_json::json!(against);
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} (nv {}, {}, {}), dt {} s, {}: {:.0} steps/s ({:.2} µs/step, {:.0}× real time), median of {} × {} steps; {:.1} contact points on average",
        f.robot,
        f.nv,
        if f.floating_base {
            "floating base"
        } else {
            "fixed base"
        },
        if f.contacts {
            "ground contact"
        } else {
            "no contact"
        },
        f.dt_s,
        f.integrator,
        f.steps_per_s,
        f.us_per_step,
        f.realtime_factor,
        f.batches,
        f.steps,
        f.mean_active_contacts,
    );
    if f.objects > 0 {
        println!(
            "{} objects, {:.1} of their contact points touching on average",
            f.objects, f.mean_object_contacts
        );
    }
    if let Some(z) = f.final_base_height_m {
        println!("base height at the end of the last batch: {z:.3} m");
    }
    for (name, rate) in &args.against {
        println!(
            "against {name}: {rate:.0} steps/s, embody {:.2}×",
            f.steps_per_s / rate
        );
    }
    Ok(())
}
