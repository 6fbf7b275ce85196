//! [`UnitLink`]: a unit on the network ([`UnitNode`]) on a thread of its own, and the
//! settings of both. The owner — a session's loop driver — never waits on it: offering
//! state and events and collecting commands do not block, and a full inbox drops and
//! counts. Whether the unit still reaches the network (a router or a peer) is there for
//! its owner's [`OnLoss`] policy: [`UnitLink::offline_for`].

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embody_control::Lifecycle;
use serde::{Deserialize, Serialize};

use crate::command::{CommandMessage, Outcome};
use crate::config::NetConfig;
use crate::error::NetError;
use crate::ros2::RosConfig;
use crate::unit_node::{Inbox, Shared, UnitNode};
use crate::wire::{EventKind, UnitEvent, UnitState, unix_ns};

/// What a unit says of itself in its status besides its state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitInfo {
    /// The robot it is.
    pub robot: String,
    /// Its bridge's firmware version, when known.
    pub firmware: Option<String>,
    /// Its configuration record's digest (hex), when it runs a configured unit.
    pub config_digest: Option<String>,
}

/// A unit link's settings.
#[derive(Clone, Debug)]
pub struct UnitLinkConfig {
    /// How to join the network.
    pub net: NetConfig,
    /// The fleet's name.
    pub fleet: String,
    /// The unit's name (its serial).
    pub unit: String,
    /// State messages a second (default 50).
    pub rate_hz: f64,
    /// Events kept for late readers (default 1024).
    pub event_log: usize,
    /// How long a command waits for the owner's acknowledgement (default 2 s).
    pub ack_timeout: Duration,
    /// What the unit says of itself.
    pub info: UnitInfo,
    /// Also publish the unit's joints and diagnostics to ROS 2 (rmw_zenoh's keys).
    pub ros: Option<RosConfig>,
    /// What the unit's session does when it loses the network (default: hold).
    pub on_loss: OnLoss,
    /// How long the network must be gone before that (default 1 s).
    pub loss_after: Duration,
}

/// What a unit's session does once it has lost the network — no router or peer reached
/// for [`UnitLinkConfig::loss_after`] — until an operator resumes it after the network
/// is back. Its local safety (the loop's limits and faults) is the same either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnLoss {
    /// Hold where it stands at once.
    #[default]
    Hold,
    /// Finish the task's step under way, then hold (a policy holds at once).
    FinishStep,
}

impl std::str::FromStr for OnLoss {
    type Err = NetError;

    fn from_str(s: &str) -> Result<OnLoss, NetError> {
        match s {
            "hold" => Ok(OnLoss::Hold),
            "finish-step" => Ok(OnLoss::FinishStep),
            _ => Err(NetError::Invalid(format!(
                "on losing the network: 'hold' or 'finish-step', not '{s}'"
            ))),
        }
    }
}

impl UnitLinkConfig {
    /// `unit` of `fleet` on `net`, with the default rate, log and timeout.
    pub fn new(net: NetConfig, fleet: &str, unit: &str, info: UnitInfo) -> UnitLinkConfig {
        UnitLinkConfig {
            net,
            fleet: fleet.to_owned(),
            unit: unit.to_owned(),
            rate_hz: 50.0,
            event_log: 1024,
            ack_timeout: Duration::from_secs(2),
            info,
            ros: None,
            on_loss: OnLoss::Hold,
            loss_after: Duration::from_secs(1),
        }
    }
}

/// A command for the link's owner to carry out and acknowledge with [`UnitLink::ack`].
#[derive(Clone, Debug)]
pub struct CommandRequest {
    /// Names the command in the acknowledgement.
    pub id: u64,
    /// Who sent what.
    pub message: CommandMessage,
}

/// What a link did, when it finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// State messages published.
    pub states: u64,
    /// Events published.
    pub events: u64,
    /// Commands taken.
    pub commands: u64,
    /// Messages the owner offered while the inbox was full (dropped).
    pub dropped: u64,
    /// Events that fell out of the log before anyone asked for them again.
    pub log_overflow: u64,
}

/// A unit on the network. See the module docs.
pub struct UnitLink {
    shared: Shared,
    /// Behind a lock so the link can be shared (a unit serving a library).
    commands: Mutex<Receiver<CommandRequest>>,
    thread: Option<JoinHandle<Result<LinkStats, NetError>>>,
}

impl UnitLink {
    /// Joins the network as the configured unit and starts publishing. Fails if the
    /// names, endpoints or settings are wrong; a router that cannot be reached yet is
    /// tried again every second in the background, the unit's events kept meanwhile.
    pub fn spawn(config: UnitLinkConfig) -> Result<UnitLink, NetError> {
        let name = format!("net-{}", config.unit);
        let mut node = UnitNode::new(config)?;
        let shared = node.shared();
        let (commands_tx, commands) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut until = Instant::now();
                while node.wait(until) {
                    until = node.poll(Instant::now());
                    for request in node.commands() {
                        if let Err(mpsc::SendError(request)) = commands_tx.send(request) {
                            let why = "the unit's loop has ended".to_owned();
                            node.ack(request.id, Outcome::Failed, why, Lifecycle::Idle);
                        }
                    }
                }
                node.close()
            })
            .map_err(|e| NetError::Thread(e.to_string()))?;
        Ok(UnitLink {
            shared,
            commands: Mutex::new(commands),
            thread: Some(thread),
        })
    }

    fn offer(&self, message: Inbox) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.shared.inbox.try_send(message)
        {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The unit's state now; the link publishes the latest it has at its rate (`seq`
    /// and `events` are the link's to set).
    pub fn offer_state(&self, state: UnitState) {
        *self
            .shared
            .offered
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(state);
    }

    /// An event, stamped now; the link numbers it.
    pub fn event(&self, kind: EventKind, text: String, operator: Option<String>) {
        self.offer(Inbox::Event(UnitEvent {
            seq: 0,
            stamp_ns: unix_ns(),
            kind,
            text,
            operator,
        }));
    }

    /// The commands that came in since the last call.
    pub fn commands(&self) -> Vec<CommandRequest> {
        let commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        commands.try_iter().collect()
    }

    /// How long the unit has been cut off from the network: none while it reaches a
    /// router or a peer, and before it first did (a unit started offline has lost
    /// nothing).
    pub fn offline_for(&self) -> Option<Duration> {
        let presence = *self
            .shared
            .presence
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        presence.lost_since.map(|t| t.elapsed())
    }

    /// What the unit says of itself from now on (its status answers): for a link opened
    /// before the unit knew it all, as a serving unit's is before its first run opens
    /// the bridge.
    pub fn describe(&self, info: UnitInfo) {
        self.offer(Inbox::Describe(info));
    }

    /// Acknowledges command `id` with what came of it and the loop's lifecycle now.
    pub fn ack(&self, id: u64, outcome: Outcome, detail: String, lifecycle: Lifecycle) {
        self.offer(Inbox::Ack(id, outcome, detail, lifecycle));
    }

    /// Leaves the network (the unit's liveliness ends) and says what the link did.
    pub fn finish(mut self) -> Result<LinkStats, NetError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<LinkStats, NetError> {
        // The stop must get through even when the inbox is full.
        let _ = self.shared.inbox.send(Inbox::Stop);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| NetError::Thread("panicked".into()))?,
            None => Ok(LinkStats::default()),
        }
    }
}

impl Drop for UnitLink {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
