//! A unit serving a library: joined to the site's network, it waits, idle with its drives
//! off, for operators' commands, and runs the task or policy they name from its library
//! (`<library>/tasks/<name>.toml`, `<library>/policies/<name>/`) as a real-time session
//! on the same link — held, resumed, e-stopped or cancelled like any joined session —
//! then waits again. Each run's end is an event; an e-stop while idle keeps every run
//! from starting until it is cleared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use embody_control::Lifecycle;
use embody_net::wire::{Activity, EventKind, UnitState, unix_ns};
use embody_net::{Command, Outcome, UnitLinkConfig};
use embody_planner::Status;

use crate::drive::Drive;
use crate::error::RuntimeError;
use crate::policy_driver::PolicyRun;
use crate::session::{Observer, Session};
use crate::task::Task;
use crate::uplink::SharedLink;

/// What a unit may run: tasks and policy packages by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Library {
    /// Task files by name (the file's stem).
    pub tasks: BTreeMap<String, PathBuf>,
    /// Policy packages by name (the directory's).
    pub policies: BTreeMap<String, PathBuf>,
}

impl Library {
    /// The tasks in `dir/tasks/*.toml` and the policy packages in `dir/policies/*/`;
    /// a library with neither is refused.
    pub fn load(dir: &Path) -> Result<Library, RuntimeError> {
        let entries = |sub: &str| -> Result<Vec<PathBuf>, RuntimeError> {
            let path = dir.join(sub);
            if !path.exists() {
                return Ok(Vec::new());
            }
            let io = |source| RuntimeError::Io {
                path: path.clone(),
                source,
            };
            let mut found = Vec::new();
            for entry in std::fs::read_dir(&path).map_err(io)? {
                found.push(entry.map_err(io)?.path());
            }
            found.sort();
            Ok(found)
        };
        let name = |path: &Path| path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let tasks = (entries("tasks")?.into_iter())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter_map(|p| Some((name(&p)?, p)))
            .collect();
        let policies = (entries("policies")?.into_iter())
            .filter(|p| p.is_dir())
            .filter_map(|p| Some((name(&p)?, p)))
            .collect();
        let library = Library { tasks, policies };
        if library.tasks.is_empty() && library.policies.is_empty() {
            return Err(RuntimeError::Invalid(format!(
                "{}: no tasks (tasks/*.toml) and no policies (policies/<name>/) to serve",
                dir.display()
            )));
        }
        Ok(library)
    }
}

/// What a serving unit ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Served {
    /// Each run: what (`task pick_and_place`), and how it ended.
    pub runs: Vec<(String, String)>,
}

/// Serves `library` on the network as `config` says until `stop` holds: each run is
/// `base` (real time) driven by what an operator named.
pub fn serve(
    base: &Session,
    library: &Library,
    config: &UnitLinkConfig,
    stop: &dyn Fn() -> bool,
    observer: &mut dyn Observer,
) -> Result<Served, RuntimeError> {
    let model = crate::backend::model_for(&base.backend, &base.robot_name(), base.floating_base)?;
    let shared = SharedLink::open(config, &model)?;
    let link = &shared.link;
    let period = Duration::from_secs_f64(1.0 / config.rate_hz);
    let mut estop = false;
    let mut served = Served::default();
    observer.note(&format!(
        "unit {} serving {} tasks and {} policies; waiting for commands",
        config.unit,
        library.tasks.len(),
        library.policies.len()
    ));
    while !stop() {
        link.offer_state(UnitState {
            stamp_ns: unix_ns(),
            lifecycle: Lifecycle::Idle,
            fault: estop.then(|| "e_stop".to_owned()),
            activity: Activity::default(),
            ..UnitState::default()
        });
        for request in link.commands() {
            let (outcome, detail, run) = take(&request.message.command, library, &mut estop);
            link.ack(request.id, outcome, detail, Lifecycle::Idle);
            let Some((what, drive)) = run else {
                continue;
            };
            let session = Session {
                drive,
                link: Some(shared.clone()),
                ..base.clone()
            };
            let how = match session.run(observer) {
                Ok(report) => ended(&report),
                Err(e) => format!("failed: {e}"),
            };
            link.event(EventKind::Step, format!("{what}: {how}"), None);
            observer.note(&format!("{what}: {how}"));
            served.runs.push((what, how));
        }
        std::thread::sleep(period);
    }
    drop(shared);
    Ok(served)
}

/// Carries out a command taken while idle: the acknowledgement, and the run to start.
fn take(
    command: &Command,
    library: &Library,
    estop: &mut bool,
) -> (Outcome, String, Option<(String, Drive)>) {
    let refused = |why: &str| (Outcome::Refused, why.to_owned(), None);
    match command {
        Command::RunTask { .. } | Command::RunPolicy { .. } if *estop => {
            refused("the e-stop is pressed: clear it first")
        }
        Command::RunTask { name } => match library.tasks.get(name) {
            None => refused(&format!(
                "no task '{name}' here (it has {})",
                names(&library.tasks)
            )),
            Some(path) => match Task::load(path) {
                Ok(task) => (
                    Outcome::Done,
                    format!("task {name} started"),
                    Some((format!("task {name}"), Drive::Task(task))),
                ),
                Err(e) => (Outcome::Failed, e.to_string(), None),
            },
        },
        Command::RunPolicy { name, values } => match library.policies.get(name) {
            None => refused(&format!(
                "no policy '{name}' here (it has {})",
                names(&library.policies)
            )),
            Some(_) if values.values().any(|v| !v.is_finite()) => {
                refused("command values are finite numbers")
            }
            Some(package) => match embody_policy::observe::Command::from_values(values) {
                Err(key) => refused(&format!(
                    "command {key}: not a command ({})",
                    embody_policy::observe::COMMAND_KEYS.join(", ")
                )),
                Ok(_) => {
                    let run = PolicyRun {
                        package: package.clone(),
                        command: values.clone().into_iter().collect(),
                        seconds: None,
                        record: None,
                        approach: true,
                    };
                    let words = Command::RunPolicy {
                        name: name.clone(),
                        values: values.clone(),
                    }
                    .words();
                    (
                        Outcome::Done,
                        format!("{words} started (until cancelled)"),
                        Some((format!("policy {name}"), Drive::Policy(run))),
                    )
                }
            },
        },
        Command::Estop => {
            *estop = true;
            (
                Outcome::Done,
                "e-stop pressed (idle: the drives are off)".into(),
                None,
            )
        }
        Command::ClearFault if *estop => {
            *estop = false;
            (Outcome::Done, "e-stop released".into(), None)
        }
        Command::ClearFault => refused("no fault to clear"),
        Command::Hold | Command::Resume | Command::Cancel => {
            refused("idle: nothing runs (send task <name> or policy <name>)")
        }
    }
}

fn names(of: &BTreeMap<String, PathBuf>) -> String {
    match of.is_empty() {
        true => "none".to_owned(),
        false => of.keys().cloned().collect::<Vec<_>>().join(", "),
    }
}

/// How a run ended, in words.
fn ended(report: &crate::Report) -> String {
    let Some(unit) = report.units.first() else {
        return "ended".to_owned();
    };
    let faults = unit.fault_reports();
    let fault = faults
        .first()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    match unit.task.as_ref().map(|t| &t.status) {
        Some(Status::Succeeded) => format!("succeeded in {:.1} s", unit.loop_s),
        Some(Status::Failed(why)) => format!("failed: {why}"),
        Some(Status::Running) => format!("stopped after {:.1} s{fault}", unit.loop_s),
        None => format!("ended after {:.1} s{fault}{}", unit.loop_s, reached(unit)),
    }
}

/// Where a reaching policy left its frame: `, tcp 0.004 m from its goal (…) at the end`.
fn reached(unit: &crate::report::UnitReport) -> String {
    let Some(r) = unit.policy.as_ref().and_then(|p| p.reach.as_ref()) else {
        return String::new();
    };
    if r.final_m.is_nan() {
        return ", before its first step".to_owned();
    }
    let [x, y, z] = r.goal;
    format!(
        ", {} {:.3} m from its goal ({x:.3}, {y:.3}, {z:.3}) at the end",
        r.frame, r.final_m
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> Library {
        Library {
            tasks: BTreeMap::new(),
            policies: [("reach".to_owned(), PathBuf::from("policies/reach"))].into(),
        }
    }

    #[test]
    fn an_operators_command_values_reach_the_policy_run() {
        let command = Command::parse("policy reach x=-0.35,y=0.05,z=0.32").expect("command");
        let (outcome, detail, run) = take(&command, &library(), &mut false);
        assert_eq!(outcome, Outcome::Done);
        assert_eq!(
            detail,
            "policy reach x=-0.35,y=0.05,z=0.32 started (until cancelled)"
        );
        let Some((_, Drive::Policy(run))) = run else {
            panic!("no policy run");
        };
        let expected = [("x", -0.35), ("y", 0.05), ("z", 0.32)];
        let expected: Vec<(String, f64)> =
            expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(run.command, expected);
        let unknown = Command::parse("policy reach w=1").expect("command");
        let (outcome, detail, run) = take(&unknown, &library(), &mut false);
        assert_eq!(outcome, Outcome::Refused);
        assert_eq!(detail, "command w: not a command (vx, vy, wz, x, y, z)");
        assert!(run.is_none());
    }
}
