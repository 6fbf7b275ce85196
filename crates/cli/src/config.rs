//! `embody config check|show|diff|apply <unit>`: a unit's configuration merged from its
//! layers (fleet → robot → unit → calibration) and checked against its robot, every
//! problem with its file, key and reason; compared with the record on the unit's bridge,
//! and stored there (in the config area firmware updates never erase).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use embody_bridge::service::Service;
use embody_fleet::{check, config, record};
use embody_protocol::messages::UnitRecord;

/// What `config apply` records as the tool that applied a configuration.
pub const TOOL: &str = concat!("embody ", env!("CARGO_PKG_VERSION"));

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
    /// Show what `apply` would change on the unit (its bridge's record).
    Diff(UnitArgs),
    /// Store the unit's configuration record (calibration included) on its bridge.
    Apply(UnitArgs),
}

/// A unit and where its bridge is.
#[derive(clap::Args, Debug)]
pub struct UnitArgs {
    /// The unit's serial number.
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

/// The unit's bridge port: `given`, else its `port` key (relative to the fleet `dir`).
pub fn port_of(
    layers: &config::Layers,
    unit_config: &config::UnitConfig,
    given: Option<&PathBuf>,
    dir: &Path,
) -> Result<PathBuf, String> {
    match (given, &unit_config.port) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some(p)) if Path::new(p).is_relative() => Ok(dir.join(p)),
        (None, Some(p)) => Ok(PathBuf::from(p)),
        (None, None) => Err(format!(
            "{}: no `port` for unit {} (or give --port)",
            layers.source("port").display(),
            unit_config.serial
        )),
    }
}

/// The unit's port, the record its configuration makes, and its joint names.
fn prepare(args: &UnitArgs) -> Result<(PathBuf, UnitRecord, Vec<String>), String> {
    let (layers, unit_config) = checked(&args.dir, &args.unit)?;
    let model = check::load_model(&layers, &unit_config).map_err(|p| p.to_string())?;
    let wanted =
        record::record_of(&layers, &unit_config, &model, TOOL).map_err(|p| p.to_string())?;
    let port = port_of(&layers, &unit_config, args.port.as_ref(), &args.dir)?;
    Ok((port, wanted, record::joint_names(&model)))
}

fn print_changes(changes: &[record::Change], json: bool, applied: bool) {
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

fn diff_or_apply(args: &UnitArgs, apply: bool) -> Result<(), String> {
    let (port, wanted, names) = prepare(args)?;
    let mut service = Service::open(&port).map_err(|e| e.to_string())?;
    let on_unit = service.unit().map_err(|e| e.to_string())?;
    let changes = record::diff(on_unit.as_ref(), &wanted, &names);
    if changes.is_empty() {
        print_changes(&changes, args.json, false);
        eprintln!("{}: the unit holds this configuration already", args.unit);
        return Ok(());
    }
    if !apply {
        print_changes(&changes, args.json, false);
        eprintln!(
            "{}: {} change{} (`embody config apply` stores them)",
            args.unit,
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        );
        return Ok(());
    }
    service.store_unit(&wanted).map_err(|e| e.to_string())?;
    // Read back: what the unit now holds is what was meant.
    let stored = service.unit().map_err(|e| e.to_string())?;
    if stored.as_ref() != Some(&wanted) {
        return Err(format!(
            "{}: the unit's record reads back different",
            args.unit
        ));
    }
    print_changes(&changes, args.json, true);
    eprintln!(
        "{}: stored on {} ({} change{}); the bridge applies its calibration from the next connection",
        args.unit,
        port.display(),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Every problem, one a line.
pub fn report(problems: &[config::Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    format!(
        "{} problem{}:\n{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        lines.join("\n")
    )
}

/// Loads and checks a unit: its layers and configuration, or every problem.
pub fn checked(
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
        ConfigCommand::Diff(args) => diff_or_apply(&args, false),
        ConfigCommand::Apply(args) => diff_or_apply(&args, true),
    }
}
