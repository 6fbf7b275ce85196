//! The binary messages a unit publishes: [`UnitState`] at the link's rate and
//! [`UnitEvent`], each once and numbered. Each is a format byte ([`FORMAT`]) followed by
//! the message in postcard (varint integers, `f32` little-endian, length-prefixed
//! strings and sequences, enums by variant index), in field order as declared here;
//! `docs/fleet.md` lays the bytes out for readers in other languages.

use embody_control::Lifecycle;
use serde::{Deserialize, Serialize};

use crate::error::NetError;

/// The format byte that starts every message.
pub const FORMAT: u8 = 1;

/// A unit's state, as its link publishes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    /// Counts the link's state messages from 0: a reader sees one lost or out of order.
    pub seq: u64,
    /// When the state was taken (ns since the UNIX epoch).
    pub stamp_ns: u64,
    /// The loop's lifecycle.
    pub lifecycle: Lifecycle,
    /// The last fault's kind (`stale_sensors`, `e_stop`, …) while in fault or recovering.
    pub fault: Option<String>,
    /// What drives the unit.
    pub activity: Activity,
    /// The joints.
    pub joints: JointSummary,
    /// Base pose `[x y z qx qy qz qw]` (identity for a fixed base).
    pub base_pose: [f32; 7],
    /// The link's counters: frames received intact, corrupted, exchanges unanswered,
    /// bus errors.
    pub link: [u64; 4],
    /// The loop's timing.
    pub timing: LoopTiming,
    /// Events so far: the next event's number (a reader that has fewer asks for them).
    pub events: u64,
}

/// What drives a unit, and how far it has come.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Idle, holding, a task or a policy.
    pub kind: ActivityKind,
    /// The task's or policy's name (empty when idle).
    pub name: String,
    /// The step under way (a task's, from 0; a policy's inference count).
    pub step: u32,
    /// The task's steps (0 for a policy).
    pub steps: u32,
}

impl std::fmt::Display for Activity {
    /// `idle`, `holding`, `task pick 3/12` (`task pick step 3` when the count is not
    /// known), `policy arm7_reach step 40`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ActivityKind::Idle => f.write_str("idle"),
            ActivityKind::Holding => f.write_str("holding"),
            ActivityKind::Task if self.steps == 0 => {
                write!(f, "task {} step {}", self.name, self.step + 1)
            }
            ActivityKind::Task => write!(f, "task {} {}/{}", self.name, self.step + 1, self.steps),
            ActivityKind::Policy => write!(f, "policy {} step {}", self.name, self.step),
        }
    }
}

/// See [`Activity`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Nothing drives the unit.
    #[default]
    Idle,
    /// Holding where it stands, on command.
    Holding,
    /// A task.
    Task,
    /// A learned policy.
    Policy,
}

/// The joints in brief.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JointSummary {
    /// Positions (rad), in the model's joint order.
    pub q: Vec<f32>,
    /// The fastest joint's speed (rad/s).
    pub max_speed: f32,
    /// The largest measured torque (N·m).
    pub max_torque: f32,
    /// The largest distance from reference (rad).
    pub max_error: f32,
}

/// The loop's timing counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopTiming {
    /// Ticks so far.
    pub ticks: u64,
    /// Ticks that overran their period.
    pub overruns: u64,
    /// Deadlines missed.
    pub missed: u64,
}

/// One event of a unit, as its link publishes it and keeps it for late readers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitEvent {
    /// Counts the unit's events from 0, without gaps.
    pub seq: u64,
    /// When it happened (ns since the UNIX epoch).
    pub stamp_ns: u64,
    /// What kind of event.
    pub kind: EventKind,
    /// What happened, in words.
    pub text: String,
    /// The operator whose command it was, for commands.
    pub operator: Option<String>,
}

/// See [`UnitEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The lifecycle changed (not into a fault).
    Transition,
    /// The loop faulted.
    Fault,
    /// A task step started or ended, or a policy run did.
    Step,
    /// A command was taken, and what came of it.
    Command,
    /// Anything else the loop reported (refusals, held commands, overruns).
    Loop,
    /// The link's own news (events lost to a full buffer, …).
    Link,
}

/// Nanoseconds since the UNIX epoch: the stamps of states and events.
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A message as bytes: the format byte, then postcard.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Writing to a Vec fails only on a type postcard cannot write, which ours are not.
    postcard::to_extend(message, vec![FORMAT]).unwrap_or_else(|_| vec![FORMAT])
}

/// Decodes a message written by [`encode`]; `what` names it in the error.
pub fn decode<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, NetError> {
    let malformed = |why: String| NetError::Malformed {
        what: what.to_owned(),
        why,
    };
    let (&format, body) = bytes
        .split_first()
        .ok_or_else(|| malformed("empty".into()))?;
    if format != FORMAT {
        return Err(malformed(format!(
            "format {format}, this embody reads format {FORMAT}"
        )));
    }
    let (message, rest) = postcard::take_from_bytes(body).map_err(|e| malformed(format!("{e}")))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} bytes after the message", rest.len())));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state() -> UnitState {
        UnitState {
            seq: 7,
            stamp_ns: 1_764_000_000_000_000_000,
            lifecycle: Lifecycle::Fault,
            fault: Some("e_stop".into()),
            activity: Activity {
                kind: ActivityKind::Task,
                name: "pick_and_place".into(),
                step: 3,
                steps: 12,
            },
            joints: JointSummary {
                q: vec![0.5, -1.0],
                max_speed: 0.25,
                max_torque: 3.0,
                max_error: 0.01,
            },
            base_pose: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            link: [1000, 1, 2, 0],
            timing: LoopTiming {
                ticks: 1000,
                overruns: 1,
                missed: 0,
            },
            events: 4,
        }
    }

    #[test]
    fn state_round_trips_and_its_bytes_start_as_documented() {
        let bytes = encode(&state());
        assert_eq!(
            decode::<UnitState>("state", &bytes).expect("decodes"),
            state()
        );
        // Format byte, seq 7 (varint), the stamp's varint, lifecycle Fault (variant 3).
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(bytes[1], 7);
        let stamp_len = 9; // 1.764e18 < 2^63: nine 7-bit groups
        assert_eq!(bytes[2 + stamp_len], 3);
    }

    #[test]
    fn other_formats_and_trailing_bytes_are_refused() {
        let mut bytes = encode(&state());
        bytes[0] = 2;
        let e = decode::<UnitState>("state", &bytes).expect_err("format 2");
        assert!(e.to_string().contains("format 2"), "{e}");
        let mut bytes = encode(&state());
        bytes.push(0);
        let e = decode::<UnitState>("state", &bytes).expect_err("trailing");
        assert!(e.to_string().contains("1 bytes after"), "{e}");
        assert!(decode::<UnitState>("state", &[]).is_err());
    }

    #[test]
    fn an_activity_in_words() {
        let task = state().activity;
        assert_eq!(task.to_string(), "task pick_and_place 4/12");
        let counted_not = Activity { steps: 0, ..task };
        assert_eq!(counted_not.to_string(), "task pick_and_place step 4");
        assert_eq!(Activity::default().to_string(), "idle");
    }

    proptest! {
        #[test]
        fn no_bytes_make_the_decoders_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode::<UnitState>("state", &bytes);
            let _ = decode::<UnitEvent>("event", &bytes);
        }

        #[test]
        fn a_truncated_or_altered_state_is_an_error_or_another_state(cut in 0usize..80, flip in any::<(usize, u8)>()) {
            let bytes = encode(&state());
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(decode::<UnitState>("state", &bytes[..cut]).is_err());
            let mut altered = bytes.clone();
            let i = flip.0 % altered.len();
            altered[i] ^= flip.1 | 1;
            let _ = decode::<UnitState>("state", &altered);
        }
    }
}
