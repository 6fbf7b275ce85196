//! Unit configuration in layers: the fleet's defaults (`fleet.toml`), the robot model's
//! (`robots/<robot>.toml`), the unit's own (`units/<serial>.toml`) and its calibration
//! (`calibration/<serial>.toml`), merged key by key in that order — a later layer wins —
//! while remembering which file set each key, so every problem is reported with its file,
//! key and reason. The merged tables must match the schema exactly (unknown keys are
//! errors); [`crate::check`] then checks the result against the robot.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::name::{self, BadName};

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
    /// How long the host loop goes on without a new joint state (reads that bring
    /// nothing, states that do not change) before it faults (ms). Unset: the loop's
    /// default, 5. A unit computer without real-time scheduling may need more. Unset, it
    /// leaves the configuration's digest as it was before this key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_timeout_ms: Option<f64>,
}

fn default_damping_ms() -> u32 {
    1000
}

/// The buses' settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Bit rate of every CAN bus (bit/s).
    pub bitrate: u32,
    /// Baud rate of a servo bus (Dynamixel, Feetech). Unset: 1,000,000. Unset, it leaves
    /// the configuration's digest as it was before this key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
    /// How the host reaches CiA 402 drives: through an SLCAN adapter, the host their
    /// CANopen master (unset), or through the unit's bridge, which masters them on its
    /// CAN buses. Unset, it leaves the configuration's digest as it was before this key
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drives_via: Option<DrivesVia>,
    /// How the host reaches serial servos (Dynamixel, Feetech): on its own serial port,
    /// the bus being the link (unset), or through the unit's bridge, which masters them
    /// on its servo UART. Unset, it leaves the configuration's digest as it was before
    /// this key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servos_via: Option<ServosVia>,
}

/// Who masters a unit's serial servos.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServosVia {
    /// The host, on its own serial port.
    #[default]
    Host,
    /// The unit's bridge firmware, on its servo UART.
    Bridge,
}

/// Who masters a unit's CiA 402 drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrivesVia {
    /// The host, through an SLCAN adapter on one bus.
    #[default]
    Slcan,
    /// The unit's bridge firmware, on its CAN buses.
    Bridge,
}

impl Bus {
    /// The servo bus's baud rate: `baud`, else 1 Mbaud.
    pub fn servo_baud(&self) -> u32 {
        self.baud.unwrap_or(1_000_000)
    }

    /// Whether the unit's bridge masters its drives.
    pub fn drives_on_bridge(&self) -> bool {
        self.drives_via == Some(DrivesVia::Bridge)
    }

    /// Whether the unit's bridge masters its servos.
    pub fn servos_on_bridge(&self) -> bool {
        self.servos_via == Some(ServosVia::Bridge)
    }

    /// Whether a unit whose actuators are of `family` has a bridge: MIT motors always,
    /// drives and servos where it masters them.
    pub fn has_bridge(&self, family: Family) -> bool {
        match family {
            Family::Mit => true,
            Family::Cia402 => self.drives_on_bridge(),
            Family::Servo(_) => self.servos_on_bridge(),
        }
    }
}

/// The protocol an actuator speaks: an MIT variant (a motor on the bridge's CAN buses),
/// CiA 402 (a drive on a CANopen bus the host reaches through an SLCAN adapter, or the
/// bridge's buses), or a serial servo protocol (a servo on a half-duplex bus the host drives itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// CubeMars AK and compatible (MIT).
    Classic,
    /// DaMiao (MIT).
    Damiao,
    /// Robstride (MIT).
    Robstride,
    /// A CANopen CiA 402 servo drive.
    Cia402,
    /// A ROBOTIS Dynamixel X-series servo, protocol 2.0.
    Dynamixel,
    /// A Feetech STS servo (STS3215).
    Feetech,
}

/// The families of actuators: a unit's actuators are all of one, since each is reached
/// through its own kind of link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// MIT motors behind the bridge.
    Mit,
    /// CiA 402 drives behind an SLCAN adapter, or the bridge.
    Cia402,
    /// Servos of one protocol on a serial bus.
    Servo(embody_bridge::ServoFamily),
}

impl Variant {
    /// Its name in a configuration.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Classic => "classic",
            Variant::Damiao => "damiao",
            Variant::Robstride => "robstride",
            Variant::Cia402 => "cia402",
            Variant::Dynamixel => "dynamixel",
            Variant::Feetech => "feetech",
        }
    }

    /// The MIT variant, for an MIT motor.
    pub fn mit(self) -> Option<embody_protocol::MitVariant> {
        match self {
            Variant::Classic => Some(embody_protocol::MitVariant::Classic),
            Variant::Damiao => Some(embody_protocol::MitVariant::DaMiao),
            Variant::Robstride => Some(embody_protocol::MitVariant::Robstride),
            _ => None,
        }
    }

    /// Its family.
    pub fn family(self) -> Family {
        match self {
            Variant::Classic | Variant::Damiao | Variant::Robstride => Family::Mit,
            Variant::Cia402 => Family::Cia402,
            Variant::Dynamixel => Family::Servo(embody_bridge::ServoFamily::Dynamixel),
            Variant::Feetech => Family::Servo(embody_bridge::ServoFamily::Feetech),
        }
    }

    /// The keys an actuator of this variant takes besides `variant`, `bus` and its
    /// ratings: the first list required, the second optional.
    pub fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self.family() {
            Family::Mit => (&["can_id", "ranges"], &["master_id"]),
            Family::Cia402 => (
                &["node_id"],
                &["mode", "pdo_layout", "encoder_increments", "gear"],
            ),
            Family::Servo(embody_bridge::ServoFamily::Dynamixel) => {
                (&["servo_id"], &["position_p_gain"])
            }
            Family::Servo(_) => (&["servo_id"], &[]),
        }
    }
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

/// A CiA 402 drive's cyclic mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriveMode {
    /// Cyclic synchronous position.
    Csp,
    /// Cyclic synchronous velocity.
    Csv,
    /// Cyclic synchronous torque.
    Cst,
}

/// What a CiA 402 drive's transmit PDOs carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PdoLayout {
    /// Statusword, position and torque; velocity and error code: three frames a tick.
    Full,
    /// Statusword and position: two frames a tick, twice the drives on a bus.
    Compact,
}

/// One joint's actuator. Which keys it takes depends on its `variant` ([`Variant::keys`]);
/// [`crate::check`] names a missing or a foreign one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actuator {
    /// Bus index: the bridge's CAN bus (MIT); 0 for a drive or a servo (the unit's one
    /// adapter or servo bus).
    pub bus: u8,
    /// CAN id of an MIT motor (1–127).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_id: Option<u8>,
    /// The id an MIT motor sends its replies to (the host's). Default 0 (written out
    /// for every actuator: the configuration's digest is as it was before other
    /// families existed).
    #[serde(default)]
    pub master_id: u8,
    /// Protocol.
    pub variant: Variant,
    /// Rated torque (N·m): the joint's effort limit must not exceed it.
    pub torque_max_nm: f64,
    /// Rated speed (rad/s): the joint's velocity limit must not exceed it.
    pub velocity_max_radps: f64,
    /// A CiA 402 drive's CANopen node id (1–127).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u8>,
    /// A drive's cyclic mode. Default csp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriveMode>,
    /// What a drive's TPDOs carry. Default full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdo_layout: Option<PdoLayout>,
    /// A drive's encoder increments per motor turn. Default 131072 (17 bits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_increments: Option<u32>,
    /// Motor turns per joint turn of a drive's gearbox. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gear: Option<u32>,
    /// A servo's id on its bus (Dynamixel 0–252, Feetech 0–253).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servo_id: Option<u8>,
    /// A Dynamixel's position P gain (0–16383), written at connect. Default: the
    /// servo's own (800 as shipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_p_gain: Option<u16>,
    /// An MIT motor's ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
}

/// An MIT motor's keys, from an actuator that has them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mit {
    /// The MIT variant.
    pub variant: embody_protocol::MitVariant,
    /// Its CAN id.
    pub can_id: u8,
    /// The host's id.
    pub master_id: u8,
    /// Its ranges.
    pub ranges: Ranges,
}

impl Actuator {
    /// An MIT motor on `bus` with `mit`'s keys and these ratings.
    pub fn of_mit(bus: u8, mit: Mit, torque_max_nm: f64, velocity_max_radps: f64) -> Actuator {
        Actuator {
            bus,
            can_id: Some(mit.can_id),
            master_id: mit.master_id,
            variant: mit.variant.into(),
            torque_max_nm,
            velocity_max_radps,
            node_id: None,
            mode: None,
            pdo_layout: None,
            encoder_increments: None,
            gear: None,
            servo_id: None,
            position_p_gain: None,
            ranges: Some(mit.ranges),
        }
    }

    /// The MIT motor's keys: `None` unless it is one, with its CAN id and ranges.
    pub fn mit(&self) -> Option<Mit> {
        Some(Mit {
            variant: self.variant.mit()?,
            can_id: self.can_id?,
            master_id: self.master_id,
            ranges: self.ranges?,
        })
    }

    /// Which of its keys are set, by name (the family-specific ones).
    pub fn keys_set(&self) -> Vec<&'static str> {
        let set = [
            ("can_id", self.can_id.is_some()),
            ("master_id", self.master_id != 0),
            ("node_id", self.node_id.is_some()),
            ("mode", self.mode.is_some()),
            ("pdo_layout", self.pdo_layout.is_some()),
            ("encoder_increments", self.encoder_increments.is_some()),
            ("gear", self.gear.is_some()),
            ("servo_id", self.servo_id.is_some()),
            ("position_p_gain", self.position_p_gain.is_some()),
            ("ranges", self.ranges.is_some()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect()
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
    /// Cameras (V4L2), by name: `[cameras.wrist]` with `device`, `width`, `height`,
    /// `rate_hz`, `format`, `intrinsics` and `mount` (see `embody_camera::V4l2Config`;
    /// the camera's name is its key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cameras: BTreeMap<String, embody_camera::V4l2Config>,
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
    /// `file: key: reason`, or `file: reason` for the whole file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key.as_str() {
            "" => write!(f, "{}: {}", self.file.display(), self.reason),
            key => write!(f, "{}: {key}: {}", self.file.display(), self.reason),
        }
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
    /// file it belongs in: `fleet.toml` for the fleet's `control` and `bus`, the unit's
    /// own file for the rest.
    pub fn source(&self, key: &str) -> PathBuf {
        let mut k = key;
        loop {
            if let Some(file) = self.sources.get(k) {
                return file.clone();
            }
            // A key with no value anywhere: the first file that set anything under it.
            let prefix = format!("{k}.");
            let under = self.sources.range(prefix.clone()..).next();
            if let Some((_, file)) = under.filter(|(s, _)| s.starts_with(&prefix)) {
                return file.clone();
            }
            match k.rsplit_once('.') {
                Some((parent, _)) => k = parent,
                None => {
                    let layer = if matches!(k, "control" | "bus") { 0 } else { 2 };
                    return self.files.get(layer).cloned().unwrap_or_default();
                }
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

/// The largest configuration file read (bytes): far more than any unit needs.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The table in the file at `path`; `None` when there is no such file.
fn read_table(path: &Path) -> Result<Option<toml::Table>, Problem> {
    let problem = |reason: String| Problem {
        file: path.to_owned(),
        key: String::new(),
        reason,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(problem(e.to_string())),
    };
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| problem(e.to_string()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(problem(format!(
            "larger than {} KiB: not a unit's configuration",
            MAX_FILE_BYTES / 1024
        )));
    }
    text.parse::<toml::Table>().map(Some).map_err(|e| {
        // The line, its start (where the key is) and the parser's reason: the parser's
        // own quote of the line may be thousands of characters long.
        let at = e.span().map(|span| {
            let before = text.get(..span.start).unwrap_or(&text);
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |n| n + 1);
            let column = before.len() - line_start + 1;
            let quote: String = text[line_start..]
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect();
            format!("line {line}, column {column} (`{}`): ", quote.trim())
        });
        problem(format!(
            "{}{}",
            at.unwrap_or_default(),
            e.message().trim_end()
        ))
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
                forget(sources, &path);
                record(&value, &path, file, sources);
                into.insert(key, value);
            }
        }
    }
}

/// The family a `variant` value names (`mit` for the MIT variants), if it is a string.
fn family_name(variant: Option<&toml::Value>) -> Option<&str> {
    match variant?.as_str()? {
        "classic" | "damiao" | "robstride" => Some("mit"),
        other => Some(other),
    }
}

/// Drops from `into` each actuator that `layer` gives another family (a unit whose arm
/// has CiA 402 drives where its robot's file says MIT motors): the later layer's table
/// replaces it whole, the earlier family's keys do not linger.
fn drop_switched_actuators(
    into: &mut toml::Table,
    layer: &toml::Table,
    sources: &mut BTreeMap<String, PathBuf>,
) {
    let (Some(toml::Value::Table(new)), Some(toml::Value::Table(old))) =
        (layer.get("actuators"), into.get_mut("actuators"))
    else {
        return;
    };
    for (name, actuator) in new {
        let Some(now) = family_name(actuator.get("variant")) else {
            continue;
        };
        let was = old.get(name).and_then(|a| family_name(a.get("variant")));
        if was.is_some_and(|was| was != now) {
            old.remove(name);
            forget(sources, &format!("actuators.{name}"));
        }
    }
}

/// Removes `path` and every key under it from `sources`.
fn forget(sources: &mut BTreeMap<String, PathBuf>, path: &str) {
    sources.remove(path);
    let prefix = format!("{path}.");
    let under: Vec<String> = (sources.range(prefix.clone()..).map(|(k, _)| k))
        .take_while(|k| k.starts_with(&prefix))
        .cloned()
        .collect();
    for key in under {
        sources.remove(&key);
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

/// The actuator file of the robot a unit names (`robots/<name>.toml` under `dir`, the
/// name being a built-in's or a URDF file's stem), or why the name cannot be a file name.
pub fn robot_file(dir: &Path, robot: &str) -> Result<PathBuf, BadName> {
    let stem = Path::new(robot).file_stem().unwrap_or_default();
    let stem = stem.to_string_lossy();
    name::check("a robot name", &stem)?;
    Ok(dir.join("robots").join(format!("{stem}.toml")))
}

/// Reads and merges the layers of unit `serial` in the fleet directory `dir`.
pub fn load_layers(dir: &Path, serial: &str) -> Result<Layers, Vec<Problem>> {
    let (files, tables) = read_layers(dir, serial)?;
    let mut layers = Layers {
        dir: dir.to_owned(),
        files,
        table: toml::Table::new(),
        sources: BTreeMap::new(),
    };
    for (table, file) in tables.into_iter().zip(&layers.files) {
        if let Some(table) = table {
            drop_switched_actuators(&mut layers.table, &table, &mut layers.sources);
            merge(&mut layers.table, table, "", file, &mut layers.sources);
        }
    }
    match layers.table.get("serial") {
        None => {
            let serial = toml::Value::String(serial.to_owned());
            layers.table.insert("serial".into(), serial);
        }
        Some(toml::Value::String(given)) => {
            if let Some(reason) = serial_key_problem(given, serial) {
                return Err(vec![layers.problem("serial", reason)]);
            }
        }
        // Not a string: the schema says so.
        Some(_) => {}
    }
    Ok(layers)
}

/// Why a `serial` key that says `given` is wrong for unit `serial`, if it is.
fn serial_key_problem(given: &str, serial: &str) -> Option<String> {
    match name::check("a unit serial", given) {
        Err(e) => Some(e.to_string()),
        // Its calibration would be written where it is never read.
        Ok(()) if given != serial => Some(format!(
            "'{given}' is not this unit's serial: its file says it is '{serial}'; \
             remove the key, or rename the file"
        )),
        Ok(()) => None,
    }
}

/// Layer files and their tables, in order.
type LayerFiles = (Vec<PathBuf>, Vec<Option<toml::Table>>);

/// The layer files of unit `serial` in `dir` (fleet, robot, unit, calibration) and
/// their tables (the calibration's `None` when the unit is not calibrated yet). A
/// missing file stops here, named with why it was looked for; one that is there but does
/// not read is reported with the others'.
fn read_layers(dir: &Path, serial: &str) -> Result<LayerFiles, Vec<Problem>> {
    let whole = |file: PathBuf, reason: String| {
        vec![Problem {
            file,
            key: String::new(),
            reason,
        }]
    };
    if let Err(e) = name::check("a unit serial", serial) {
        return Err(whole(dir.join("units"), e.to_string()));
    }
    let mut problems = Vec::new();
    // A file that is there but does not read: its problem kept, an empty layer meanwhile.
    let mut read = |file: &Path| {
        read_table(file).unwrap_or_else(|p| {
            problems.push(p);
            Some(toml::Table::new())
        })
    };
    let fleet_file = dir.join("fleet.toml");
    let Some(fleet) = read(&fleet_file) else {
        return Err(whole(
            fleet_file,
            "no such file: every fleet directory has one, with its units' defaults \
             ([control], [bus]); is this the fleet directory?"
                .into(),
        ));
    };
    let unit_file = dir.join("units").join(format!("{serial}.toml"));
    // The unit's own file says which robot: nothing goes on without it.
    let Some(unit) = read_table(&unit_file).map_err(|p| vec![p])? else {
        return Err(whole(
            unit_file,
            format!("no such unit: no such file for unit '{serial}' in the fleet"),
        ));
    };
    let at_robot = |reason: String| {
        vec![Problem {
            file: unit_file.clone(),
            key: "robot".into(),
            reason,
        }]
    };
    let Some(toml::Value::String(robot)) = unit.get("robot") else {
        return Err(at_robot(
            "missing: the unit must name its robot model".into(),
        ));
    };
    let robot_file = robot_file(dir, robot).map_err(|e| at_robot(e.to_string()))?;
    let Some(robot_layer) = read(&robot_file) else {
        return Err(at_robot(format!(
            "no such file {}: every robot model of the fleet has its file of actuators \
             (`embody config init` writes one)",
            robot_file.display()
        )));
    };
    let calibration_file = dir.join("calibration").join(format!("{serial}.toml"));
    // The calibration file is the `calibration` table.
    let calibration = read(&calibration_file)
        .map(|c| toml::Table::from_iter([("calibration".to_owned(), toml::Value::Table(c))]));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((
        vec![fleet_file, robot_file, unit_file, calibration_file],
        vec![Some(fleet), Some(robot_layer), Some(unit), calibration],
    ))
}

/// The merged configuration, or where its keys do not fit the schema.
pub fn parse(layers: &Layers) -> Result<UnitConfig, Problem> {
    let value = toml::Value::Table(layers.table.clone());
    serde_path_to_error::deserialize::<_, UnitConfig>(value).map_err(|e| {
        let key = match e.path().to_string() {
            root if root == "." => String::new(),
            key => key,
        };
        // The first line: the rest repeats the path.
        let reason = e.inner().to_string();
        let reason = reason.lines().next().unwrap_or_default();
        // A missing field is located where it would go.
        let missing = reason
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'));
        let key = match missing {
            Some(field) if key.is_empty() => field.to_owned(),
            Some(field) => format!("{key}.{field}"),
            None => key,
        };
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
