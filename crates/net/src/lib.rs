//! embody-net: units and operators on a site's network, over zenoh.
//!
//! Each unit joins a zenoh session ([`NetConfig`]: a peer or a client of the site's
//! router) under `embody/<fleet>/<unit>` ([`keys`]) and, through a [`UnitNode`] (on a
//! thread of its own: a [`UnitLink`]), declares its liveliness, publishes its state at
//! a set rate and every event once, numbered ([`wire`]: postcard after a format byte),
//! answers queries for its status and recent events (JSON and the same binary events),
//! and takes commands ([`command`]: JSON) that it acknowledges with their outcome. The
//! loop that owns a link never waits on it: it offers state and events and collects
//! commands without blocking. [`Fleet`] is the operators' side: who is alive, each
//! unit's status, commands to many units with a summary of who answered, and the live
//! state of all. [`sim_units`] runs light simulated units for load and fault tests.
//! [`certs`] is the fleet's certificate authority; with it, links are mutual TLS and
//! the site's [`Router`] enforces [`Access`] rules: units speak only for themselves,
//! operators command only under their own names.

mod access;
pub mod bench;
pub mod certs;
pub mod command;
mod config;
mod error;
mod fleet;
pub mod keys;
pub mod ros2;
mod router;
pub mod sim_units;
mod unit_link;
mod unit_node;
pub mod wire;

pub use access::Access;
pub use certs::{Authority, Identity, Role};
pub use command::{Ack, Command, CommandMessage, Outcome};
pub use config::{Mode, NetConfig};
pub use error::NetError;
pub use fleet::{Fleet, SendReport, UnitStatus, UnitView, Watch};
pub use router::Router;
pub use unit_link::{CommandRequest, LinkStats, OnLoss, UnitInfo, UnitLink, UnitLinkConfig};
pub use unit_node::UnitNode;
