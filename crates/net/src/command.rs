//! Commands to a unit and their acknowledgements, in JSON on the unit's
//! `command/<operator>` queryable: the [`Command`] in the query's payload, an [`Ack`]
//! (what came of it) in its reply; the key names who sent it, and a unit hands its owner
//! both as a [`CommandMessage`]. [`Command::parse`] reads the words an operator types.

use embody_control::Lifecycle;
use serde::{Deserialize, Serialize};

use crate::error::NetError;

/// What an operator can tell a unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Stop where it stands and hold (motors on).
    Hold,
    /// Go on after a hold.
    Resume,
    /// Press the software e-stop: the loop faults (damping, then torque off).
    Estop,
    /// Release the e-stop and reset a fault: the loop recovers once every fault
    /// condition has cleared.
    ClearFault,
    /// End what drives the unit; it holds.
    Cancel,
    /// Run a task from the unit's library.
    RunTask {
        /// The task's name in the library.
        name: String,
    },
    /// Run a policy from the unit's library.
    RunPolicy {
        /// The policy's name in the library.
        name: String,
    },
}

impl Command {
    /// The command in an operator's words: `hold`, `resume`, `estop`, `clear`,
    /// `cancel`, `task <name>`, `policy <name>`.
    pub fn parse(text: &str) -> Result<Command, NetError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let named = |name: &str| -> Result<String, NetError> {
            crate::keys::check_name("library entry", name)?;
            Ok(name.to_owned())
        };
        match words.as_slice() {
            ["hold"] => Ok(Command::Hold),
            ["resume"] => Ok(Command::Resume),
            ["estop" | "e-stop"] => Ok(Command::Estop),
            ["clear" | "clear-fault" | "clear_fault"] => Ok(Command::ClearFault),
            ["cancel"] => Ok(Command::Cancel),
            ["task", name] => Ok(Command::RunTask { name: named(name)? }),
            ["policy", name] => Ok(Command::RunPolicy { name: named(name)? }),
            _ => Err(NetError::Invalid(format!(
                "'{text}' is no command: give hold, resume, estop, clear, cancel, task <name> or policy <name>"
            ))),
        }
    }

    /// The command in an operator's words (as [`Command::parse`] reads them).
    pub fn words(&self) -> String {
        match self {
            Command::Hold => "hold".into(),
            Command::Resume => "resume".into(),
            Command::Estop => "estop".into(),
            Command::ClearFault => "clear".into(),
            Command::Cancel => "cancel".into(),
            Command::RunTask { name } => format!("task {name}"),
            Command::RunPolicy { name } => format!("policy {name}"),
        }
    }
}

/// A command and who sent it (the last chunk of the command's key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandMessage {
    /// The operator (their certificate's name where the site uses certificates).
    pub operator: String,
    /// The command.
    #[serde(flatten)]
    pub command: Command,
}

/// What came of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done, or under way (a task started).
    Done,
    /// Not taken in the unit's state (a resume while not held, a task while faulted).
    Refused,
    /// Taken, but the unit could not carry it out.
    Failed,
}

impl Outcome {
    /// The outcome in a word.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// A unit's answer to a command: the query's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The unit.
    pub unit: String,
    /// What came of it.
    pub outcome: Outcome,
    /// Why, or what it led to, in words.
    pub detail: String,
    /// The loop's lifecycle when it answered.
    pub lifecycle: Lifecycle,
}

/// Decodes a JSON message; `what` names it in the error.
pub fn from_json<T: for<'a> Deserialize<'a>>(what: &str, bytes: &[u8]) -> Result<T, NetError> {
    serde_json::from_slice(bytes).map_err(|e| NetError::Malformed {
        what: what.to_owned(),
        why: e.to_string(),
    })
}

/// A message in JSON.
pub fn to_json<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_operators_words_become_commands_and_back() {
        for words in [
            "hold",
            "resume",
            "estop",
            "clear",
            "cancel",
            "task pick_and_place",
            "policy arm7_reach",
        ] {
            let command = Command::parse(words).expect(words);
            assert_eq!(command.words(), words);
        }
        assert_eq!(Command::parse(" e-stop ").expect("estop"), Command::Estop);
        for bad in ["", "fly", "task", "task a b", "task ../x", "hold now"] {
            let e = Command::parse(bad).expect_err(bad);
            assert!(
                e.to_string().contains("give hold") || e.to_string().contains("library entry"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_command_is_flat_json() {
        let command = Command::RunTask {
            name: "pick".into(),
        };
        let json = String::from_utf8(to_json(&command)).expect("utf-8");
        assert_eq!(json, r#"{"command":"run_task","name":"pick"}"#);
        assert_eq!(
            from_json::<Command>("command", json.as_bytes()).expect("back"),
            command
        );
        let e = from_json::<Command>("command", br#"{"command":"fly"}"#).expect_err("unknown");
        assert!(e.to_string().starts_with("command: unknown variant"), "{e}");
    }

    proptest! {
        #[test]
        fn no_bytes_make_the_command_decoder_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = from_json::<Command>("command", &bytes);
            let _ = from_json::<Ack>("ack", &bytes);
        }
    }
}
