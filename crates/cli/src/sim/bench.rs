//! `embody sim bench`: how many physics steps per second one thread runs
//! (`embody_runtime::bench::sim`), with or without ground contact, or in a scenario's
//! scene.

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
    /// Built-in robot (arm7, humanoid) or path to a URDF file.
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
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
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
    if args.json {
        println!("{}", serde_json::json!(f));
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
    Ok(())
}
