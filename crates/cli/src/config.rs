//! `embody config check|show|diff|apply|init`: a unit's configuration merged from its
//! layers (fleet → robot → unit → calibration) and checked against its robot, every
//! problem with its file, key and reason; compared with the record on the unit's bridge
//! and stored there; and a robot's generated actuator map written out to start from.

use std::path::PathBuf;

use clap::Subcommand;
use embody_fleet::defaults::MitVariant;
use embody_fleet::defaults::{self, DefaultMap};
use embody_fleet::record::Change;
use embody_fleet::{Unit, name};
use embody_model::robots;

use crate::error::{CliError, Result};
use crate::numbers::float;

/// The `config` subcommands.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a unit's merged configuration; every problem with file, key and reason.
    Check {
        /// The unit's serial number (`units/<serial>.toml`).
        #[arg(value_parser = name::parse_serial)]
        unit: String,
        /// The fleet directory.
        #[arg(long, default_value = "examples/fleet")]
        dir: PathBuf,
    },
    /// Print a unit's merged configuration (after checking it).
    Show {
        /// The unit's serial number.
        #[arg(value_parser = name::parse_serial)]
        unit: String,
        /// The fleet directory.
        #[arg(long, default_value = "examples/fleet")]
        dir: PathBuf,
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
        /// Say which file set each key.
        #[arg(long)]
        sources: bool,
    },
    /// Show what `apply` would change on the unit (its bridge's record), key by key.
    Diff(UnitPort),
    /// Store the unit's configuration record (calibration included) on its bridge.
    Apply(UnitPort),
    /// Write a robot's generated actuator map (`robots/<robot>.toml`) to edit.
    Init {
        /// Built-in robot or URDF path.
        #[arg(long)]
        robot: String,
        /// Every motor's protocol variant.
        #[arg(long, value_enum, default_value_t = VariantArg::Classic)]
        variant: VariantArg,
        /// Control rate the buses are laid out for (Hz).
        #[arg(long, default_value_t = 1000.0, value_parser = float(100.0..=10_000.0, " Hz"))]
        rate: f64,
        /// The fleet directory.
        #[arg(long, default_value = "examples/fleet")]
        dir: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// A protocol variant on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantArg {
    /// CubeMars AK and compatible.
    Classic,
    /// DaMiao.
    Damiao,
    /// Robstride.
    Robstride,
}

/// A unit and where its bridge is.
#[derive(clap::Args, Debug)]
pub struct UnitPort {
    /// The unit's serial number.
    #[arg(value_parser = name::parse_serial)]
    unit: String,
    /// The fleet directory.
    #[arg(long, default_value = "examples/fleet")]
    dir: PathBuf,
    /// The bridge's serial port (default: the unit's `port`).
    #[arg(long)]
    port: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn print_changes(changes: &[Change], json: bool, applied: bool) {
    if json {
        let list: Vec<_> = changes
            .iter()
            .map(|c| serde_json::json!({"key": c.key, "on_unit": c.on_unit, "applied": c.applied}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"applied": applied, "changes": list})
        );
        return;
    }
    for c in changes {
        println!("{}: {} → {}", c.key, c.on_unit, c.applied);
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn diff_or_apply(args: &UnitPort, apply: bool) -> Result {
    let unit = Unit::load(&args.dir, &args.unit)?;
    let port = unit.port(args.port.as_deref())?;
    let changes = if apply {
        unit.apply(&port)?
    } else {
        unit.diff(&port)?
    };
    print_changes(&changes, args.json, apply && !changes.is_empty());
    let n = changes.len();
    match (n, apply) {
        (0, _) => eprintln!("{}: the unit holds this configuration already", args.unit),
        (_, false) => eprintln!(
            "{}: {n} change{} (`embody config apply` stores them)",
            args.unit,
            plural(n)
        ),
        (_, true) => eprintln!(
            "{}: stored on {} ({n} change{}); the bridge applies its calibration from the next connection",
            args.unit,
            port.display(),
            plural(n)
        ),
    }
    Ok(())
}

fn init(robot: &str, map: &DefaultMap, dir: &std::path::Path, force: bool) -> Result {
    let path = embody_fleet::config::robot_file(dir, robot)
        .map_err(|e| CliError::Usage(format!("--robot {robot}: {e}")))?;
    let model = robots::load(robot, Some(false))?;
    defaults::write_robot_file(&path, &model, robot, map, force)?;
    println!(
        "wrote {}: {}",
        path.display(),
        defaults::describe(&model, map)
    );
    Ok(())
}

/// Runs a `config` subcommand.
pub fn run(command: ConfigCommand) -> Result {
    match command {
        ConfigCommand::Check { unit, dir } => {
            let unit = Unit::load(&dir, &unit)?;
            let used: Vec<String> = (unit.layers.files.iter())
                .filter(|f| f.exists())
                .map(|f| f.display().to_string())
                .collect();
            println!(
                "{}: good ({} actuators, {} calibrated joints; from {})",
                unit.serial(),
                unit.config.actuators.len(),
                unit.config.calibration.joints.len(),
                used.join(", ")
            );
            Ok(())
        }
        ConfigCommand::Show {
            unit,
            dir,
            json,
            sources,
        } => {
            let unit = Unit::load(&dir, &unit)?;
            if json {
                println!("{:#}", serde_json::json!(unit.config));
            } else {
                let text =
                    toml::to_string(&unit.config).map_err(|e| CliError::Failed(e.to_string()))?;
                print!("{text}");
            }
            if sources {
                eprintln!("# where each key was set:");
                for (key, file) in &unit.layers.sources {
                    eprintln!("#   {key} = {}", file.display());
                }
            }
            Ok(())
        }
        ConfigCommand::Diff(args) => diff_or_apply(&args, false),
        ConfigCommand::Apply(args) => diff_or_apply(&args, true),
        ConfigCommand::Init {
            robot,
            variant,
            rate,
            dir,
            force,
        } => {
            let map = DefaultMap {
                variant: match variant {
                    VariantArg::Classic => MitVariant::Classic,
                    VariantArg::Damiao => MitVariant::DaMiao,
                    VariantArg::Robstride => MitVariant::Robstride,
                },
                rate_hz: rate,
                ..DefaultMap::default()
            };
            init(&robot, &map, &dir, force)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::ConfigCommand;

    #[derive(Parser, Debug)]
    struct Config {
        #[command(subcommand)]
        command: ConfigCommand,
    }

    #[test]
    fn serial_argument_with_a_path_is_refused() {
        for args in [
            ["config", "check", "../robots/arm7"],
            ["config", "show", "a/b"],
            ["config", "apply", ".hidden"],
        ] {
            let e = Config::try_parse_from(args).expect_err("refused");
            let text = e.to_string();
            assert!(text.contains("cannot be a unit serial"), "{text}");
            assert!(text.contains("<UNIT>"), "names the argument: {text}");
        }
        assert!(Config::try_parse_from(["config", "check", "ARM-0001"]).is_ok());
    }
}
