//! Task files. A task is a tree of steps — `sequence`, `parallel`, `retry`, `timeout`,
//! and an `if` guard on any step — over skills: `move_joints`, `move_pose`, `hold`,
//! `wait`, `gripper`, `wait_until`. A `move_pose` may be relative to where the frame is
//! (`relative_to = "start"`), to an object the cameras see (`relative_to =
//! "object:box"`), planned when it starts, or to one of the task's places (`relative_to =
//! "place:drop"`, where the runtime drew it for the run). Loading checks the file against the robot before
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
use std::io::Read;
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
    pub position: Option<Spanned<[f64; 3]>>,
    /// `move_pose`: target roll, pitch, yaw (rad); the current orientation if absent.
    pub rpy: Option<Spanned<[f64; 3]>>,
    /// `move_pose`: `line` (straight) or `free` (joint space). Default `free`.
    pub path: Option<Spanned<String>>,
    /// `move_pose`: `start`: `position` is an offset from where the frame is when the
    /// step starts; `object:<name>`: `position` and `rpy` are in that seen object's
    /// frame, where the cameras last saw it when the step starts; `place:<name>`:
    /// `position` is an offset (along the world's axes) from that place of `[places]`.
    pub relative_to: Option<Spanned<String>>,
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
    /// `policy`: the package directory, relative to the task file.
    pub package: Option<Spanned<String>>,
    /// `policy`: command values over the package's (`vx vy wz x y z`).
    pub command: Option<Spanned<BTreeMap<String, f64>>>,
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
    /// Object form: this scene object …
    pub object: Option<String>,
    /// … within `tolerance` of this position in the world (m) …
    pub position: Option<[f64; 3]>,
    /// … or of this place (`[places]`), where it is for the run.
    pub place: Option<String>,
    /// Seen form: a `[[seen]]` object the cameras have seen in the last half second.
    pub seen: Option<String>,
}

/// A task file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    /// Task name.
    pub name: Option<String>,
    /// The robot it was written for (the command line may override).
    pub robot: Option<String>,
    /// The scene the task is written for: the simulator's `[environment]` (ground,
    /// static boxes, objects) as a scenario gives it, read by the runtime.
    pub environment: Option<Spanned<toml::Value>>,
    /// Cameras the simulator adds for the task (`[[cameras]]`, as a scenario gives
    /// them), read by the runtime.
    pub cameras: Option<Spanned<toml::Value>>,
    /// Objects the task looks for with its cameras (`[[seen]]`), read by the runtime.
    pub seen: Option<Spanned<toml::Value>>,
    /// How the robot starts in the simulator (`[start]`), read by the runtime.
    pub start: Option<Spanned<toml::Value>>,
    /// Named points in the world, each maybe drawn from ranges per run (`[places]`),
    /// read by the runtime, which gives the planner where they are
    /// ([`crate::RobotInfo::places`]).
    pub places: Option<Spanned<toml::Value>>,
    /// Extra named postures: name → joint → value.
    #[serde(default)]
    pub postures: BTreeMap<String, Spanned<BTreeMap<String, f64>>>,
    /// The steps, run in sequence.
    pub steps: Vec<Spanned<RawStep>>,
}

/// Why a task file was refused: where and why (`file:line: reason`, or `file: reason`
/// when no line is known).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {reason}", place(.file, *.line))]
pub struct TaskError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when not known).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// The largest task file read (bytes): 8 MiB, some hundred thousand steps. A larger
/// file is refused before it is read.
pub const MAX_TASK_BYTES: usize = 8 << 20;

/// How deep TOML may nest tables (the `toml` parser's limit).
const TOML_DEPTH: usize = 80;

/// Source text with its name, to turn byte spans into line numbers.
#[derive(Clone, Debug)]
pub struct Source {
    /// File name.
    pub file: PathBuf,
    text: String,
    /// The byte offset where each line starts, in order (the first is 0).
    line_starts: Vec<usize>,
}

impl Source {
    /// `text`, named `file` (a task given as text; [`Source::read`] reads one).
    pub fn new(file: impl Into<PathBuf>, text: impl Into<String>) -> Source {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Source {
            file: file.into(),
            text,
            line_starts,
        }
    }

    /// Reads a task file (at most [`MAX_TASK_BYTES`] of it: a larger one is refused).
    pub fn read(path: &Path) -> Result<Source, TaskError> {
        let unreadable = |reason: String| TaskError {
            file: path.to_path_buf(),
            line: 0,
            reason,
        };
        let file =
            std::fs::File::open(path).map_err(|e| unreadable(format!("cannot read: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_TASK_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreadable(format!("cannot read: {e}")))?;
        if bytes.len() > MAX_TASK_BYTES {
            return Err(unreadable(too_large()));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            TaskError {
                file: path.to_path_buf(),
                line: valid.iter().filter(|b| **b == b'\n').count() + 1,
                reason: "the file is not UTF-8 text".into(),
            }
        })?;
        Ok(Source::new(path, text))
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line of byte offset `at` (the last line past the end).
    pub fn line(&self, at: usize) -> usize {
        // Lines starting at or before `at`; the first starts at 0.
        self.line_starts.partition_point(|start| *start <= at)
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
        if self.text.len() > MAX_TASK_BYTES {
            return Err(TaskError {
                file: self.file.clone(),
                line: 0,
                reason: too_large(),
            });
        }
        toml::from_str(&self.text).map_err(|e| {
            let message = e.message().trim_end();
            let (line, reason) = if message.contains("recursion") {
                // The parser's own words name neither the cause nor (for a table
                // header) the line.
                let line = e
                    .span()
                    .map(|s| self.line(s.start))
                    .or_else(|| self.too_deep_key())
                    .unwrap_or(0);
                let reason =
                    format!("tables or keys nest too deeply (the limit is {TOML_DEPTH} levels)");
                (line, reason)
            } else {
                (
                    e.span().map_or(0, |s| self.line(s.start)),
                    message.to_owned(),
                )
            };
            TaskError {
                file: self.file.clone(),
                line,
                reason,
            }
        })
    }

    /// The first line whose key or table header has [`TOML_DEPTH`] dotted parts or
    /// more (a dot in a quoted key counts too: this only places an error the parser
    /// found).
    fn too_deep_key(&self) -> Option<usize> {
        self.text
            .lines()
            .position(|line| {
                let key = line.split('=').next().unwrap_or(line);
                key.matches('.').count() + 1 >= TOML_DEPTH
            })
            .map(|index| index + 1)
    }
}

/// `file:line`, or `file` when the line is not known (0).
fn place(file: &Path, line: usize) -> String {
    if line == 0 {
        file.display().to_string()
    } else {
        format!("{}:{line}", file.display())
    }
}

fn too_large() -> String {
    format!(
        "the file is larger than {} MiB, the largest task file read",
        MAX_TASK_BYTES >> 20
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn the_line_table_agrees_with_counting_newlines(text in "[a\n\u{e9}]{0,40}", at in 0usize..50) {
            let source = Source::new("t.toml", text.as_str());
            let counted = text.as_bytes()[..at.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1;
            prop_assert_eq!(source.line(at), counted);
        }
    }

    #[test]
    fn too_deep_tables_are_named_and_located() {
        let header = format!(
            "[[steps]]\nskill = \"retry\"\n[steps{}]\nskill = \"wait\"\n",
            ".step".repeat(90)
        );
        let error = Source::new("deep.toml", header)
            .parse()
            .expect_err("too deep");
        assert_eq!(error.line, 3, "{error}");
        assert!(
            error
                .reason
                .contains("nest too deeply (the limit is 80 levels)"),
            "{error}"
        );
        let inline = format!(
            "steps = [{}{{ skill = \"wait\" }}{}]\n",
            "{ skill = \"retry\", step = ".repeat(90),
            " }".repeat(90)
        );
        let error = Source::new("deep.toml", inline)
            .parse()
            .expect_err("too deep");
        assert_eq!(error.line, 1, "{error}");
        assert!(
            error
                .reason
                .contains("nest too deeply (the limit is 80 levels)"),
            "{error}"
        );
    }

    #[test]
    fn a_file_past_the_size_limit_is_refused_unread() {
        let path =
            std::env::temp_dir().join(format!("embody-planner-large-{}.toml", std::process::id()));
        let file = std::fs::File::create(&path).expect("create");
        // Sparse: the size of 100 task files' limit, none of it written.
        file.set_len(100 * MAX_TASK_BYTES as u64).expect("set_len");
        let error = Source::read(&path).expect_err("too large");
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(
            error.to_string(),
            format!(
                "{}: the file is larger than 8 MiB, the largest task file read",
                path.display()
            )
        );
    }
}
