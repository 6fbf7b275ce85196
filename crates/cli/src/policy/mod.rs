//! `embody policy info|check`: a policy package read, checked against its robot and its
//! network (`embody_policy`), and described: joints, rate, each input's terms and where
//! they land, the graph's inputs and outputs, the action.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use embody_runtime::RuntimeError;
use embody_runtime::policy::Package;
use embody_runtime::policy::engine::{Engine, TensorSpec};
use embody_runtime::policy::package::robot_for;

use crate::error::Result;

mod eval;
mod run;

/// The `policy` subcommands.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Describe a package: its joints, rate, observation layout, network and action.
    Info(PackageArgs),
    /// Check a package against its robot and its network; exit non-zero with every
    /// problem located (`policy.toml: key: reason`).
    Check(PackageArgs),
    /// Run a package on its robot: in simulation from the manifest's start state
    /// (lockstep, or `--realtime`), or on the wire (`--port`, `--unit`).
    Run(Box<run::RunArgs>),
    /// Time a package's step (observation, inference, action) on tract.
    Bench(BenchArgs),
    /// Run the episodes a package defines in simulation and score them by its success
    /// test.
    Eval(eval::EvalArgs),
    /// Record a task (the expert) in a package's observation and action space, for
    /// behaviour cloning.
    Demonstrate(eval::DemonstrateArgs),
}

/// Arguments of `embody policy bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The package directory.
    package: PathBuf,
    /// Steps timed (after 100 of warm-up).
    #[arg(long, default_value_t = 2000, value_parser = crate::numbers::count::<usize>(10..=1_000_000))]
    steps: usize,
    /// Instead: run the package this long (s) in real time in simulation beside its
    /// robot's 1 kHz loop, and the loop as long without it; steps on time, and the
    /// loop's overruns in each run.
    #[arg(long, value_name = "SECONDS", value_parser = crate::numbers::float(1.0..=600.0, " s"))]
    beside_loop: Option<f64>,
    /// The loop thread's SCHED_FIFO priority (1–99) with --beside-loop.
    #[arg(long, requires = "beside_loop", value_parser = clap::value_parser!(i32).range(1..=99))]
    priority: Option<i32>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A package and the robot to check it against.
#[derive(Args, Debug)]
pub struct PackageArgs {
    /// The package directory (`policy.toml`, `model.onnx`).
    package: PathBuf,
    /// The robot (built-in name or URDF path); default the manifest's.
    #[arg(long)]
    robot: Option<String>,
    /// Override whether the robot's base floats.
    #[arg(long)]
    floating_base: Option<bool>,
}

/// Runs a `policy` subcommand.
pub fn run(command: PolicyCommand) -> Result {
    let (args, describe) = match command {
        PolicyCommand::Info(args) => (args, true),
        PolicyCommand::Check(args) => (args, false),
        PolicyCommand::Run(args) => return run::run(&args),
        PolicyCommand::Bench(args) => return bench(&args),
        PolicyCommand::Eval(args) => return eval::eval(&args),
        PolicyCommand::Demonstrate(args) => return eval::demonstrate(&args),
    };
    let model = robot_for(&args.package, args.robot.as_deref(), args.floating_base)
        .map_err(RuntimeError::from)?;
    let package = Package::load(&args.package, &model).map_err(RuntimeError::from)?;
    let engine = package.tract().map_err(RuntimeError::from)?;
    if describe {
        print_info(&package, &engine, &model.name);
    }
    println!(
        "{}: {} checked against {} and its network ({} on {})",
        args.package.display(),
        package.manifest.name,
        model.name,
        package.onnx_path().display(),
        engine.name()
    );
    Ok(())
}

fn bench(args: &BenchArgs) -> Result {
    if let Some(seconds) = args.beside_loop {
        let rt = embody_control::RtConfig {
            priority: args.priority,
            ..embody_control::RtConfig::default()
        };
        let f = embody_runtime::bench::policy::beside_loop(&args.package, seconds, rt)?;
        if args.json {
            println!("{}", serde_json::json!(f));
            return Ok(());
        }
        println!(
            "{} at {} Hz beside the loop for {} s: {} steps, {:.2} % on time ({} late, {} skipped); latency p50 {:.1} µs, p99 {:.1} µs",
            f.policy,
            f.rate_hz,
            f.seconds,
            f.steps,
            f.on_time * 100.0,
            f.late,
            f.skipped,
            f.latency_p50_us,
            f.latency_p99_us
        );
        for (what, l) in [("holding", &f.holding), ("with the policy", &f.with_policy)] {
            println!(
                "loop {what:>15}: {} ticks, {} overruns, {} missed deadlines; jitter p99 {:.1} µs, compute p99 {:.1} µs",
                l.ticks, l.overruns, l.missed_deadlines, l.jitter_p99_us, l.compute_p99_us
            );
        }
        if let Some(fault) = f.faults.first() {
            return Err(crate::error::CliError::Failed(format!(
                "the loop faulted, so the runs ended early: {fault}"
            )));
        }
        return Ok(());
    }
    let f = embody_runtime::bench::policy::run(&args.package, args.steps)?;
    if args.json {
        println!("{}", serde_json::json!(f));
    } else {
        println!(
            "{} on {} ({} inputs): step {:.1} µs median, {:.1} µs p99; inference alone {:.1} µs median ({} steps)",
            f.policy, f.engine, f.inputs, f.step_us, f.step_p99_us, f.inference_us, f.steps
        );
        if let Some(ort) = f.onnxruntime_us {
            println!(
                "onnxruntime in process: inference {ort:.1} µs median; tract / onnxruntime = {:.2}",
                f.inference_us / ort
            );
        }
    }
    Ok(())
}

/// A manifest's enum value as the manifest spells it (`joint_pos`, `position`).
fn snake(value: impl std::fmt::Debug) -> String {
    let text = format!("{value:?}");
    let mut out = String::new();
    for (k, c) in text.chars().enumerate() {
        if c.is_uppercase() && k > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn print_info(package: &Package, engine: &dyn Engine, robot: &str) {
    let m = &package.manifest;
    println!("policy {} for {robot} at {} Hz", m.name, m.rate_hz);
    println!("joints (policy order): {}", m.joints.join(", "));
    for (i, input) in m.inputs.iter().enumerate() {
        println!("input {} {:?}:", input.name, m.input_shape(i));
        for (t, kind, start, len) in m.layout(i) {
            let history = input.terms[t].history;
            let history = if history > 1 {
                format!(" ({history} steps, oldest first)")
            } else {
                String::new()
            };
            println!(
                "  [{start:>4}..{:>4})  {}{history}",
                start + len,
                snake(kind)
            );
        }
    }
    for pair in &m.recurrent {
        println!("recurrent: {} <- {}", pair.input, pair.output);
    }
    println!("network inputs:  {}", list(engine.inputs()));
    println!("network outputs: {}", list(engine.outputs()));
    let a = &m.action;
    let chunk = a.chunk.as_ref().map_or(String::new(), |c| {
        format!(
            ", chunks of {} ({} per inference, blend {})",
            c.length,
            a.steps_per_inference(),
            snake(c.blend)
        )
    });
    println!("action: {} targets from {}{chunk}", snake(a.kind), a.output);
}

fn list(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
