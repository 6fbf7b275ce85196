//! [`Router`]: a zenoh router inside embody (`embody fleet router`), for a site or a
//! test that does not run `zenohd`: units and operators connect to it as clients.

use zenoh::Wait;

use crate::config::NetConfig;
use crate::error::NetError;

/// A router running until closed or dropped.
pub struct Router {
    session: zenoh::Session,
}

impl Router {
    /// Starts a router listening on `endpoints` (`tcp/0.0.0.0:7447`).
    pub fn start(endpoints: &[String]) -> Result<Router, NetError> {
        if endpoints.is_empty() {
            return Err(NetError::Invalid(
                "a router needs an endpoint to listen on (tcp/0.0.0.0:7447)".into(),
            ));
        }
        let net = NetConfig {
            listen: endpoints.to_vec(),
            ..NetConfig::router("tcp/0.0.0.0:7447")
        };
        let session = zenoh::open(net.zenoh()?).wait().map_err(|e| {
            NetError::zenoh(&format!("starting a router on {}", endpoints.join(", ")), e)
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
