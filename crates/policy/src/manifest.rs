//! `policy.toml`: what a policy package says about its network — the joints it drives
//! in its own order, its rate and default posture, the observation terms each ONNX input
//! is assembled from, the recurrent state carried between steps, and how its output
//! becomes joint targets. This module reads and checks the file on its own (types,
//! unknown keys, ranges); [`crate::package`] checks it against the robot and the graph.
//!
//! ```toml
//! name = "go_forward"
//! rate_hz = 50.0
//! joints = ["left_hip_pitch_joint", "left_knee_joint"]   # the policy's order
//! default_posture = { left_knee_joint = 0.3 }             # others 0
//!
//! [[inputs]]
//! name = "obs"                                            # ONNX input tensor
//! terms = [
//!   { kind = "base_ang_vel", scale = 0.25 },
//!   { kind = "projected_gravity" },
//!   { kind = "velocity_command", scale = [2.0, 2.0, 0.25] },
//!   { kind = "joint_pos" },                               # relative to the default
//!   { kind = "joint_vel", scale = 0.05 },
//!   { kind = "last_action" },
//!   { kind = "phase", period_s = 0.8 },
//! ]
//!
//! [action]
//! output = "actions"                                      # ONNX output tensor
//! kind = "position"                                       # default + scale · a
//! scale = 0.25
//! kp = 40.0
//! kd = 1.0
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Problem;

/// The package's manifest, as written. See the module docs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The policy's name.
    pub name: String,
    /// The robot it was trained for (a built-in name or a URDF path relative to the
    /// package); `policy run` uses it unless told otherwise.
    #[serde(default)]
    pub robot: Option<String>,
    /// Whether the robot's base floats (default: the robot model's own).
    #[serde(default)]
    pub floating_base: Option<bool>,
    /// The network, relative to the package (default `model.onnx`).
    #[serde(default = "default_onnx")]
    pub onnx: PathBuf,
    /// LeRobot-style normalisation statistics, relative to the package.
    #[serde(default)]
    pub stats: Option<PathBuf>,
    /// Inference rate (Hz).
    pub rate_hz: f64,
    /// The joints the policy drives, in the policy's order (the robot's may differ).
    pub joints: Vec<String>,
    /// The posture actions and joint positions are relative to, by joint (rad or m;
    /// unnamed joints 0).
    #[serde(default)]
    pub default_posture: BTreeMap<String, f64>,
    /// The command the policy follows unless the caller gives one (`vx`, `vy`, `wz`,
    /// `x`, `y`, `z`).
    #[serde(default)]
    pub command: BTreeMap<String, f64>,
    /// One entry per ONNX input the observation feeds.
    pub inputs: Vec<Input>,
    /// Recurrent state: each pair's output is fed back to its input at the next step.
    #[serde(default)]
    pub recurrent: Vec<Recurrent>,
    /// How the network's output becomes joint targets.
    pub action: Action,
    /// The state the simulator starts from.
    #[serde(default)]
    pub start: Option<Start>,
    /// The simulator's scene: a task file, relative to the package (the one its
    /// demonstrations ran, say), whose `[environment]` and `[[cameras]]` the policy runs
    /// among in simulation, its `random` objects placed afresh for each episode's seed.
    /// Default: the ground alone.
    #[serde(default)]
    pub scene: Option<PathBuf>,
    /// An episode for `policy eval`.
    #[serde(default)]
    pub episode: Option<Episode>,
    /// An `image` term's image older than this (s) holds the policy: no step runs, the
    /// robot keeps its last targets. Default 0.25.
    #[serde(default)]
    pub max_image_age_s: Option<f64>,
}

/// How old an `image` term's image may be before the policy is held (s), by default.
pub const MAX_IMAGE_AGE_S: f64 = 0.25;

fn default_onnx() -> PathBuf {
    PathBuf::from("model.onnx")
}

/// An ONNX input assembled from observation terms.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The tensor's name in the graph.
    pub name: String,
    /// Its shape; default `[1, n]` with `n` the terms' total size.
    #[serde(default)]
    pub shape: Option<Vec<usize>>,
    /// The terms, in order.
    pub terms: Vec<Term>,
    /// Normalise the assembled vector with these statistics.
    #[serde(default)]
    pub normalize: Option<Normalize>,
}

/// One observation term: `y = clip(scale · (x − offset))`, kept for `history` steps
/// (oldest first; the first step fills every slot).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// What is observed.
    pub kind: TermKind,
    /// Factor, one for all elements or one per element.
    #[serde(default)]
    pub scale: Option<PerElement>,
    /// Subtracted before scaling, one for all elements or one per element.
    #[serde(default)]
    pub offset: Option<PerElement>,
    /// Bound on the scaled value's magnitude.
    #[serde(default)]
    pub clip: Option<f64>,
    /// Steps kept (default 1).
    #[serde(default = "one")]
    pub history: usize,
    /// For `ee_position` and `ee_pose`: the robot's frame.
    #[serde(default)]
    pub frame: Option<String>,
    /// For `goal_position`: the goal in the `world` (default) or the `base` frame.
    #[serde(default)]
    pub goal_frame: Option<GoalFrame>,
    /// For `phase`: the gait period (s).
    #[serde(default)]
    pub period_s: Option<f64>,
    /// For `object_pose`: the object (a task's `[[seen]]` object, else the simulator's
    /// scene object of that name).
    #[serde(default)]
    pub object: Option<String>,
    /// For `image`: the camera, its crop, the size the network takes, the layout and
    /// each channel's normalisation.
    #[serde(default)]
    pub image: Option<ImageTerm>,
}

/// What an `image` term takes of a camera's colour image: the `crop` (default all)
/// resized bilinearly to `width × height`, each channel `(v / 255 − mean) / std`, laid
/// out as `chw` (planes, the default) or `hwc` (interleaved), as 32-bit floats.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageTerm {
    /// The camera's name.
    pub camera: String,
    /// The width the network takes (px).
    pub width: usize,
    /// The height the network takes (px).
    pub height: usize,
    /// The part of the image taken, `[u, v, width, height]` (px); default all of it.
    #[serde(default)]
    pub crop: Option<[u32; 4]>,
    /// `chw` or `hwc`. Default `chw`.
    #[serde(default)]
    pub layout: ImageLayout,
    /// Subtracted from each channel (0–1 scale). Default 0.
    #[serde(default)]
    pub mean: Option<[f64; 3]>,
    /// Each channel divided by it. Default 1.
    #[serde(default)]
    pub std: Option<[f64; 3]>,
}

/// How an image's values are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageLayout {
    /// Channel planes: all red, then green, then blue.
    #[default]
    Chw,
    /// Interleaved: red, green, blue of each pixel.
    Hwc,
}

fn one() -> usize {
    1
}

/// What a term observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermKind {
    /// The base's angular velocity in its own frame (rad/s, 3).
    BaseAngVel,
    /// The base's linear velocity in its own frame, as estimated (m/s, 3).
    BaseLinVel,
    /// Gravity's direction in the base frame, `Rᵀ·[0, 0, −1]` (3).
    ProjectedGravity,
    /// The commanded base velocity `vx, vy, wz` (3).
    VelocityCommand,
    /// The commanded goal position `x, y, z` (3).
    GoalPosition,
    /// The policy's joints' positions relative to the default posture (n).
    JointPos,
    /// The policy's joints' velocities (n).
    JointVel,
    /// The policy's joints' measured efforts (n).
    JointEffort,
    /// The previous step's action as the network gave it, clipped, before scaling.
    LastAction,
    /// A gait clock: `sin, cos` of `2π·t/period` (2).
    Phase,
    /// A frame's position in the world (3).
    EePosition,
    /// A frame's position and orientation quaternion `x y z qx qy qz qw` in the world (7).
    EePose,
    /// An object's pose `x y z qx qy qz qw` in the world, as last seen (7).
    ObjectPose,
    /// A camera's colour image (3 · width · height).
    Image,
}

impl TermKind {
    /// The kind as the manifest spells it (`joint_pos`).
    pub fn name(self) -> &'static str {
        match self {
            TermKind::BaseAngVel => "base_ang_vel",
            TermKind::BaseLinVel => "base_lin_vel",
            TermKind::ProjectedGravity => "projected_gravity",
            TermKind::VelocityCommand => "velocity_command",
            TermKind::GoalPosition => "goal_position",
            TermKind::JointPos => "joint_pos",
            TermKind::JointVel => "joint_vel",
            TermKind::JointEffort => "joint_effort",
            TermKind::LastAction => "last_action",
            TermKind::Phase => "phase",
            TermKind::EePosition => "ee_position",
            TermKind::EePose => "ee_pose",
            TermKind::ObjectPose => "object_pose",
            TermKind::Image => "image",
        }
    }
}

/// Where a goal position is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalFrame {
    /// As commanded, in the world.
    World,
    /// Relative to the base, in its frame.
    Base,
}

/// A number for every element, or one per element.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PerElement {
    /// The same for all.
    All(f64),
    /// One each.
    Each(Vec<f64>),
}

impl PerElement {
    /// The value for element `k`.
    pub fn at(&self, k: usize) -> f64 {
        match self {
            PerElement::All(v) => *v,
            PerElement::Each(v) => v.get(k).copied().unwrap_or(f64::NAN),
        }
    }

    /// Every value given.
    fn values(&self) -> &[f64] {
        match self {
            PerElement::All(v) => std::slice::from_ref(v),
            PerElement::Each(v) => v,
        }
    }

    /// The count it must match, if per element.
    fn len(&self) -> Option<usize> {
        match self {
            PerElement::All(_) => None,
            PerElement::Each(v) => Some(v.len()),
        }
    }
}

/// Normalisation by LeRobot-style statistics.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    /// The feature's key in the statistics (e.g. `observation.state`, `action`).
    pub key: String,
    /// How.
    #[serde(default)]
    pub mode: NormMode,
}

/// How statistics normalise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormMode {
    /// `(x − mean) / (std + 1e-8)`.
    #[default]
    MeanStd,
    /// `2(x − min)/(max − min) − 1`.
    MinMax,
}

/// A recurrent state pair.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurrent {
    /// The input that takes the state (zeros at the start of a run).
    pub input: String,
    /// The output that gives the next state.
    pub output: String,
}

/// How the network's output drives the joints.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The output tensor.
    pub output: String,
    /// What the action is.
    pub kind: ActionKind,
    /// Factor on the action (after un-normalising and clipping).
    #[serde(default)]
    pub scale: Option<PerElement>,
    /// Bound on the raw action's magnitude (before scaling).
    #[serde(default)]
    pub clip: Option<f64>,
    /// Position gain of each joint's impedance (N·m/rad).
    #[serde(default)]
    pub kp: Option<PerElement>,
    /// Damping gain of each joint's impedance (N·m·s/rad).
    #[serde(default)]
    pub kd: Option<PerElement>,
    /// Un-normalise the action with these statistics.
    #[serde(default)]
    pub normalize: Option<Normalize>,
    /// The output is a chunk of actions.
    #[serde(default)]
    pub chunk: Option<Chunk>,
    /// Add the torque that holds the robot's links against gravity at the measured
    /// posture to every position or velocity target (`tau_ff`), as an arm's own
    /// controller would (default false: the actuators' PD alone).
    #[serde(default)]
    pub gravity_feedforward: bool,
}

/// What an action commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Joint position targets `default + scale · a`, tracked by the joints' PD at the
    /// loop rate with `kp`, `kd`.
    Position,
    /// Joint velocity targets `scale · a`, with damping `kd`.
    Velocity,
    /// Joint torques `scale · a`.
    Torque,
}

/// An action chunk: the network predicts `length` steps at once.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    /// Steps per chunk.
    pub length: usize,
    /// Steps executed per inference (default all; 1 with temporal ensembling).
    #[serde(default)]
    pub execute: Option<usize>,
    /// How overlapping chunks blend.
    #[serde(default)]
    pub blend: Blend,
    /// Temporal ensembling's `m` in `wᵢ = exp(−m·i)`, `w₀` the oldest (default 0.01).
    #[serde(default)]
    pub coeff: Option<f64>,
}

/// How overlapping chunks blend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blend {
    /// Execute a chunk's first steps, then infer again.
    #[default]
    None,
    /// Infer every step; each step's action is the weighted mean of every chunk's
    /// prediction for it (ACT).
    TemporalEnsemble,
}

/// The simulator's start state.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// A floating base's height (m); default standing on the ground.
    #[serde(default)]
    pub base_height_m: Option<f64>,
    /// Joint positions by name; default the default posture.
    #[serde(default)]
    pub posture: BTreeMap<String, f64>,
}

/// An episode for `policy eval`: a sampled command, a time limit and a success test.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    /// The longest an episode runs (s).
    pub seconds: f64,
    /// Each command key's range, sampled uniformly per episode.
    pub sample: BTreeMap<String, [f64; 2]>,
    /// When an episode succeeds.
    pub success: Success,
}

/// An episode's success test.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Success {
    /// `frame` comes within `within_m` of the goal position (`x`, `y`, `z`).
    Reach {
        /// The robot's frame.
        frame: String,
        /// Distance (m).
        within_m: f64,
    },
    /// The base stays up (never falls) for the whole episode.
    Upright,
    /// The scene's `object` ends the episode within `within_m` of `position` (m, world).
    Placed {
        /// The object's name in the scene.
        object: String,
        /// Where it should be.
        position: [f64; 3],
        /// Distance (m).
        within_m: f64,
    },
}

/// Most inputs, terms, joints or chunk steps a manifest may declare: far past any
/// policy, and what keeps a hostile manifest's buffers bounded.
pub const MAX_COUNT: usize = 4096;

impl Manifest {
    /// Parses manifest text; `file` names it in problems.
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, Vec<Problem>> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .map(|span| {
                    let before = text.get(..span.start).unwrap_or(text);
                    format!("line {}", before.matches('\n').count() + 1)
                })
                .unwrap_or_default();
            vec![Problem::new(file, key, e.message().trim_end())]
        })?;
        let problems = manifest.check(file);
        if problems.is_empty() {
            Ok(manifest)
        } else {
            Err(problems)
        }
    }

    /// Problems with the manifest on its own: counts, ranges, what each term needs.
    fn check(&self, file: &Path) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |key: String, reason: String| problems.push(Problem::new(file, key, reason));
        if !(self.rate_hz.is_finite() && (1.0..=1000.0).contains(&self.rate_hz)) {
            bad(
                "rate_hz".into(),
                format!("must be from 1 to 1000 Hz, not {}", self.rate_hz),
            );
        }
        if self.joints.is_empty() || self.joints.len() > MAX_COUNT {
            bad(
                "joints".into(),
                format!("must name 1 to {MAX_COUNT} joints"),
            );
        }
        for (k, joint) in self.joints.iter().enumerate() {
            if self.joints[..k].contains(joint) {
                bad(format!("joints[{k}]"), format!("'{joint}' is named twice"));
            }
        }
        for (joint, value) in &self.default_posture {
            if !value.is_finite() {
                bad(format!("default_posture.{joint}"), "must be finite".into());
            }
        }
        for (key, value) in &self.command {
            if !value.is_finite() {
                bad(format!("command.{key}"), "must be finite".into());
            }
        }
        if self.inputs.is_empty() || self.inputs.len() > MAX_COUNT {
            bad(
                "inputs".into(),
                format!("must list 1 to {MAX_COUNT} ONNX inputs"),
            );
        }
        let n = self.joints.len();
        for (i, input) in self.inputs.iter().enumerate() {
            let at = |rest: String| format!("inputs[{i}].{rest}");
            if input.terms.is_empty() || input.terms.len() > MAX_COUNT {
                bad(
                    at("terms".into()),
                    format!("must list 1 to {MAX_COUNT} terms"),
                );
            }
            for (t, term) in input.terms.iter().enumerate() {
                let key = |field: &str| at(format!("terms[{t}].{field}"));
                if let Err(reason) = term.check(n) {
                    bad(key(&reason.0), reason.1);
                }
            }
            if let Some(shape) = &input.shape {
                let size: Option<usize> = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
                if shape.is_empty() || size.is_none_or(|s| s != self.input_size(i)) {
                    bad(
                        at("shape".into()),
                        format!(
                            "{shape:?} does not hold the terms' {} values",
                            self.input_size(i)
                        ),
                    );
                }
            }
        }
        if let Err((key, reason)) = self.action.check(n) {
            bad(format!("action.{key}"), reason);
        }
        if let Some(start) = &self.start {
            for (joint, value) in &start.posture {
                if !value.is_finite() {
                    bad(format!("start.posture.{joint}"), "must be finite".into());
                }
            }
            if let Some(h) = start.base_height_m
                && !(h.is_finite() && (0.0..=10.0).contains(&h))
            {
                bad(
                    "start.base_height_m".into(),
                    format!("must be from 0 to 10 m, not {h}"),
                );
            }
        }
        if let Some(age) = self.max_image_age_s
            && !(age.is_finite() && age > 0.0 && age <= 60.0)
        {
            bad("max_image_age_s".into(), "must be in (0, 60] s".into());
        }
        if let Some(episode) = &self.episode {
            if !(episode.seconds.is_finite() && episode.seconds > 0.0 && episode.seconds <= 3600.0)
            {
                bad("episode.seconds".into(), "must be in (0, 3600] s".into());
            }
            for (key, [lo, hi]) in &episode.sample {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    bad(
                        format!("episode.sample.{key}"),
                        "must be [low, high], finite, low ≤ high".into(),
                    );
                }
                if !crate::observe::COMMAND_KEYS.contains(&key.as_str()) {
                    bad(
                        format!("episode.sample.{key}"),
                        "is not a command (vx, vy, wz, x, y, z)".into(),
                    );
                }
            }
            let within_m = match &episode.success {
                Success::Reach { within_m, .. } | Success::Placed { within_m, .. } => *within_m,
                Success::Upright => 1.0,
            };
            if !(within_m.is_finite() && within_m > 0.0) {
                bad("episode.success.within_m".into(), "must be positive".into());
            }
            if let Success::Placed { position, .. } = &episode.success
                && !position.iter().all(|v| v.is_finite())
            {
                bad("episode.success.position".into(), "must be finite".into());
            }
        }
        problems
    }

    /// The number of values the terms of input `i` give (history included).
    pub fn input_size(&self, i: usize) -> usize {
        let n = self.joints.len();
        let action = self.action_size();
        self.inputs[i]
            .terms
            .iter()
            .map(|t| t.size(n, action) * t.history)
            .sum()
    }

    /// The values one action has: one per joint.
    pub fn action_size(&self) -> usize {
        self.joints.len()
    }

    /// Where each term of input `i` lands: `(term index, kind, first value, values)`,
    /// history included.
    pub fn layout(&self, i: usize) -> Vec<(usize, TermKind, usize, usize)> {
        let (n, action) = (self.joints.len(), self.action_size());
        let mut at = 0;
        self.inputs[i]
            .terms
            .iter()
            .enumerate()
            .map(|(t, term)| {
                let len = term.size(n, action) * term.history;
                at += len;
                (t, term.kind, at - len, len)
            })
            .collect()
    }

    /// The input's shape: as written, or `[1, size]`.
    pub fn input_shape(&self, i: usize) -> Vec<usize> {
        self.inputs[i]
            .shape
            .clone()
            .unwrap_or_else(|| vec![1, self.input_size(i)])
    }
}

impl Term {
    /// The values one step of the term gives, for `n` policy joints and actions of
    /// `action` values.
    pub fn size(&self, n: usize, action: usize) -> usize {
        match self.kind {
            TermKind::BaseAngVel
            | TermKind::BaseLinVel
            | TermKind::ProjectedGravity
            | TermKind::VelocityCommand
            | TermKind::GoalPosition
            | TermKind::EePosition => 3,
            TermKind::JointPos | TermKind::JointVel | TermKind::JointEffort => n,
            TermKind::LastAction => action,
            TermKind::Phase => 2,
            TermKind::EePose | TermKind::ObjectPose => 7,
            TermKind::Image => self.image.as_ref().map_or(0, |i| 3 * i.width * i.height),
        }
    }

    /// The term on its own; on a problem, the field and why.
    fn check(&self, n: usize) -> Result<(), (String, String)> {
        let size = self.size(n, n);
        if !(1..=64).contains(&self.history) {
            return Err(("history".into(), "must be from 1 to 64 steps".into()));
        }
        for (field, values) in [("scale", &self.scale), ("offset", &self.offset)] {
            let Some(values) = values else { continue };
            if values.values().iter().any(|v| !v.is_finite()) {
                return Err((field.into(), "must be finite".into()));
            }
            if let Some(len) = values.len().filter(|len| *len != size) {
                return Err((
                    field.into(),
                    format!("has {len} values where the term has {size}"),
                ));
            }
        }
        if let Some(clip) = self.clip
            && !(clip.is_finite() && clip > 0.0)
        {
            return Err(("clip".into(), "must be positive and finite".into()));
        }
        let needs_frame = matches!(self.kind, TermKind::EePosition | TermKind::EePose);
        if needs_frame != self.frame.is_some() {
            let why = if needs_frame {
                "names the robot's frame it observes: give `frame`"
            } else {
                "takes no `frame`"
            };
            return Err(("frame".into(), format!("this term {why}")));
        }
        if (self.kind == TermKind::ObjectPose) != self.object.is_some() {
            return Err((
                "object".into(),
                if self.kind == TermKind::ObjectPose {
                    "an object_pose term names its object: give `object`".into()
                } else {
                    "only an object_pose term takes it".into()
                },
            ));
        }
        match (self.kind, &self.image) {
            (TermKind::Image, Some(image)) => image
                .check()
                .map_err(|(k, why)| (format!("image.{k}"), why))?,
            (TermKind::Image, None) => {
                return Err((
                    "image".into(),
                    "an image term needs `image = { camera, width, height }`".into(),
                ));
            }
            (_, Some(_)) => return Err(("image".into(), "only an image term takes it".into())),
            _ => {}
        }
        if self.kind == TermKind::Image
            && (self.scale.is_some() || self.offset.is_some() || self.clip.is_some())
        {
            return Err((
                "scale".into(),
                "an image term is normalised by its image's `mean` and `std`, not scale, offset or clip".into(),
            ));
        }
        if self.goal_frame.is_some() && self.kind != TermKind::GoalPosition {
            return Err((
                "goal_frame".into(),
                "only a goal_position term takes it".into(),
            ));
        }
        match (self.kind, self.period_s) {
            (TermKind::Phase, Some(p)) if p.is_finite() && p > 0.0 && p <= 60.0 => Ok(()),
            (TermKind::Phase, _) => Err((
                "period_s".into(),
                "a phase term needs a period in (0, 60] s".into(),
            )),
            (_, Some(_)) => Err(("period_s".into(), "only a phase term takes it".into())),
            _ => Ok(()),
        }
    }
}

impl ImageTerm {
    /// The image term on its own; on a problem, the key and why.
    fn check(&self) -> Result<(), (String, String)> {
        if self.camera.is_empty() {
            return Err(("camera".into(), "names the camera".into()));
        }
        for (key, side) in [("width", self.width), ("height", self.height)] {
            if !(1..=1024).contains(&side) {
                return Err((key.into(), format!("{side} px: from 1 to 1024")));
            }
        }
        if let Some([_, _, w, h]) = self.crop
            && (w == 0 || h == 0)
        {
            return Err(("crop".into(), "an empty crop".into()));
        }
        if self.mean.is_some_and(|m| m.iter().any(|x| !x.is_finite())) {
            return Err(("mean".into(), "must be finite".into()));
        }
        if self
            .std
            .is_some_and(|s| s.iter().any(|x| !(x.is_finite() && *x > 0.0)))
        {
            return Err(("std".into(), "must be positive and finite".into()));
        }
        Ok(())
    }
}

impl Action {
    /// The action on its own, for `n` joints; on a problem, the key and why.
    fn check(&self, n: usize) -> Result<(), (String, String)> {
        for (field, values) in [("scale", &self.scale), ("kp", &self.kp), ("kd", &self.kd)] {
            let Some(values) = values else { continue };
            if values
                .values()
                .iter()
                .any(|v| !(v.is_finite() && *v >= 0.0 && *v <= 1e6))
            {
                return Err((field.into(), "must be finite, from 0 to 1e6".into()));
            }
            if let Some(len) = values.len().filter(|len| *len != n) {
                return Err((field.into(), format!("has {len} values for {n} joints")));
            }
        }
        if self.kind == ActionKind::Position && self.kp.is_none() {
            return Err((
                "kp".into(),
                "position targets need the joints' stiffness".into(),
            ));
        }
        if self.gravity_feedforward && self.kind == ActionKind::Torque {
            return Err((
                "gravity_feedforward".into(),
                "applies to position and velocity targets, not torques".into(),
            ));
        }
        if let Some(clip) = self.clip
            && !(clip.is_finite() && clip > 0.0)
        {
            return Err(("clip".into(), "must be positive and finite".into()));
        }
        if let Some(chunk) = &self.chunk {
            if !(1..=MAX_COUNT).contains(&chunk.length) {
                return Err((
                    "chunk.length".into(),
                    format!("must be from 1 to {MAX_COUNT}"),
                ));
            }
            let execute = chunk.execute.unwrap_or(match chunk.blend {
                Blend::None => chunk.length,
                Blend::TemporalEnsemble => 1,
            });
            if !(1..=chunk.length).contains(&execute) {
                return Err((
                    "chunk.execute".into(),
                    "must be from 1 to the chunk's length".into(),
                ));
            }
            if chunk.blend == Blend::TemporalEnsemble && execute != 1 {
                return Err((
                    "chunk.execute".into(),
                    "temporal ensembling infers every step: execute must be 1".into(),
                ));
            }
            if chunk.coeff.is_some_and(|m| !m.is_finite()) {
                return Err(("chunk.coeff".into(), "must be finite".into()));
            }
        }
        Ok(())
    }

    /// Steps executed per inference.
    pub fn steps_per_inference(&self) -> usize {
        self.chunk.as_ref().map_or(1, |c| {
            c.execute.unwrap_or(match c.blend {
                Blend::None => c.length,
                Blend::TemporalEnsemble => 1,
            })
        })
    }
}
