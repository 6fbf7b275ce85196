//! `embody config check|show <unit>`: a unit's configuration merged from its layers
//! (fleet → robot → unit → calibration) and checked against its robot, every problem
//! with its file, key and reason.

use std::path::PathBuf;

use clap::Subcommand;
use embody_fleet::{check, config};

/// The `config` subcommands.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a unit's merged configuration; every problem with file, key and reason.
    Check {
        /// The unit's serial number (`units/<serial>.toml`).
        unit: String,
        /// The fleet directory.
        #[arg(long, default_value = "examples/fleet")]
        dir: PathBuf,
    },
    /// Print a unit's merged configuration (after checking it).
    Show {
        /// The unit's serial number.
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
}

fn report(problems: &[config::Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    format!(
        "{} problem{}:\n{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        lines.join("\n")
    )
}

/// Loads and checks a unit: its layers and configuration, or every problem.
fn checked(
    dir: &std::path::Path,
    unit: &str,
) -> Result<(config::Layers, config::UnitConfig), String> {
    let (layers, unit_config) = config::load(dir, unit).map_err(|p| report(&p))?;
    let problems = check::check(&layers, &unit_config);
    if problems.is_empty() {
        Ok((layers, unit_config))
    } else {
        Err(report(&problems))
    }
}

/// Runs a `config` subcommand.
pub fn run(command: ConfigCommand) -> Result<(), String> {
    match command {
        ConfigCommand::Check { unit, dir } => {
            let (layers, config) = checked(&dir, &unit)?;
            let used: Vec<String> = layers
                .files
                .iter()
                .filter(|f| f.exists())
                .map(|f| f.display().to_string())
                .collect();
            println!(
                "{unit}: good ({} actuators, {} calibrated joints; from {})",
                config.actuators.len(),
                config.calibration.joints.len(),
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
            let (layers, config) = checked(&dir, &unit)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", toml::to_string(&config).map_err(|e| e.to_string())?);
            }
            if sources {
                eprintln!("# where each key was set:");
                for (key, file) in &layers.sources {
                    eprintln!("#   {key} = {}", file.display());
                }
            }
            Ok(())
        }
    }
}
