//! `embody fleet rerun`: every unit of a fleet in one Rerun recording, as the operators'
//! view receives it — each unit's robot posed from its state and laid out on a grid, its
//! joint positions and how fast and how far off its joints are as series, its events as
//! text (faults as warnings) — on the units' own clocks (`wall_time`), downsampled to a
//! few states a second per unit so a thousand units stay viewable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use embody_model::Model;
use embody_net::wire::EventKind;
use embody_net::{Fleet, UnitView};
use embody_viz::{Clock, Recorder, RecordingStream, Sink, VizConfig};

use crate::error::RuntimeError;

/// How a fleet is recorded.
#[derive(Clone, Debug)]
pub struct FleetRerun {
    /// Where the recording goes.
    pub sink: Sink,
    /// States recorded a second per unit, at most (default 10).
    pub hz: f64,
    /// Distance between neighbouring units on the grid (m, default 1.5).
    pub spacing_m: f64,
}

impl FleetRerun {
    /// The defaults, into `sink`.
    pub fn new(sink: Sink) -> FleetRerun {
        FleetRerun {
            sink,
            hz: 10.0,
            spacing_m: 1.5,
        }
    }
}

/// What a fleet recording took in so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetRerunStats {
    /// Units recorded.
    pub units: usize,
    /// States recorded, over all units.
    pub states: u64,
    /// Events recorded, over all units.
    pub events: u64,
    /// Units not drawn, with the robot each said it is (not a built-in robot, nor a
    /// URDF file here).
    pub unknown: Vec<(String, String)>,
}

/// Units a row of the grid holds.
const GRID_COLUMNS: usize = 32;

/// How often units not yet placed are asked what robot they are.
const ASK_EVERY: Duration = Duration::from_secs(3);

/// One unit in the recording.
struct Drawn {
    recorder: Recorder,
    last_seq: Option<u64>,
    events: usize,
}

/// Records `fleet` as `config` says until `stop` says so; `progress` hears how far it
/// came about once a second.
pub fn record_fleet(
    fleet: &Fleet,
    config: &FleetRerun,
    stop: &mut dyn FnMut() -> bool,
    progress: &mut dyn FnMut(&FleetRerunStats),
) -> Result<FleetRerunStats, RuntimeError> {
    if !(config.hz > 0.0 && config.hz <= 1000.0) {
        return Err(RuntimeError::Invalid(format!(
            "{} states a second per unit: expected more than 0, at most 1000",
            config.hz
        )));
    }
    let watch = fleet.watch()?;
    let stream = embody_viz::open(&config.sink)?;
    let mut drawn: HashMap<String, Drawn> = HashMap::new();
    // Each unit's robot, as it says; each robot's model (none: not known here).
    let mut robots: HashMap<String, String> = HashMap::new();
    let mut models: HashMap<String, Option<Model>> = HashMap::new();
    let mut stats = FleetRerunStats::default();
    let mut asked: Option<Instant> = None;
    let mut told = Instant::now();
    let period = Duration::from_secs_f64(1.0 / config.hz);
    let mut next = Instant::now();
    while !stop() {
        let mut unplaced = false;
        let mut result = Ok(());
        watch.each(|name, view| {
            if result.is_err() || view.state.is_none() {
                return;
            }
            if !drawn.contains_key(name) {
                let Some(robot) = robots.get(name) else {
                    unplaced = true;
                    return;
                };
                let model = models
                    .entry(robot.clone())
                    .or_insert_with(|| embody_model::robots::load(robot, None).ok());
                let Some(model) = model else {
                    if !stats.unknown.iter().any(|(u, _)| u == name) {
                        stats.unknown.push((name.to_owned(), robot.clone()));
                    }
                    return;
                };
                match place(name, model, drawn.len(), config, &stream) {
                    Ok(unit) => drawn.insert(name.to_owned(), unit),
                    Err(e) => {
                        result = Err(e);
                        return;
                    }
                };
            }
            if let Some(unit) = drawn.get_mut(name) {
                result = draw(unit, view, &mut stats);
            }
        });
        result?;
        stats.units = drawn.len();
        if unplaced && asked.is_none_or(|t| t.elapsed() >= ASK_EVERY) {
            asked = Some(Instant::now());
            let (statuses, _) = fleet.status(Duration::from_secs(1))?;
            for status in statuses {
                robots.insert(status.unit, status.info.robot);
            }
        }
        if told.elapsed() >= Duration::from_secs(1) {
            told = Instant::now();
            progress(&stats);
        }
        next += period;
        match next.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => next = Instant::now(), // behind: never accumulate
        }
    }
    for (_, unit) in drawn {
        unit.recorder.finish()?;
    }
    Ok(stats)
}

/// A recorder for unit `name` of `model` into `stream`, the `k`th placed.
fn place(
    name: &str,
    model: &Model,
    k: usize,
    config: &FleetRerun,
    stream: &RecordingStream,
) -> Result<Drawn, RuntimeError> {
    let mut viz = VizConfig::new(config.sink.clone(), name);
    viz.clock = Clock::Unix;
    let (column, row) = (k % GRID_COLUMNS, k / GRID_COLUMNS);
    viz.origin = [
        config.spacing_m * column as f64,
        config.spacing_m * row as f64,
        0.0,
    ];
    Ok(Drawn {
        recorder: Recorder::on(stream.clone(), viz, model)?,
        last_seq: None,
        events: 0,
    })
}

/// Records what is new of a unit: its latest state (when it changed) and its events.
fn draw(
    unit: &mut Drawn,
    view: &UnitView,
    stats: &mut FleetRerunStats,
) -> Result<(), RuntimeError> {
    let recorder = &mut unit.recorder;
    for event in view.events.iter().skip(unit.events) {
        let text = match &event.operator {
            Some(operator) if !event.text.contains(operator.as_str()) => {
                format!("{} (by {operator})", event.text)
            }
            _ => event.text.clone(),
        };
        let warning = event.kind == EventKind::Fault;
        recorder.event(event.stamp_ns as f64 * 1e-9, &text, warning)?;
        stats.events += 1;
    }
    unit.events = view.events.len();
    let Some(state) = &view.state else {
        return Ok(());
    };
    if unit.last_seq == Some(state.seq) {
        return Ok(());
    }
    unit.last_seq = Some(state.seq);
    let t_s = state.stamp_ns as f64 * 1e-9;
    let q: Vec<f64> = state.joints.q.iter().map(|&x| f64::from(x)).collect();
    recorder.posture(t_s, &q, state.base_pose.map(f64::from))?;
    recorder.series(t_s, "joints/q", &q)?;
    let joints = &state.joints;
    for (path, value) in [
        ("joints/max_speed", joints.max_speed),
        ("joints/max_error", joints.max_error),
        ("joints/max_torque", joints.max_torque),
    ] {
        recorder.series(t_s, path, &[f64::from(value)])?;
    }
    stats.states += 1;
    Ok(())
}
