//! Commands to a unit and their acknowledgements, in JSON on the unit's
//! `command/<operator>` queryable: the [`Command`] in the query's payload, an [`Ack`]
//! (what came of it) in its reply; the key names who sent it, and a unit hands its owner
//! both as a [`CommandMessage`]. [`Command::parse`] reads the words an operator types.

use std::collections::BTreeMap;

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
        /// Command values over the policy's own (`x`, `y`, `z` of a goal; `vx`, `vy`,
        /// `wz` of a velocity): which the policy knows is the unit's to check.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        values: BTreeMap<String, f64>,
    },
}

impl Command {
    /// The command in an operator's words: `hold`, `resume`, `estop`, `clear`,
    /// `cancel`, `task <name>`, `policy <name> [key=value,…]`.
    pub fn parse(text: &str) -> Result<Command, NetError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let named = |name: &str| -> Result<String, NetError> {
            crate::keys::check_name("library entry", name)?;
            Ok(name.to_owned())
        };
        if let ["policy", name, values @ ..] = words.as_slice()
            && !values.is_empty()
        {
            return Ok(Command::RunPolicy {
                name: named(name)?,
                values: command_values(values)?,
            });
        }
        match words.as_slice() {
            ["hold"] => Ok(Command::Hold),
            ["resume"] => Ok(Command::Resume),
            ["estop" | "e-stop"] => Ok(Command::Estop),
            ["clear" | "clear-fault" | "clear_fault"] => Ok(Command::ClearFault),
            ["cancel"] => Ok(Command::Cancel),
            ["task", name] => Ok(Command::RunTask { name: named(name)? }),
            ["policy", name] => Ok(Command::RunPolicy {
                name: named(name)?,
                values: BTreeMap::new(),
            }),
            _ => Err(NetError::Invalid(format!(
                "'{text}' is no command: give hold, resume, estop, clear, cancel, task <name> or policy <name> [key=value,…]"
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
            Command::RunPolicy { name, values } if values.is_empty() => format!("policy {name}"),
            Command::RunPolicy { name, values } => {
                let values: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("policy {name} {}", values.join(","))
            }
        }
    }
}

/// Command values in an operator's words, `x=0.4,y=0` (or apart: `x=0.4 y=0`): each key
/// a name, each value a finite number, no key twice.
fn command_values(words: &[&str]) -> Result<BTreeMap<String, f64>, NetError> {
    let mut values = BTreeMap::new();
    for pair in words
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|p| !p.is_empty())
    {
        let refuse = |why: &str| Err(NetError::Invalid(format!("command value '{pair}': {why}")));
        let Some((key, value)) = pair.split_once('=') else {
            return refuse("write key=value, e.g. x=0.4");
        };
        crate::keys::check_name("command value", key)?;
        let Some(value) = value.parse::<f64>().ok().filter(|v| v.is_finite()) else {
            return refuse("not a finite number");
        };
        if values.insert(key.to_owned(), value).is_some() {
            return refuse("given twice");
        }
    }
    Ok(values)
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
            "policy arm7_reach x=-0.35,y=0.05,z=0.32",
        ] {
            let command = Command::parse(words).expect(words);
            assert_eq!(command.words(), words);
        }
        assert_eq!(Command::parse(" e-stop ").expect("estop"), Command::Estop);
        let apart = Command::parse("policy reach z=0.3 x=1e-1,").expect("values apart");
        assert_eq!(apart.words(), "policy reach x=0.1,z=0.3");
        for (bad, why) in [
            ("policy reach x", "write key=value"),
            ("policy reach x=inf", "not a finite number"),
            ("policy reach x=1,x=2", "given twice"),
            ("policy reach =1", "command value"),
            ("policy reach x/y=1", "command value"),
        ] {
            let e = Command::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
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
        let policy = Command::parse("policy reach x=0.4,z=-0.5").expect("policy");
        let json = String::from_utf8(to_json(&policy)).expect("utf-8");
        assert_eq!(
            json,
            r#"{"command":"run_policy","name":"reach","values":{"x":0.4,"z":-0.5}}"#
        );
        assert_eq!(
            from_json::<Command>("command", json.as_bytes()).expect("back"),
            policy
        );
        let plain = br#"{"command":"run_policy","name":"reach"}"#;
        assert_eq!(
            from_json::<Command>("command", plain).expect("no values"),
            Command::parse("policy reach").expect("policy")
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
