//! `embody model info|eval|bench`: the robot model as the user sees it.

use clap::{Args, Subcommand};
use embody_model::{MimicMode, Model, robots};

mod bench;
mod eval;
mod info;

/// The `model` subcommands.
#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Print the joint layout (nq, nv, each joint's indices and limits), links and frames.
    Info {
        #[command(flatten)]
        robot: RobotArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate RNEA, ABA, CRBA and all frame placements on states read from a JSON file.
    Eval {
        #[command(flatten)]
        robot: RobotArg,
        /// JSON file `{"states":[{"q":[..],"v":[..],"a":[..],"tau":[..]}]}` (v, a, tau default to zero).
        #[arg(long)]
        input: std::path::PathBuf,
    },
    /// Median time per call of FK, all Jacobians, RNEA, ABA and CRBA on random valid states.
    Bench(bench::BenchArgs),
}

/// Which robot: a built-in name or a URDF path.
#[derive(Args, Debug, Clone)]
pub struct RobotArg {
    /// Built-in robot (arm7, humanoid, so101) or path to a URDF file.
    #[arg(default_value = "arm7")]
    pub robot: String,
    /// Put the robot on a floating base (free-flyer root joint). Built-in robots use their own.
    #[arg(long)]
    pub floating_base: bool,
    /// Mimic joints follow their master (`coupled`) or get their own coordinates
    /// (`independent`, Pinocchio's default).
    #[arg(long, value_enum, default_value_t = Mimic::Coupled)]
    pub mimic: Mimic,
}

/// Treatment of URDF mimic joints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mimic {
    /// Follow the master joint.
    Coupled,
    /// Own coordinates.
    Independent,
}

impl RobotArg {
    /// Loads the model.
    pub fn load(&self) -> crate::error::Result<Model> {
        let mimic = match self.mimic {
            Mimic::Coupled => MimicMode::Coupled,
            Mimic::Independent => MimicMode::Independent,
        };
        Ok(robots::load_with(
            &self.robot,
            self.floating_base.then_some(true),
            mimic,
        )?)
    }
}

/// Runs a `model` subcommand.
pub fn run(command: ModelCommand) -> crate::error::Result {
    match command {
        ModelCommand::Info { robot, json } => info::run(&robot.load()?, json),
        ModelCommand::Eval { robot, input } => eval::run(&robot.load()?, &input),
        ModelCommand::Bench(args) => bench::run(&args),
    }
}

/// A finite number as JSON, `null` for infinities (JSON has none).
pub fn finite_or_null(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}
