//! [`Router`]: a zenoh router inside embody (`embody fleet router`), for a site or a
//! test that does not run `zenohd`: units and operators connect to it as clients. With
//! the fleet's certificates it takes only mutual-TLS links and enforces the fleet's
//! access rules ([`crate::access`]).

use zenoh::Wait;

use crate::config::{Mode, NetConfig};
use crate::error::NetError;

/// A router running until closed or dropped.
pub struct Router {
    session: zenoh::Session,
}

impl Router {
    /// Starts a router as `net` says: its listening endpoints (`tcp/0.0.0.0:7447`,
    /// `tls/0.0.0.0:7447`), certificate and access rules.
    pub fn start(net: &NetConfig) -> Result<Router, NetError> {
        if net.listen.is_empty() {
            return Err(NetError::Invalid(
                "a router needs an endpoint to listen on (tcp/0.0.0.0:7447)".into(),
            ));
        }
        let net = NetConfig {
            mode: Mode::Router,
            ..net.clone()
        };
        let session = zenoh::open(net.zenoh()?).wait().map_err(|e| {
            NetError::zenoh(
                &format!("starting a router on {}", net.listen.join(", ")),
                e,
            )
        })?;
        Ok(Router { session })
    }

    /// Stops it: its clients lose it, and try again in the background.
    pub fn close(self) -> Result<(), NetError> {
        self.session
            .close()
            .wait()
            .map_err(|e| NetError::zenoh("closing the router", e))
    }
}
