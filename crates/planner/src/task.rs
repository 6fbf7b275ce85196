//! Task files. A task is a tree of steps — `sequence`, `parallel`, `retry`, `timeout`,
//! and an `if` guard on any step — over skills: `move_joints`, `move_pose`, `hold`,
//! `wait`, `gripper`, `wait_until`. Loading checks the file against the robot before
//! anything moves: unknown skills and keys, bad joint or frame names, out-of-limit
//! targets and unreachable poses are reported with the file, the line and the reason.
//!
//! ```toml
//! name = "reach"
//! [[steps]]
//! skill = "move_joints"
//! posture = "home"
//! [[steps]]
//! skill = "move_pose"
//! frame = "tcp"
//! position = [0.45, 0.0, 0.35]
//! path = "line"
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// A step as written (every key any skill takes; the skill decides which are allowed).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// The skill or composite.
    pub skill: Spanned<String>,
    /// A name for reports.
    pub name: Option<String>,
    /// Run the step only if this holds when it starts (skipped otherwise).
    #[serde(rename = "if")]
    pub guard: Option<Spanned<RawCondition>>,
    /// `move_joints`: a named posture.
    pub posture: Option<Spanned<String>>,
    /// `move_joints`: targets by joint name.
    pub joints: Option<Spanned<BTreeMap<String, f64>>>,
    /// Moves: fraction of the joints' velocity, acceleration and jerk bounds (0–1].
    pub speed: Option<Spanned<f64>>,
    /// `move_pose`: the frame to move.
    pub frame: Option<Spanned<String>>,
    /// `move_pose`: target position in the world (m).
    pub position: Option<[f64; 3]>,
    /// `move_pose`: target roll, pitch, yaw (rad); the current orientation if absent.
    pub rpy: Option<[f64; 3]>,
    /// `move_pose`: `line` (straight) or `free` (joint space). Default `free`.
    pub path: Option<Spanned<String>>,
    /// `hold`, `wait`, `timeout`: seconds.
    pub seconds: Option<Spanned<f64>>,
    /// `gripper`: `open` or `close`.
    pub action: Option<Spanned<String>>,
    /// `gripper`: stop closing at this force (N).
    pub force_n: Option<Spanned<f64>>,
    /// `wait_until`: the condition.
    pub condition: Option<Spanned<RawCondition>>,
    /// `wait_until`: give up after this long (s). Default 5.
    pub timeout_s: Option<Spanned<f64>>,
    /// `sequence`, `parallel`: the children.
    pub steps: Option<Vec<Spanned<RawStep>>>,
    /// `retry`, `timeout`: the child.
    pub step: Option<Box<Spanned<RawStep>>>,
    /// `retry`: attempts at most.
    pub limit: Option<Spanned<u32>>,
}

/// A condition as written: exactly one of its forms.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    /// Joint form: this joint …
    pub joint: Option<String>,
    /// … within `tolerance` of this value.
    pub near: Option<f64>,
    /// Tolerance (rad or m). Default 0.01.
    pub tolerance: Option<f64>,
    /// Force form: the joint's measured effort above this (N or N·m).
    pub force_above_n: Option<f64>,
    /// Contact form: the force-torque sensor with this name touches.
    pub contact: Option<String>,
}

/// A task file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    /// Task name.
    pub name: Option<String>,
    /// The robot it was written for (the command line may override).
    pub robot: Option<String>,
    /// Extra named postures: name → joint → value.
    #[serde(default)]
    pub postures: BTreeMap<String, BTreeMap<String, f64>>,
    /// The steps, run in sequence.
    pub steps: Vec<Spanned<RawStep>>,
}

/// Why a task file was refused: where and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub struct TaskError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when not known).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// Source text with its name, to turn byte spans into line numbers.
#[derive(Clone, Debug)]
pub struct Source {
    /// File name.
    pub file: PathBuf,
    /// Text.
    pub text: String,
}

impl Source {
    /// Reads a task file.
    pub fn read(path: &Path) -> Result<Source, TaskError> {
        let text = std::fs::read_to_string(path).map_err(|e| TaskError {
            file: path.to_path_buf(),
            line: 0,
            reason: format!("cannot read: {e}"),
        })?;
        Ok(Source {
            file: path.to_path_buf(),
            text,
        })
    }

    /// The 1-based line of byte offset `at`.
    pub fn line(&self, at: usize) -> usize {
        self.text[..at.min(self.text.len())].matches('\n').count() + 1
    }

    /// An error at `span`.
    pub fn error(&self, span: Range<usize>, reason: impl Into<String>) -> TaskError {
        TaskError {
            file: self.file.clone(),
            line: self.line(span.start),
            reason: reason.into(),
        }
    }

    /// Parses the TOML (syntax, unknown keys, types).
    pub fn parse(&self) -> Result<RawTask, TaskError> {
        toml::from_str(&self.text).map_err(|e| {
            let line = e.span().map_or(0, |s| self.line(s.start));
            TaskError {
                file: self.file.clone(),
                line,
                reason: e.message().trim_end().to_owned(),
            }
        })
    }
}
