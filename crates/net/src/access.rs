//! [`Access`]: the site router's access rules, in zenoh's `access_control` terms, for a
//! fleet's roster of certificates ([`crate::certs`]). Everything is denied but:
//! - a unit (certificate `unit:<name>`) publishes its own `state` and `events`, serves
//!   its own `status`, `log` and `command/*` queryables and replies on them, and holds
//!   its own liveliness token — nothing under another unit's key, and no queries, so it
//!   cannot command a unit;
//! - an operator (`operator:<name>`) subscribes to and queries the fleet's keys, and
//!   sends commands only as itself: `…/command/<own name>`, the suffix a unit records as
//!   the command's operator.
//!
//! With a ROS 2 domain, a unit also publishes its own `joint_states` and the graph's
//! `diagnostics` and declares rmw_zenoh liveliness tokens there, and operators (ROS 2
//! tools among them) may watch that domain.
//!
//! The router checks what comes in from each node (ingress) against these rules; what
//! it passes on to a node (egress) only has to be under the fleet's keys, since it was
//! checked on the way in. A node without a certificate never gets a TLS link.

use serde_json::{Value, json};

use crate::certs::{Authority, Role, common_name};
use crate::error::NetError;
use crate::keys::ROOT;

/// The roster whose rules a router enforces.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    /// The fleet whose keys are guarded.
    pub fleet: String,
    /// Units issued certificates.
    pub units: Vec<String>,
    /// Operators issued certificates.
    pub operators: Vec<String>,
    /// The ROS 2 domain units publish to, if they do ([`crate::ros2`]).
    pub ros_domain: Option<u32>,
}

impl Access {
    /// The rules for `fleet` over every unit and operator `ca` issued a certificate
    /// (and their ROS 2 domain, if they publish there).
    pub fn from_roster(
        ca: &Authority,
        fleet: &str,
        ros_domain: Option<u32>,
    ) -> Result<Access, NetError> {
        Ok(Access {
            fleet: fleet.to_owned(),
            units: ca.roster(Role::Unit)?,
            operators: ca.roster(Role::Operator)?,
            ros_domain,
        })
    }

    /// The `access_control` section of a zenoh configuration.
    pub fn zenoh_rules(&self) -> Value {
        let fleet = format!("{ROOT}/{}", self.fleet);
        let everything = format!("{fleet}/**");
        let mut watched = vec![everything.clone()];
        if let Some(domain) = self.ros_domain {
            watched.extend([format!("{domain}/**"), format!("@ros2_lv/{domain}/**")]);
        }
        let mut rules = Vec::new();
        let mut subjects = Vec::new();
        let mut policies = Vec::new();
        let mut rule = |id: String, flow: &str, messages: &[&str], keys: Vec<String>| {
            rules.push(json!({
                "id": id, "permission": "allow", "flows": [flow],
                "messages": messages, "key_exprs": keys,
            }));
            id
        };
        // What the router may pass on to any node of the fleet.
        let passed_on = rule(
            "fleet-egress".into(),
            "egress",
            &[
                "put",
                "delete",
                "declare_subscriber",
                "declare_queryable",
                "query",
                "reply",
                "liveliness_token",
                "declare_liveliness_subscriber",
                "liveliness_query",
            ],
            watched.clone(),
        );
        for unit in &self.units {
            let own = format!("{fleet}/{unit}");
            let mut published = vec![format!("{own}/state"), format!("{own}/events")];
            let mut tokens = vec![own.clone()];
            if let Some(domain) = self.ros_domain {
                let ns = crate::ros2::ros_name(unit);
                published.push(format!("{domain}/{ns}/joint_states/**"));
                published.push(format!("{domain}/diagnostics/**"));
                tokens.push(format!("@ros2_lv/{domain}/*/*/*/*/%/%{ns}/**"));
            }
            let publishes = rule(
                format!("unit-{unit}-publishes"),
                "ingress",
                &["put"],
                published,
            );
            let serves = rule(
                format!("unit-{unit}-serves"),
                "ingress",
                &["declare_queryable", "reply"],
                vec![
                    format!("{own}/status"),
                    format!("{own}/log"),
                    format!("{own}/command/*"),
                ],
            );
            let alive = rule(
                format!("unit-{unit}-alive"),
                "ingress",
                &["liveliness_token"],
                tokens,
            );
            let subject = format!("unit-{unit}");
            subjects.push(json!({
                "id": subject, "cert_common_names": [common_name(Role::Unit, unit)],
            }));
            policies.push(json!({
                "rules": [publishes, serves, alive, passed_on], "subjects": [subject],
            }));
        }
        if !self.operators.is_empty() {
            let watches = rule(
                "operators-watch".into(),
                "ingress",
                &[
                    "declare_subscriber",
                    "declare_liveliness_subscriber",
                    "liveliness_query",
                ],
                watched.clone(),
            );
            let asks = rule(
                "operators-ask".into(),
                "ingress",
                &["query"],
                vec![format!("{fleet}/*/status"), format!("{fleet}/*/log")],
            );
            for operator in &self.operators {
                let commands = rule(
                    format!("operator-{operator}-commands"),
                    "ingress",
                    &["query"],
                    vec![format!("{fleet}/*/command/{operator}")],
                );
                let subject = format!("operator-{operator}");
                subjects.push(json!({
                    "id": subject, "cert_common_names": [common_name(Role::Operator, operator)],
                }));
                policies.push(json!({
                    "rules": [watches, asks, commands, passed_on], "subjects": [subject],
                }));
            }
        }
        json!({
            "enabled": true,
            "default_permission": "deny",
            "rules": rules,
            "subjects": subjects,
            "policies": policies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_gets_its_own_keys_and_each_operator_its_own_commands() {
        let access = Access {
            fleet: "lab".into(),
            units: vec!["A1".into(), "A2".into()],
            operators: vec!["ana".into()],
            ros_domain: None,
        };
        let rules = access.zenoh_rules();
        let text = rules.to_string();
        assert_eq!(rules["default_permission"], "deny");
        assert!(
            text.contains(r#""cert_common_names":["unit:A2"]"#),
            "{text}"
        );
        assert!(text.contains(r#""embody/lab/A1/state""#), "{text}");
        assert!(text.contains(r#""embody/lab/*/command/ana""#), "{text}");
        // Two units and one operator: three policies, ids unique.
        assert_eq!(rules["policies"].as_array().map(Vec::len), Some(3));
        let ids: Vec<&str> = (rules["rules"].as_array().expect("rules").iter())
            .filter_map(|r| r["id"].as_str())
            .collect();
        let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }
}
