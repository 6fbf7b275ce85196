//! [`NetConfig`]: how a unit or an operator joins the site's zenoh network — as a
//! client of the site's router, a peer, or the router itself — and the zenoh
//! configuration it becomes. Scouting is off: a node talks only to the endpoints it is
//! given, so the network's shape (units and operators around routers) is the site's
//! choice, not discovered. With an [`Identity`] the node's links are mutual TLS with
//! the fleet's CA; a router given [`Access`] enforces the fleet's access rules.

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::certs::Identity;
use crate::error::NetError;

/// A node's role in zenoh's terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Talks through the router it connects to (the default).
    #[default]
    Client,
    /// Talks to the nodes it connects to and those that connect to it.
    Peer,
    /// Routes between the nodes that connect to it.
    Router,
}

impl Mode {
    fn zenoh_name(self) -> &'static str {
        match self {
            Mode::Client => "client",
            Mode::Peer => "peer",
            Mode::Router => "router",
        }
    }
}

/// How to join the network. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// The node's role.
    pub mode: Mode,
    /// Endpoints to connect to (`tcp/10.0.0.2:7447`): the site's router.
    pub connect: Vec<String>,
    /// Endpoints to listen on (a router's, or a peer's that others connect to).
    pub listen: Vec<String>,
    /// The node's certificate: every link is then `tls/`, both ends showing a
    /// certificate of the fleet's CA.
    pub tls: Option<Identity>,
    /// The access rules a router enforces (it needs `tls`: the rules name
    /// certificates).
    pub access: Option<Access>,
}

impl NetConfig {
    /// A client of the router at `endpoint`.
    pub fn client(endpoint: &str) -> NetConfig {
        NetConfig {
            mode: Mode::Client,
            connect: vec![endpoint.to_owned()],
            ..NetConfig::default()
        }
    }

    /// A router listening on `endpoint`.
    pub fn router(endpoint: &str) -> NetConfig {
        NetConfig {
            mode: Mode::Router,
            listen: vec![endpoint.to_owned()],
            ..NetConfig::default()
        }
    }

    /// The zenoh configuration: the mode and endpoints, scouting off, and a node that
    /// keeps trying its endpoints in the background rather than failing when the router
    /// is not up yet (or goes away).
    pub fn zenoh(&self) -> Result<zenoh::Config, NetError> {
        if self.mode != Mode::Router && self.connect.is_empty() && self.listen.is_empty() {
            return Err(NetError::Invalid(
                "no endpoint: give the router to connect to (tcp/<host>:7447)".into(),
            ));
        }
        for endpoint in self.connect.iter().chain(&self.listen) {
            endpoint
                .parse::<zenoh::config::EndPoint>()
                .map_err(|e| NetError::Invalid(format!("endpoint '{endpoint}': {e}")))?;
        }
        fn json<T: Serialize + ?Sized>(value: &T) -> String {
            serde_json::to_string(value).unwrap_or_default()
        }
        let mut settings = vec![
            ("mode", json(self.mode.zenoh_name())),
            ("connect/endpoints", json(&self.connect)),
            ("listen/endpoints", json(&self.listen)),
            ("scouting/multicast/enabled", "false".to_owned()),
            ("scouting/gossip/enabled", "false".to_owned()),
            // Open at once, and keep trying the router in the background.
            ("connect/timeout_ms", "0".to_owned()),
            ("connect/exit_on_failure", "false".to_owned()),
            (
                "connect/retry",
                "{period_init_ms: 100, period_max_ms: 1000, period_increase_factor: 2}".to_owned(),
            ),
        ];
        if self.mode == Mode::Router {
            // zenoh's default is 1,000 sessions: a site's units, operators and tools.
            settings.push(("transport/unicast/max_sessions", "10000".to_owned()));
        }
        settings.extend(self.tls_settings()?);
        if let Some(access) = &self.access {
            if self.tls.is_none() {
                return Err(NetError::Invalid(
                    "access rules name certificates: give the router its certificate too".into(),
                ));
            }
            crate::keys::check_name("fleet", &access.fleet)?;
            settings.push(("access_control", access.zenoh_rules().to_string()));
        }
        let mut config = zenoh::Config::default();
        for (key, value) in settings {
            config
                .insert_json5(key, &value)
                .map_err(|e| NetError::zenoh(&format!("setting {key}"), e))?;
        }
        Ok(config)
    }

    /// Mutual TLS with the identity's certificate and the fleet's CA, on `tls/`
    /// endpoints only; none without an identity, and then no `tls/` endpoint.
    fn tls_settings(&self) -> Result<Vec<(&'static str, String)>, NetError> {
        let endpoints = || self.connect.iter().chain(&self.listen);
        let Some(identity) = &self.tls else {
            return match endpoints().find(|e| e.starts_with("tls/")) {
                Some(e) => Err(NetError::Invalid(format!(
                    "endpoint '{e}' is TLS: give the node its certificate (--certs DIR)"
                ))),
                None => Ok(Vec::new()),
            };
        };
        if let Some(e) = endpoints().find(|e| !e.starts_with("tls/")) {
            return Err(NetError::Invalid(format!(
                "endpoint '{e}': a node with a certificate talks over tls/<host>:<port> only"
            )));
        }
        for path in [&identity.ca, &identity.cert, &identity.key] {
            if !path.is_file() {
                return Err(NetError::Certs {
                    path: path.clone(),
                    why: "missing".into(),
                });
            }
        }
        let path =
            |p: &std::path::Path| serde_json::to_string(&p.to_string_lossy()).unwrap_or_default();
        Ok(vec![
            ("transport/link/tls/root_ca_certificate", path(&identity.ca)),
            ("transport/link/tls/enable_mtls", "true".into()),
            ("transport/link/tls/verify_name_on_connect", "true".into()),
            (
                "transport/link/tls/connect_certificate",
                path(&identity.cert),
            ),
            (
                "transport/link/tls/connect_private_key",
                path(&identity.key),
            ),
            (
                "transport/link/tls/listen_certificate",
                path(&identity.cert),
            ),
            ("transport/link/tls/listen_private_key", path(&identity.key)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_becomes_a_zenoh_configuration() {
        let config = NetConfig::client("tcp/127.0.0.1:7447")
            .zenoh()
            .expect("config");
        assert_eq!(config.get_json("mode").expect("mode"), "\"client\"");
        assert!(
            config
                .get_json("connect/endpoints")
                .expect("endpoints")
                .contains("tcp/127.0.0.1:7447")
        );
    }

    #[test]
    fn bad_endpoints_are_refused_by_name() {
        let e = NetConfig::client("127.0.0.1:7447")
            .zenoh()
            .expect_err("no protocol");
        assert!(
            e.to_string().starts_with("endpoint '127.0.0.1:7447'"),
            "{e}"
        );
        let e = NetConfig {
            mode: Mode::Client,
            ..NetConfig::default()
        }
        .zenoh()
        .expect_err("none");
        assert!(e.to_string().starts_with("no endpoint"), "{e}");
    }
}
