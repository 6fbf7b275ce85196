//! The key expressions of a fleet: `embody/<fleet>/<unit>` is a unit's liveliness token,
//! and under it `state` and `events` (published), `status`, `log` and `command/*`
//! (queryables; a command's key ends with its operator's name, which the site's access
//! rules tie to the operator's certificate). Fleet, unit and operator names are checked
//! to be single chunks a key expression can hold.

use crate::error::NetError;

/// The root of every key.
pub const ROOT: &str = "embody";

/// Checks a fleet or unit name: 1 to 64 of ASCII letters, digits, `-`, `_` and `.`.
pub fn check_name(what: &'static str, name: &str) -> Result<(), NetError> {
    let refuse = |why| {
        Err(NetError::Name {
            what,
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return refuse("a name has 1 to 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return refuse("a name has only ASCII letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

/// A unit's keys, for a fleet and unit whose names were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitKeys {
    /// `embody/<fleet>/<unit>`: the liveliness token.
    pub alive: String,
    /// `…/state`: the unit's state at the link's rate.
    pub state: String,
    /// `…/events`: every event, once.
    pub events: String,
    /// `…/status`: answers with the unit's status (JSON).
    pub status: String,
    /// `…/log`: answers with the recent events after `?after=<seq>`.
    pub log: String,
    /// `…/command`: under it, `…/command/<operator>` takes an operator's commands and
    /// answers with their acknowledgement.
    pub command: String,
}

impl UnitKeys {
    /// The keys of `unit` in `fleet`.
    pub fn new(fleet: &str, unit: &str) -> Result<UnitKeys, NetError> {
        check_name("fleet", fleet)?;
        check_name("unit", unit)?;
        let alive = format!("{ROOT}/{fleet}/{unit}");
        Ok(UnitKeys {
            state: format!("{alive}/state"),
            events: format!("{alive}/events"),
            status: format!("{alive}/status"),
            log: format!("{alive}/log"),
            command: format!("{alive}/command"),
            alive,
        })
    }

    /// `…/command/<operator>`: where `operator` sends this unit commands.
    pub fn command_from(&self, operator: &str) -> Result<String, NetError> {
        check_name("operator", operator)?;
        Ok(format!("{}/{operator}", self.command))
    }
}

/// The operator named in a command's key (its last chunk), if it is a valid name.
pub fn operator_of(key: &str) -> Option<&str> {
    let (_, operator) = key.rsplit_once("/command/")?;
    check_name("operator", operator).ok().map(|()| operator)
}

/// `embody/<fleet>/*`, `embody/<fleet>/*/<leaf>`: every unit's token or `leaf`.
pub fn all_units(fleet: &str, leaf: Option<&str>) -> String {
    match leaf {
        Some(leaf) => format!("{ROOT}/{fleet}/*/{leaf}"),
        None => format!("{ROOT}/{fleet}/*"),
    }
}

/// The unit named in a key under `embody/<fleet>/`, if it is one.
pub fn unit_of<'k>(fleet: &str, key: &'k str) -> Option<&'k str> {
    let rest = key.strip_prefix(ROOT)?.strip_prefix('/')?;
    let rest = rest.strip_prefix(fleet)?.strip_prefix('/')?;
    let unit = rest.split('/').next()?;
    (!unit.is_empty()).then_some(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_break_a_key_are_refused() {
        for bad in ["", "a/b", "a*", "$x", "a b", "ü", &"x".repeat(65)] {
            assert!(check_name("unit", bad).is_err(), "{bad:?}");
        }
        for good in ["A1", "arm-07", "lab_3.west"] {
            check_name("unit", good).expect(good);
        }
    }

    #[test]
    fn a_units_keys_and_back() {
        let keys = UnitKeys::new("lab", "ARM-0001").expect("keys");
        assert_eq!(keys.alive, "embody/lab/ARM-0001");
        assert_eq!(keys.command, "embody/lab/ARM-0001/command");
        assert_eq!(unit_of("lab", &keys.state), Some("ARM-0001"));
        assert_eq!(unit_of("lab", &keys.alive), Some("ARM-0001"));
        assert_eq!(unit_of("farm", &keys.state), None);
        assert_eq!(all_units("lab", Some("state")), "embody/lab/*/state");
        let from_ana = keys.command_from("ana").expect("ana");
        assert_eq!(from_ana, "embody/lab/ARM-0001/command/ana");
        assert_eq!(operator_of(&from_ana), Some("ana"));
        assert_eq!(operator_of("embody/lab/ARM-0001/command/*"), None);
        assert!(keys.command_from("a/b").is_err());
    }
}
