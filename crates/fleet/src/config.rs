//! Unit configuration in layers: the fleet's defaults (`fleet.toml`), the robot model's
//! (`robots/<robot>.toml`), the unit's own (`units/<serial>.toml`) and its calibration
//! (`calibration/<serial>.toml`), merged key by key in that order — a later layer wins —
//! while remembering which file set each key, so every problem is reported with its file,
//! key and reason. The merged tables must match the schema exactly (unknown keys are
//! errors); [`crate::check`] then checks the result against the robot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The control loop's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Loop rate (Hz).
    pub rate_hz: f64,
    /// Bridge watchdog: no command for this long → damping, then off (ms).
    pub watchdog_ms: u32,
    /// How long the watchdog damps the motors before it turns them off (ms). Default
    /// 1000.
    #[serde(default = "default_damping_ms")]
    pub damping_ms: u32,
}

fn default_damping_ms() -> u32 {
    1000
}

/// The CAN buses' settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Bit rate of every bus (bit/s).
    pub bitrate: u32,
}

/// The MIT protocol variant an actuator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// CubeMars AK and compatible.
    Classic,
    /// DaMiao.
    Damiao,
    /// Robstride.
    Robstride,
}

/// The full-scale ranges a motor's firmware packs its MIT fields with (`±max` for
/// position, velocity and torque; `0..max` for the gains). They must match the motor's
/// own: a command packed with other ranges means another position.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranges {
    /// Position range (rad).
    pub p_max_rad: f64,
    /// Velocity range (rad/s).
    pub v_max_radps: f64,
    /// Torque range (N·m).
    pub t_max_nm: f64,
    /// Stiffness range (N·m/rad).
    pub kp_max: f64,
    /// Damping range (N·m·s/rad).
    pub kd_max: f64,
}

/// One joint's actuator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actuator {
    /// CAN bus index.
    pub bus: u8,
    /// CAN id of the motor (1–127).
    pub can_id: u8,
    /// The id the motor sends its replies to (the host's). Default 0.
    #[serde(default)]
    pub master_id: u8,
    /// Protocol variant.
    pub variant: Variant,
    /// Rated torque (N·m): the joint's effort limit must not exceed it.
    pub torque_max_nm: f64,
    /// Rated speed (rad/s): the joint's velocity limit must not exceed it.
    pub velocity_max_radps: f64,
    /// The motor's MIT ranges.
    pub ranges: Ranges,
}

impl From<Variant> for embody_protocol::MitVariant {
    fn from(v: Variant) -> Self {
        match v {
            Variant::Classic => embody_protocol::MitVariant::Classic,
            Variant::Damiao => embody_protocol::MitVariant::DaMiao,
            Variant::Robstride => embody_protocol::MitVariant::Robstride,
        }
    }
}

impl From<embody_protocol::MitVariant> for Variant {
    fn from(v: embody_protocol::MitVariant) -> Self {
        match v {
            embody_protocol::MitVariant::Classic => Variant::Classic,
            embody_protocol::MitVariant::DaMiao => Variant::Damiao,
            embody_protocol::MitVariant::Robstride => Variant::Robstride,
        }
    }
}

/// One joint's calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointCalibration {
    /// Encoder reading at the joint's zero (rad).
    pub zero_offset_rad: f64,
    /// +1, or −1 where the motor turns against the joint.
    pub direction: i8,
}

/// A unit's calibration, as the procedure wrote it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The tool and version that wrote it.
    #[serde(default)]
    pub tool: String,
    /// SHA-256 of the joint values, as written.
    #[serde(default)]
    pub hash: String,
    /// Per joint.
    #[serde(default)]
    pub joints: BTreeMap<String, JointCalibration>,
}

/// A unit's merged configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConfig {
    /// The unit's serial number.
    pub serial: String,
    /// The robot model: a built-in name or a URDF path (relative to the fleet directory).
    pub robot: String,
    /// The serial port of the unit's bridge (what `--port` would take).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The loop.
    pub control: Control,
    /// The buses.
    pub bus: Bus,
    /// Actuators by joint name.
    pub actuators: BTreeMap<String, Actuator>,
    /// Calibration.
    #[serde(default)]
    pub calibration: Calibration,
}

/// A problem, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file that set the key (or would have to).
    pub file: PathBuf,
    /// The key, dotted (`actuators.joint3.can_id`).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
    }
}

/// The merged layers of one unit, with where each key came from.
#[derive(Clone, Debug)]
pub struct Layers {
    /// The fleet directory.
    pub dir: PathBuf,
    /// The files merged, in order.
    pub files: Vec<PathBuf>,
    /// The merged table.
    pub table: toml::Table,
    /// Dotted key → the file that set it last.
    pub sources: BTreeMap<String, PathBuf>,
}

impl Layers {
    /// The file that set `key` (or the nearest enclosing key that was set), else the
    /// unit's own file.
    pub fn source(&self, key: &str) -> PathBuf {
        let mut k = key;
        loop {
            if let Some(file) = self.sources.get(k) {
                return file.clone();
            }
            // A key with no value anywhere: the first file that set anything under it.
            let prefix = format!("{k}.");
            if let Some((_, file)) = self.sources.iter().find(|(s, _)| s.starts_with(&prefix)) {
                return file.clone();
            }
            match k.rsplit_once('.') {
                Some((parent, _)) => k = parent,
                None => return self.files.get(2).cloned().unwrap_or_default(),
            }
        }
    }

    /// The layer (0 fleet … 3 calibration) that set `key`.
    pub fn layer_of(&self, key: &str) -> usize {
        let file = self.source(key);
        self.files.iter().position(|f| *f == file).unwrap_or(0)
    }

    fn problem(&self, key: &str, reason: impl Into<String>) -> Problem {
        Problem {
            file: self.source(key),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

fn read_table(path: &Path) -> Result<Option<toml::Table>, Problem> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Problem {
                file: path.to_owned(),
                key: String::new(),
                reason: e.to_string(),
            });
        }
    };
    text.parse::<toml::Table>().map(Some).map_err(|e| Problem {
        file: path.to_owned(),
        key: String::new(),
        reason: e.to_string().trim().replace('\n', " "),
    })
}

/// Merges `layer` (from `file`) into `into`, table by table; values replace.
fn merge(
    into: &mut toml::Table,
    layer: toml::Table,
    prefix: &str,
    file: &Path,
    sources: &mut BTreeMap<String, PathBuf>,
) {
    for (key, value) in layer {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(table)) => {
                merge(existing, table, &path, file, sources);
            }
            (_, value) => {
                sources.retain(|k, _| !(k == &path || k.starts_with(&format!("{path}."))));
                record(&value, &path, file, sources);
                into.insert(key, value);
            }
        }
    }
}

fn record(value: &toml::Value, path: &str, file: &Path, sources: &mut BTreeMap<String, PathBuf>) {
    match value {
        toml::Value::Table(table) if !table.is_empty() => {
            for (k, v) in table {
                record(v, &format!("{path}.{k}"), file, sources);
            }
        }
        _ => {
            sources.insert(path.to_owned(), file.to_owned());
        }
    }
}

/// Reads and merges the layers of unit `serial` in the fleet directory `dir`.
pub fn load_layers(dir: &Path, serial: &str) -> Result<Layers, Vec<Problem>> {
    let unit_file = dir.join("units").join(format!("{serial}.toml"));
    let Some(unit) = read_table(&unit_file).map_err(|p| vec![p])? else {
        return Err(vec![Problem {
            file: unit_file,
            key: String::new(),
            reason: format!("no such unit: '{serial}'"),
        }]);
    };
    let robot = match unit.get("robot") {
        Some(toml::Value::String(r)) => r.clone(),
        _ => {
            return Err(vec![Problem {
                file: unit_file,
                key: "robot".into(),
                reason: "missing: the unit must name its robot model".into(),
            }]);
        }
    };
    let robot_name = Path::new(&robot)
        .file_stem()
        .map_or(robot.clone(), |s| s.to_string_lossy().into_owned());
    let robot_file = dir.join("robots").join(format!("{robot_name}.toml"));
    if !robot_file.exists() {
        return Err(vec![Problem {
            file: unit_file,
            key: "robot".into(),
            reason: format!(
                "no {} in the fleet: every robot model has its file of actuators",
                robot_file.display()
            ),
        }]);
    }
    let files = vec![
        dir.join("fleet.toml"),
        robot_file,
        unit_file,
        dir.join("calibration").join(format!("{serial}.toml")),
    ];
    let mut table = toml::Table::new();
    let mut sources = BTreeMap::new();
    let mut problems = Vec::new();
    for (k, file) in files.iter().enumerate() {
        match read_table(file) {
            Ok(Some(mut layer)) => {
                if k == 3 {
                    // The calibration file is the `calibration` table.
                    let mut wrapped = toml::Table::new();
                    wrapped.insert("calibration".into(), toml::Value::Table(layer));
                    layer = wrapped;
                }
                merge(&mut table, layer, "", file, &mut sources);
            }
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    table
        .entry("serial")
        .or_insert_with(|| toml::Value::String(serial.to_owned()));
    Ok(Layers {
        dir: dir.to_owned(),
        files,
        table,
        sources,
    })
}

/// The merged configuration, or where its keys do not fit the schema.
pub fn parse(layers: &Layers) -> Result<UnitConfig, Problem> {
    let value = toml::Value::Table(layers.table.clone());
    serde_path_to_error::deserialize::<_, UnitConfig>(value).map_err(|e| {
        let key = e.path().to_string();
        // The first line: the rest repeats the path.
        let reason = e.inner().to_string();
        let reason = reason.lines().next().unwrap_or_default();
        layers.problem(&key, reason)
    })
}

/// Loads and parses a unit's configuration; every problem found on the way.
pub fn load(dir: &Path, serial: &str) -> Result<(Layers, UnitConfig), Vec<Problem>> {
    let layers = load_layers(dir, serial)?;
    let config = parse(&layers).map_err(|p| vec![p])?;
    Ok((layers, config))
}

pub(crate) fn problem(layers: &Layers, key: &str, reason: impl Into<String>) -> Problem {
    layers.problem(key, reason)
}
