//! Scenarios: a TOML file naming the robot, its initial state, the environment, the
//! simulator settings and the faults to inject at given times. Loading checks
//! everything before anything runs — TOML syntax and unknown keys (with line and column),
//! then meaning (joint names, times, ranges) — and reports the file, the key and why.
//!
//! ```toml
//! robot = "humanoid"            # a built-in robot or a URDF path (relative to this file)
//! duration_s = 5.0
//!
//! [initial]
//! posture = { left_knee_joint = 0.2, right_knee_joint = 0.2 }
//!
//! [environment]
//! ground_height_m = 0.0
//! boxes = [{ center = [0.8, 0.0, 0.35], size = [0.4, 0.6, 0.7] },
//!          { center = [0.0, 2.0, 0.1], size = [1.0, 1.0, 0.2], rpy_rad = [0.0, -0.3, 0.0] }]
//!
//! [[environment.objects]]       # objects (crate::objects)
//! name = "crate"
//! shape = "box"                 # box (size), sphere (radius), cylinder, capsule (radius, length),
//!                               # mesh (mesh = "mug.stl" or .obj beside this file, scale; its convex hull)
//! size = [0.1, 0.1, 0.1]
//! mass_kg = 0.5                 # or density_kgpm3 (default 1000)
//! friction = 0.8
//! restitution = 0.0             # share of the approach speed it bounces back with
//! position_m = [0.8, 0.0, 0.75]
//! # inertia_kgm2 = [ixx, iyy, izz] principal moments (default: uniform density)
//! # fixed = true                # held where it is (a post, a fixture); default: free
//!
//! [[cameras]]                  # simulated RGB-D cameras (crate::camera)
//! name = "wrist"
//! frame = "tcp"                 # on a robot frame, or fixed: xyz and look_at (or rpy)
//! width = 320
//! height = 240
//!
//! [sim]
//! seed = 7
//!
//! [sim.contact]
//! self_collision = true         # links touch each other (not a joint's two sides)
//! srdf = "arm.srdf"             # its disable_collisions pairs never touch
//! disabled_pairs = [["link1", "link3"]]
//!
//! [[faults]]
//! kind = "sensor_dropout"
//! sensor = "imu"
//! at_s = 2.0
//! duration_s = 0.5
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use embody_hal::FaultBits;
use embody_model::{Model, ModelError, robots};

use crate::config::{SimConfig, in_range, number};
use crate::contact::Environment;
use crate::robot::{MAX_LATENCY_TICKS, SimFaults};

/// A scenario as written in its file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Built-in robot name or URDF path (relative paths are from the scenario file).
    pub robot: String,
    /// Override the robot's own base: `true` floating, `false` fixed.
    #[serde(default)]
    pub floating_base: Option<bool>,
    /// Simulated time to run (s).
    pub duration_s: f64,
    /// Initial state.
    #[serde(default)]
    pub initial: Initial,
    /// Ground and boxes.
    #[serde(default)]
    pub environment: Environment,
    /// Simulator settings.
    #[serde(default)]
    pub sim: SimConfig,
    /// Faults to inject.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Simulated cameras ([`crate::camera`]).
    #[serde(default)]
    pub cameras: Vec<crate::camera::CameraConfig>,
}

/// The state a scenario starts from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Initial {
    /// Joint positions by name (rad or m); unnamed joints start at zero.
    pub posture: std::collections::BTreeMap<String, f64>,
    /// Base position (m) of a floating-base robot; default: standing on the ground, its
    /// lowest collision point touching it.
    pub base_position_m: Option<[f64; 3]>,
    /// Base roll, pitch, yaw (rad). Default level.
    pub base_rpy_rad: [f64; 3],
}

/// A sensor that can drop out or freeze.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensor {
    /// The joint encoders (all of them: the bus goes quiet).
    Joints,
    /// The IMU.
    Imu,
    /// The force-torque sensors.
    ForceTorque,
}

/// A fault reported by an actuator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActuatorFaultKind {
    /// Over-current.
    OverCurrent,
    /// Over-temperature (motor).
    OverTemperature,
    /// Under-voltage.
    UnderVoltage,
    /// Encoder fault.
    Encoder,
    /// Stopped answering.
    NotResponding,
}

impl ActuatorFaultKind {
    fn bits(self) -> FaultBits {
        match self {
            ActuatorFaultKind::OverCurrent => FaultBits::OVER_CURRENT,
            ActuatorFaultKind::OverTemperature => FaultBits::MOTOR_OVER_TEMPERATURE,
            ActuatorFaultKind::UnderVoltage => FaultBits::UNDER_VOLTAGE,
            ActuatorFaultKind::Encoder => FaultBits::ENCODER,
            ActuatorFaultKind::NotResponding => FaultBits::NOT_RESPONDING,
        }
    }
}

/// A fault injected at `at_s` and, with `duration_s`, cleared after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// An actuator trips: it reports the fault and stops producing torque.
    ActuatorFault {
        /// When (s).
        at_s: f64,
        /// For how long (s); until the end when absent.
        duration_s: Option<f64>,
        /// The joint.
        joint: String,
        /// What it reports. Default over-current.
        #[serde(default = "default_actuator_fault")]
        fault: ActuatorFaultKind,
    },
    /// A sensor stops producing samples.
    SensorDropout {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
        /// Which sensor.
        sensor: Sensor,
    },
    /// Sensor frames stop changing (a hung bridge repeating its last frame).
    SensorFreeze {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
    },
    /// Feedback arrives `ticks` late.
    LatencySpike {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
        /// Extra delay (ticks), 1–63.
        ticks: usize,
    },
    /// A joint's gearbox sticks where it is.
    JointStuck {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
        /// The joint.
        joint: String,
    },
    /// The link to the robot goes down.
    LinkDown {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
    },
    /// The e-stop is pressed.
    Estop {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
    },
    /// A camera's thread stalls: it publishes nothing while the fault lasts.
    CameraStall {
        /// When (s).
        at_s: f64,
        /// For how long (s).
        duration_s: Option<f64>,
        /// The camera.
        camera: String,
    },
}

fn default_actuator_fault() -> ActuatorFaultKind {
    ActuatorFaultKind::OverCurrent
}

impl Fault {
    /// When it starts and how long it lasts.
    pub fn window(&self) -> (f64, Option<f64>) {
        match self {
            Fault::ActuatorFault {
                at_s, duration_s, ..
            }
            | Fault::SensorDropout {
                at_s, duration_s, ..
            }
            | Fault::SensorFreeze { at_s, duration_s }
            | Fault::LatencySpike {
                at_s, duration_s, ..
            }
            | Fault::JointStuck {
                at_s, duration_s, ..
            }
            | Fault::LinkDown { at_s, duration_s }
            | Fault::Estop { at_s, duration_s }
            | Fault::CameraStall {
                at_s, duration_s, ..
            } => (*at_s, *duration_s),
        }
    }

    /// Short name, as in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::ActuatorFault { .. } => "actuator_fault",
            Fault::SensorDropout { .. } => "sensor_dropout",
            Fault::SensorFreeze { .. } => "sensor_freeze",
            Fault::LatencySpike { .. } => "latency_spike",
            Fault::JointStuck { .. } => "joint_stuck",
            Fault::LinkDown { .. } => "link_down",
            Fault::Estop { .. } => "estop",
            Fault::CameraStall { .. } => "camera_stall",
        }
    }
}

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A key whose value makes no sense.
    #[error("{path}: {key}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in the file, e.g. `faults[2].joint`.
        key: String,
        /// Why.
        reason: String,
    },
    /// The robot could not be loaded.
    #[error("{path}: robot: {source}")]
    Robot {
        /// The file.
        path: PathBuf,
        /// The model's error.
        source: ModelError,
    },
}

/// A checked scenario with its model loaded.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The scenario as written.
    pub scenario: Scenario,
    /// The robot.
    pub model: Model,
    /// Each fault with the index of the joint it names (actuated-joint order), if any.
    pub fault_joints: Vec<Option<usize>>,
}

impl Scenario {
    /// Reads and checks the scenario at `path`, loading its robot.
    pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and checks scenario text; `path` names it in errors and anchors a relative
    /// robot path.
    pub fn parse(text: &str, path: &Path) -> Result<LoadedScenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            // The line, its start (where the key is) and the parser's reason: the
            // parser's own quote of the line may be thousands of characters long.
            let at = e.span().map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
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
            ScenarioError::Syntax {
                path: path.to_path_buf(),
                message: format!("{}{}", at.unwrap_or_default(), e.message().trim_end()),
            }
        })?;
        let robot = if robots::builtin(&scenario.robot).is_some() {
            scenario.robot.clone()
        } else {
            let base = path.parent().unwrap_or(Path::new(""));
            base.join(&scenario.robot).to_string_lossy().into_owned()
        };
        let model = robots::load(&robot, scenario.floating_base).map_err(|source| {
            ScenarioError::Robot {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        (scenario.environment.load_meshes(folder)).map_err(|(key, reason)| {
            ScenarioError::Invalid {
                path: path.to_path_buf(),
                key: format!("environment.{key}"),
                reason,
            }
        })?;
        if let Some(file) = scenario.sim.contact.srdf.clone() {
            let pairs = crate::srdf::disabled_pairs(&folder.join(file)).map_err(|reason| {
                ScenarioError::Invalid {
                    path: path.to_path_buf(),
                    key: "sim.contact.srdf".into(),
                    reason,
                }
            })?;
            scenario.sim.contact.disabled_pairs.extend(pairs);
        }
        let fault_joints =
            scenario
                .check(&model)
                .map_err(|(key, reason)| ScenarioError::Invalid {
                    path: path.to_path_buf(),
                    key,
                    reason,
                })?;
        Ok(LoadedScenario {
            scenario,
            model,
            fault_joints,
        })
    }

    /// Meaning checks; on failure the key and the reason.
    fn check(&self, model: &Model) -> Result<Vec<Option<usize>>, (String, String)> {
        let fail = |key: String, reason: String| Err((key, reason));
        if !(self.duration_s.is_finite() && self.duration_s > 0.0 && self.duration_s <= 3600.0) {
            return fail(
                "duration_s".into(),
                format!("must be in (0, 3600] s, not {}", number(self.duration_s)),
            );
        }
        self.sim
            .check()
            .map_err(|(key, reason)| (format!("sim.{key}"), reason))?;
        let actuated_ids: Vec<usize> = model.actuated_joints().map(|j| j.0).collect();
        let actuated: Vec<String> = actuated_ids
            .iter()
            .map(|&j| model.joints[j].name.clone())
            .collect();
        let joint_index = |key: String, name: &str| {
            actuated.iter().position(|n| n == name).ok_or_else(|| {
                (
                    key,
                    format!("no actuated joint named '{name}' in {}", model.name),
                )
            })
        };
        for (name, value) in &self.initial.posture {
            let k = joint_index(format!("initial.posture.{name}"), name)?;
            let limits = model.joints[actuated_ids[k]].limits;
            if !value.is_finite() || *value < limits.lower || *value > limits.upper {
                return fail(
                    format!("initial.posture.{name}"),
                    format!(
                        "{value} is outside the joint's limits [{}, {}]",
                        limits.lower, limits.upper
                    ),
                );
            }
        }
        if self.initial.base_position_m.is_some() && model.free_flyer().is_none() {
            return fail(
                "initial.base_position_m".into(),
                "the robot has a fixed base".into(),
            );
        }
        if let Some(p) = self.initial.base_position_m {
            for (axis, x) in ["x", "y", "z"].iter().zip(p) {
                in_range(&format!("initial.base_position_m.{axis}"), x, -1e3, 1e3)?;
            }
        }
        for (axis, x) in ["roll", "pitch", "yaw"]
            .iter()
            .zip(self.initial.base_rpy_rad)
        {
            in_range(&format!("initial.base_rpy_rad.{axis}"), x, -10.0, 10.0)?;
        }
        self.environment
            .check()
            .map_err(|(key, reason)| (format!("environment.{key}"), reason))?;
        let is_link =
            |name: &String| (model.links.iter()).any(|l| model.frames[l.frame.0].name == *name);
        for (i, pair) in self.sim.contact.disabled_pairs.iter().enumerate() {
            if let Some(name) = pair.iter().find(|name| !is_link(name)) {
                return fail(
                    format!("sim.contact.disabled_pairs[{i}]"),
                    format!("no link named '{name}' in {}", model.name),
                );
            }
        }
        for (i, camera) in self.cameras.iter().enumerate() {
            camera
                .info(model)
                .map_err(|(key, reason)| (format!("cameras[{i}].{key}"), reason))?;
            if self.cameras[..i].iter().any(|c| c.name == camera.name) {
                return fail(
                    format!("cameras[{i}].name"),
                    format!("a second camera named '{}'", camera.name),
                );
            }
        }
        let mut joints = Vec::with_capacity(self.faults.len());
        for (i, fault) in self.faults.iter().enumerate() {
            let (at, duration) = fault.window();
            in_range(&format!("faults[{i}].at_s"), at, 0.0, 3600.0)?;
            if let Some(d) = duration
                && !(d.is_finite() && d > 0.0 && d <= 3600.0)
            {
                return fail(
                    format!("faults[{i}].duration_s"),
                    format!("must be in (0, 3600] s, not {}", number(d)),
                );
            }
            joints.push(match fault {
                Fault::ActuatorFault { joint, .. } | Fault::JointStuck { joint, .. } => {
                    Some(joint_index(format!("faults[{i}].joint"), joint)?)
                }
                Fault::CameraStall { camera, .. } => {
                    if !self.cameras.iter().any(|c| c.name == *camera) {
                        return fail(
                            format!("faults[{i}].camera"),
                            format!("no camera named '{camera}' in [[cameras]]"),
                        );
                    }
                    None
                }
                Fault::LatencySpike { ticks, .. } => {
                    if !(1..=MAX_LATENCY_TICKS).contains(ticks) {
                        return fail(
                            format!("faults[{i}].ticks"),
                            format!("must be in 1..={MAX_LATENCY_TICKS}"),
                        );
                    }
                    None
                }
                _ => None,
            });
        }
        Ok(joints)
    }
}

impl LoadedScenario {
    /// Whether camera `name` is stalled at simulated time `t_s`.
    pub fn camera_stalled(&self, name: &str, t_s: f64) -> bool {
        self.scenario.faults.iter().any(|fault| {
            let (at, duration) = fault.window();
            matches!(fault, Fault::CameraStall { camera, .. } if camera == name)
                && t_s >= at
                && duration.is_none_or(|d| t_s < at + d)
        })
    }

    /// Sets every injected fault as it should be at simulated time `t_s`.
    pub fn apply_faults(&self, t_s: f64, faults: &SimFaults) {
        let mut latency = 0;
        let (mut frozen, mut link_down, mut estop) = (false, false, false);
        let (mut joints_out, mut imu_out, mut ft_out) = (false, false, false);
        let n = self.model.actuated_joints().count();
        let mut bits = [FaultBits::NONE; 64];
        let mut stuck = [false; 64];
        for (fault, joint) in self.scenario.faults.iter().zip(&self.fault_joints) {
            let (at, duration) = fault.window();
            let active = t_s >= at && duration.is_none_or(|d| t_s < at + d);
            if !active {
                continue;
            }
            match fault {
                Fault::ActuatorFault { fault, .. } => {
                    if let Some(k) = joint.filter(|k| *k < 64) {
                        bits[k] = bits[k].union(fault.bits());
                    }
                }
                Fault::JointStuck { .. } => {
                    if let Some(k) = joint.filter(|k| *k < 64) {
                        stuck[k] = true;
                    }
                }
                Fault::SensorDropout { sensor, .. } => match sensor {
                    Sensor::Joints => joints_out = true,
                    Sensor::Imu => imu_out = true,
                    Sensor::ForceTorque => ft_out = true,
                },
                Fault::SensorFreeze { .. } => frozen = true,
                Fault::LatencySpike { ticks, .. } => latency = latency.max(*ticks),
                Fault::LinkDown { .. } => link_down = true,
                Fault::Estop { .. } => estop = true,
                // The cameras' own: [`LoadedScenario::stalled_cameras`].
                Fault::CameraStall { .. } => {}
            }
        }
        for k in 0..n.min(64) {
            faults.set_joint_faults(k, bits[k]);
            faults.set_stuck(k, stuck[k]);
        }
        faults.set_frozen(frozen);
        faults.set_link_down(link_down);
        faults.set_estop(estop);
        faults.set_joints_dropout(joints_out);
        faults.set_imu_dropout(imu_out);
        faults.set_force_dropout(ft_out);
        faults.set_extra_latency(latency);
    }

    /// The initial configuration: the posture, and for a floating base its pose (by
    /// default standing on the ground).
    pub fn initial_configuration(&self) -> nalgebra::DVector<f64> {
        let model = &self.model;
        let mut q = model.neutral_configuration();
        for (name, value) in &self.scenario.initial.posture {
            if let Some(j) = model.joint_id(name) {
                q[model.joints[j.0].idx_q] = *value;
            }
        }
        if let Some(ff) = model.free_flyer() {
            let iq = model.joints[ff.0].idx_q;
            let [roll, pitch, yaw] = self.scenario.initial.base_rpy_rad;
            let quat = nalgebra::UnitQuaternion::from_euler_angles(roll, pitch, yaw);
            q[iq + 3] = quat.i;
            q[iq + 4] = quat.j;
            q[iq + 5] = quat.k;
            q[iq + 6] = quat.w;
            match self.scenario.initial.base_position_m {
                Some(p) => q.rows_mut(iq, 3).copy_from_slice(&p),
                None => {
                    let ground = self.scenario.environment.ground_height_m;
                    let lowest = crate::geometry::lowest_point(model, q.as_slice());
                    if let Some(z) = lowest {
                        q[iq + 2] += ground - z;
                    }
                }
            }
        }
        q
    }
}

impl Environment {
    /// Checks the environment's numbers and objects; on failure the key (below
    /// `environment`) and the reason.
    pub fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: String, reason: String| Err((key, reason));
        in_range("ground_height_m", self.ground_height_m, -100.0, 100.0)?;
        (self.light.check()).map_err(|(key, reason)| (format!("light.{key}"), reason))?;
        for (i, b) in self.boxes.iter().enumerate() {
            for (axis, (&c, &size)) in ["x", "y", "z"].iter().zip(b.center.iter().zip(&b.size)) {
                in_range(&format!("boxes[{i}].center.{axis}"), c, -1e3, 1e3)?;
                if !(size.is_finite() && size > 0.0 && size <= 1e3) {
                    return fail(
                        format!("boxes[{i}].size.{axis}"),
                        format!("must be in (0, 1000] m, not {}", number(size)),
                    );
                }
            }
        }
        for (i, b) in self.boxes.iter().enumerate() {
            if let Some(rpy) = b.rpy_rad {
                if b.yaw_rad != 0.0 {
                    return fail(
                        format!("boxes[{i}].rpy_rad"),
                        "give rpy_rad or yaw_rad, not both".into(),
                    );
                }
                for (axis, x) in ["roll", "pitch", "yaw"].iter().zip(rpy) {
                    in_range(&format!("boxes[{i}].rpy_rad.{axis}"), x, -10.0, 10.0)?;
                }
            }
        }
        crate::objects::Objects::check(self).map_err(|e| {
            (
                format!("objects[{}]", e.index),
                format!("{}: {}", e.name, e.reason),
            )
        })?;
        Ok(())
    }
}
