//! Names that become file names in a fleet directory — unit serials
//! (`units/<serial>.toml`, `calibration/<serial>.toml`) and robot names
//! (`robots/<robot>.toml`) — checked by one function, [`check`], wherever a name enters:
//! a command-line argument, a key of a unit's configuration, a file written. A name that
//! passes is a single plain file name, so nothing named can reach outside its folder.
//! Never touches the file system.

/// The longest name (bytes): what a unit's record holds of its serial.
pub const MAX_LEN: usize = 32;

/// What a name may be, as said in every refusal.
pub const RULE: &str =
    "a name is 1 to 32 ASCII letters, digits, '-', '_' or '.', and does not start with '.'";

/// Why a name cannot be a file name in the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    /// It is empty.
    #[error("it is empty")]
    Empty,
    /// It is longer than [`MAX_LEN`] bytes.
    #[error("it is {0} bytes long")]
    TooLong(usize),
    /// It starts with `.` (a hidden file, or `..`).
    #[error("it starts with '.'")]
    LeadingDot,
    /// It holds a character outside the alphabet (a path separator, a space, NUL, …).
    #[error("it contains '{}'", .0.escape_default())]
    Character(char),
}

/// A name refused, with what it was to name and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{}' cannot be {what}: {why} ({RULE})", shown(.name))]
pub struct BadName {
    /// What the name was to name (`a unit serial`, `a robot name`).
    pub what: &'static str,
    /// The name as given.
    pub name: String,
    /// Why it was refused.
    pub why: Why,
}

/// The name as a message shows it: control characters escaped, and cut short.
fn shown(name: &str) -> String {
    let escaped: String = name.chars().flat_map(char::escape_debug).collect();
    match escaped.char_indices().nth(2 * MAX_LEN) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

/// Checks that `name`, which is to be `what` (`a unit serial`), can be a file name in
/// the fleet: see [`RULE`].
pub fn check(what: &'static str, name: &str) -> Result<(), BadName> {
    let refuse = |why| {
        Err(BadName {
            what,
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return refuse(Why::Empty);
    }
    if name.len() > MAX_LEN {
        return refuse(Why::TooLong(name.len()));
    }
    if name.starts_with('.') {
        return refuse(Why::LeadingDot);
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(c) => refuse(Why::Character(c)),
        None => Ok(()),
    }
}

/// A unit serial from the command line (`--unit SERIAL`, `config check <unit>`):
/// [`check`]ed, for clap's `value_parser`.
pub fn parse_serial(arg: &str) -> Result<String, BadName> {
    check("a unit serial", arg).map(|()| arg.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for name in ["ARM-0001", "arm7", "unit_3.b", "a", &"x".repeat(MAX_LEN)] {
            assert_eq!(check("a unit serial", name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_that_are_paths_or_odd_are_refused_with_the_reason() {
        let why = |name: &str| check("a unit serial", name).map_err(|e| e.why);
        assert_eq!(why("../robots/arm7"), Err(Why::LeadingDot));
        assert_eq!(why("a/../../b"), Err(Why::Character('/')));
        assert_eq!(why("a\\b"), Err(Why::Character('\\')));
        assert_eq!(why("a\0b"), Err(Why::Character('\0')));
        assert_eq!(why("a b"), Err(Why::Character(' ')));
        assert_eq!(why("ARM-ü"), Err(Why::Character('ü')));
        assert_eq!(why(".hidden"), Err(Why::LeadingDot));
        assert_eq!(why(".."), Err(Why::LeadingDot));
        assert_eq!(why(""), Err(Why::Empty));
        assert_eq!(why(&"x".repeat(33)), Err(Why::TooLong(33)));
    }

    #[test]
    fn a_refusal_is_a_sentence_with_the_name_shown_safely() {
        let e = check("a unit serial", "../robots/arm7").expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!("'../robots/arm7' cannot be a unit serial: it starts with '.' ({RULE})")
        );
        let e = check("a unit serial", "a\nb\0").expect_err("refused");
        assert!(e.to_string().starts_with(r"'a\nb\0' cannot be"), "{e}");
        let long = "y".repeat(10_000);
        let e = check("a unit serial", &long).expect_err("refused");
        assert!(e.to_string().len() < 300, "{e}");
        assert!(e.to_string().contains("10000 bytes long"), "{e}");
    }
}
