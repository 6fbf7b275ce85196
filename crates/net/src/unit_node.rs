//! [`UnitNode`]: a unit on the network, driven by its owner's thread. It declares the
//! unit's liveliness, publishes the latest state it was offered at its rate and every
//! event once (numbered, and kept in a bounded log that late readers query from a
//! number on), answers status queries, and hands commands to its owner, replying with
//! the owner's acknowledgement (or saying the owner did not answer in time). It also
//! watches whether the unit still reaches the network (a router or a peer). It does
//! nothing between calls of [`UnitNode::poll`]: a [`UnitLink`](crate::UnitLink) runs one
//! on a thread of its own, and simulated units run a thousand from one thread.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use embody_control::Lifecycle;
use zenoh::Wait;
use zenoh::qos::CongestionControl;
use zenoh::query::Query;

use crate::command::{Ack, Command, CommandMessage, Outcome, from_json, to_json};
use crate::error::NetError;
use crate::fleet::UnitStatus;
use crate::keys::UnitKeys;
use crate::ros2::{RosConfig, RosLink};
use crate::unit_link::{CommandRequest, LinkStats, UnitInfo, UnitLinkConfig};
use crate::wire::{EventKind, UnitEvent, UnitState, encode, unix_ns};

/// What comes to a node between polls: queries from the network, and from a
/// [`UnitLink`](crate::UnitLink)'s owner its events, acknowledgements and description.
pub(crate) enum Inbox {
    Event(UnitEvent),
    Ack(u64, Outcome, String, Lifecycle),
    Status(Query),
    Log(Query),
    Command(Query),
    Describe(UnitInfo),
    Stop,
}

/// Room in the inbox: a burst of events, acknowledgements and queries.
const INBOX: usize = 1024;

/// How often the node looks whether it still reaches a router or a peer.
const PRESENCE_EVERY: Duration = Duration::from_millis(100);

/// Whether the unit reaches the network.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Presence {
    /// It reached a router or a peer at least once.
    ever: bool,
    /// Since when it reaches none (after it had).
    pub(crate) lost_since: Option<Instant>,
}

/// A unit on the network. See the module docs.
pub struct UnitNode {
    config: UnitLinkConfig,
    keys: UnitKeys,
    opener: Opener,
    declared: Option<Declared>,
    next_open: Instant,
    inbox: Receiver<Inbox>,
    stopped: bool,
    /// Commands taken since the owner last asked.
    taken: Vec<CommandRequest>,
    dropped: Arc<AtomicU64>,
    offered: Arc<Mutex<Option<UnitState>>>,
    latest: Option<UnitState>,
    log: VecDeque<UnitEvent>,
    next_event: u64,
    pending: HashMap<u64, (Query, CommandMessage, Instant)>,
    next_command: u64,
    reported_drops: u64,
    stats: LinkStats,
    presence: Arc<Mutex<Presence>>,
    next_presence: Instant,
    period: Duration,
    next_state: Instant,
}

impl UnitNode {
    /// The configured unit, not yet on the network: its first [`UnitNode::poll`] joins.
    /// Fails if the names, endpoints or settings are wrong.
    pub fn new(config: UnitLinkConfig) -> Result<UnitNode, NetError> {
        if !(config.rate_hz.is_finite() && (0.1..=1000.0).contains(&config.rate_hz)) {
            return Err(NetError::Invalid(format!(
                "a unit publishes its state 0.1 to 1000 times a second, not {}",
                config.rate_hz
            )));
        }
        let keys = UnitKeys::new(&config.fleet, &config.unit)?;
        let (inbox_tx, inbox) = mpsc::sync_channel(INBOX);
        let opener = Opener {
            config: config.net.zenoh()?,
            keys: keys.clone(),
            ros: (config.ros.clone()).map(|ros| (ros, config.unit.clone())),
            inbox: inbox_tx,
        };
        let now = Instant::now();
        Ok(UnitNode {
            period: Duration::from_secs_f64(1.0 / config.rate_hz),
            config,
            keys,
            opener,
            declared: None,
            next_open: now,
            inbox,
            stopped: false,
            taken: Vec::new(),
            dropped: Arc::new(AtomicU64::new(0)),
            offered: Arc::new(Mutex::new(None)),
            latest: None,
            log: VecDeque::new(),
            next_event: 0,
            pending: HashMap::new(),
            next_command: 0,
            reported_drops: 0,
            stats: LinkStats::default(),
            presence: Arc::new(Mutex::new(Presence::default())),
            next_presence: now,
            next_state: now,
        })
    }

    /// Does what is due at `now`: the queries and commands that came in, joining the
    /// network (again a second after a failed try; a router that cannot be reached yet
    /// is no error), looking whether it still reaches it, and the state when its period
    /// has come. Says when something is next due.
    pub fn poll(&mut self, now: Instant) -> Instant {
        while let Ok(message) = self.inbox.try_recv() {
            self.take(message);
        }
        if self.declared.is_none() && now >= self.next_open {
            self.next_open = now + Duration::from_secs(1);
            match self.opener.open() {
                Ok(declared) => self.declared = Some(declared),
                Err(e) => tracing::debug!("{}: {e}; trying again in 1 s", self.keys.alive),
            }
        }
        if now >= self.next_presence {
            self.next_presence = now + PRESENCE_EVERY;
            self.look_around(now);
        }
        if now >= self.next_state {
            self.publish_state();
            self.expire_commands(now);
            self.next_state += self.period;
            if self.next_state < now {
                self.next_state = now + self.period; // behind: skip, rather than burst
            }
        }
        let next = self.next_state.min(self.next_presence);
        match self.declared {
            None => next.min(self.next_open),
            Some(_) => next,
        }
    }

    /// Whether the state is due to be published at the next poll.
    pub fn state_due(&self, now: Instant) -> bool {
        now >= self.next_state
    }

    /// Waits until `until` for a message and takes it; false once told to stop.
    pub(crate) fn wait(&mut self, until: Instant) -> bool {
        match self
            .inbox
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(message) => self.take(message),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.stopped = true,
        }
        !self.stopped
    }

    /// The unit's state now; the node publishes the latest it has at its rate (`seq`
    /// and `events` are the node's to set).
    pub fn offer_state(&self, state: UnitState) {
        *self.offered.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
    }

    /// An event, stamped now and published at once; the node numbers it.
    pub fn event(&mut self, kind: EventKind, text: String, operator: Option<String>) {
        self.publish_event(UnitEvent {
            seq: 0,
            stamp_ns: unix_ns(),
            kind,
            text,
            operator,
        });
    }

    /// The commands taken since the last call, to carry out and [`UnitNode::ack`].
    pub fn commands(&mut self) -> Vec<CommandRequest> {
        std::mem::take(&mut self.taken)
    }

    /// Acknowledges command `id` with what came of it and the loop's lifecycle now.
    pub fn ack(&mut self, id: u64, outcome: Outcome, detail: String, lifecycle: Lifecycle) {
        self.acknowledge(id, outcome, detail, lifecycle);
    }

    /// Leaves the network (the unit's liveliness ends) and says what the node did.
    pub fn close(self) -> Result<LinkStats, NetError> {
        let UnitNode {
            declared,
            mut stats,
            dropped,
            ..
        } = self;
        stats.dropped = dropped.load(Ordering::Relaxed);
        if let Some(Declared { session, .. }) = declared {
            session
                .close()
                .wait()
                .map_err(|e| NetError::zenoh("closing the session", e))?;
        }
        Ok(stats)
    }

    /// What a [`UnitLink`](crate::UnitLink)'s owner shares with its node: the inbox,
    /// the slot for its state, its count of messages dropped, and the node's presence.
    pub(crate) fn shared(&self) -> Shared {
        Shared {
            inbox: self.opener.inbox.clone(),
            offered: self.offered.clone(),
            dropped: self.dropped.clone(),
            presence: self.presence.clone(),
        }
    }

    /// Notes whether the unit reaches the network now.
    fn look_around(&mut self, now: Instant) {
        let online = self.declared.as_ref().is_some_and(Declared::online);
        let mut presence = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        match (online, presence.lost_since) {
            (true, _) => {
                *presence = Presence {
                    ever: true,
                    lost_since: None,
                }
            }
            (false, None) if presence.ever => presence.lost_since = Some(now),
            _ => {}
        }
    }

    fn take(&mut self, message: Inbox) {
        match message {
            Inbox::Event(event) => self.publish_event(event),
            Inbox::Ack(id, outcome, detail, lifecycle) => {
                self.acknowledge(id, outcome, detail, lifecycle)
            }
            Inbox::Status(query) => self.answer_status(&query),
            Inbox::Log(query) => self.answer_log(&query),
            Inbox::Command(query) => self.take_command(query),
            Inbox::Describe(info) => self.config.info = info,
            Inbox::Stop => self.stopped = true,
        }
    }

    fn publish_state(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_drops {
            let lost = dropped - self.reported_drops;
            self.reported_drops = dropped;
            self.publish_event(UnitEvent {
                seq: 0,
                stamp_ns: unix_ns(),
                kind: EventKind::Link,
                text: format!("{lost} messages from the loop dropped: the link's inbox was full"),
                operator: None,
            });
        }
        self.take_offered();
        let Some(state) = &mut self.latest else {
            return;
        };
        state.seq = self.stats.states;
        state.events = self.next_event;
        // Not connected yet, or the router is away: the put goes nowhere, and the
        // unit's state is simply taken again at the next period.
        if let Some(declared) = &self.declared {
            if let Err(e) = declared.state.put(encode(&*state)).wait() {
                tracing::debug!("{}: state not published: {e}", self.keys.state);
            }
            if let Some(ros) = &declared.ros {
                // Diagnostics about once a second.
                let every = self.config.rate_hz.round().max(1.0) as u64;
                ros.publish(state, self.stats.states, every);
            }
        }
        self.stats.states += 1;
    }

    fn publish_event(&mut self, mut event: UnitEvent) {
        event.seq = self.next_event;
        self.next_event += 1;
        if let Some(declared) = &self.declared
            && let Err(e) = declared.events.put(encode(&event)).wait()
        {
            tracing::debug!("{}: event not published: {e}", self.keys.events);
        }
        self.stats.events += 1;
        self.log.push_back(event);
        if self.log.len() > self.config.event_log {
            self.log.pop_front();
            self.stats.log_overflow += 1;
        }
    }

    /// The state offered since the last look, if any, becomes the latest.
    fn take_offered(&mut self) {
        let offered = self
            .offered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if offered.is_some() {
            self.latest = offered;
        }
    }

    fn answer_status(&mut self, query: &Query) {
        self.take_offered();
        let status = UnitStatus {
            unit: self.config.unit.clone(),
            info: self.config.info.clone(),
            state: self.latest.clone().map(|mut state| {
                state.seq = self.stats.states.saturating_sub(1);
                state.events = self.next_event;
                state
            }),
            recent_faults: (self.log.iter())
                .filter(|e| e.kind == EventKind::Fault)
                .rev()
                .take(10)
                .cloned()
                .collect(),
            last_seen_s: None,
        };
        reply(query, &self.keys.status, to_json(&status));
    }

    /// `…/log?from=N;to=M`: each kept event numbered N to M (M: the last, when not
    /// given), oldest first — or, when it kept none of those, the first it kept after
    /// them, so that the asker learns where the log begins.
    fn answer_log(&self, query: &Query) {
        let number = |name: &str, none: u64| match query.parameters().get(name) {
            None => Ok(none),
            Some(n) => n
                .parse::<u64>()
                .map_err(|_| format!("{name} must be an event number: …/log?from=<seq>;to=<seq>")),
        };
        let (from, to) = match (number("from", 0), number("to", u64::MAX)) {
            (Ok(from), Ok(to)) => (from, to),
            (Err(why), _) | (_, Err(why)) => {
                let _ = query.reply_err(why).wait();
                return;
            }
        };
        for event in logged(&self.log, from, to) {
            reply(query, &self.keys.log, encode(event));
        }
    }

    fn take_command(&mut self, query: Query) {
        let Some(operator) = crate::keys::operator_of(query.key_expr().as_str()) else {
            let why = "a command's key ends with its operator's name: …/command/<operator>";
            let _ = query.reply_err(why).wait();
            return;
        };
        let bytes = query.payload().map(|p| p.to_bytes().into_owned());
        let command = match bytes.as_deref().map(|b| from_json::<Command>("command", b)) {
            Some(Ok(command)) => command,
            Some(Err(e)) => {
                let _ = query.reply_err(e.to_string()).wait();
                return;
            }
            None => {
                let why = "a command needs a payload: {\"command\":\"estop\"}";
                let _ = query.reply_err(why).wait();
                return;
            }
        };
        let message = CommandMessage {
            operator: operator.to_owned(),
            command,
        };
        let id = self.next_command;
        self.next_command += 1;
        self.stats.commands += 1;
        let request = CommandRequest {
            id,
            message: message.clone(),
        };
        self.taken.push(request);
        self.pending.insert(id, (query, message, Instant::now()));
    }

    fn acknowledge(&mut self, id: u64, outcome: Outcome, detail: String, lifecycle: Lifecycle) {
        if let Some((query, message, _)) = self.pending.remove(&id) {
            self.answer(&query, &message, outcome, detail, lifecycle);
        }
    }

    fn expire_commands(&mut self, now: Instant) {
        let timeout = self.config.ack_timeout;
        let late: Vec<u64> = (self.pending.iter())
            .filter(|(_, (_, _, since))| now.duration_since(*since) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some((query, message, _)) = self.pending.remove(&id) {
                let detail = format!("the unit's loop did not answer within {timeout:?}");
                self.answer(&query, &message, Outcome::Failed, detail, Lifecycle::Idle);
            }
        }
    }

    /// Replies to a command and records it, with its operator, as an event.
    fn answer(
        &mut self,
        query: &Query,
        message: &CommandMessage,
        outcome: Outcome,
        detail: String,
        lifecycle: Lifecycle,
    ) {
        let ack = Ack {
            unit: self.config.unit.clone(),
            outcome,
            detail,
            lifecycle,
        };
        let key = format!("{}/{}", self.keys.command, message.operator);
        reply(query, &key, to_json(&ack));
        let mut text = format!(
            "{} from {}: {}",
            message.command.words(),
            message.operator,
            outcome.word()
        );
        if !ack.detail.is_empty() {
            text.push_str(&format!(" ({})", ack.detail));
        }
        self.publish_event(UnitEvent {
            seq: 0,
            stamp_ns: unix_ns(),
            kind: EventKind::Command,
            text,
            operator: Some(message.operator.clone()),
        });
    }
}

/// See [`UnitNode::shared`].
pub(crate) struct Shared {
    pub(crate) inbox: SyncSender<Inbox>,
    pub(crate) offered: Arc<Mutex<Option<UnitState>>>,
    pub(crate) dropped: Arc<AtomicU64>,
    pub(crate) presence: Arc<Mutex<Presence>>,
}

/// Opens the link's session and declares what it publishes and answers.
struct Opener {
    config: zenoh::Config,
    keys: UnitKeys,
    ros: Option<(RosConfig, String)>,
    inbox: SyncSender<Inbox>,
}

impl Opener {
    fn open(&self) -> Result<Declared, NetError> {
        let session = zenoh::open(self.config.clone())
            .wait()
            .map_err(|e| NetError::zenoh("opening the session", e))?;
        let mut declared = Declared::new(session, &self.keys, self.inbox.clone())?;
        if let Some((config, unit)) = &self.ros {
            declared.ros = Some(RosDeclared::new(&declared.session, config, unit)?);
        }
        Ok(declared)
    }
}

/// The unit in the ROS 2 graph: its publishers and liveliness tokens.
struct RosDeclared {
    link: RosLink,
    joint_states: zenoh::pubsub::Publisher<'static>,
    diagnostics: zenoh::pubsub::Publisher<'static>,
    _tokens: Vec<zenoh::liveliness::LivelinessToken>,
}

impl RosDeclared {
    fn new(
        session: &zenoh::Session,
        config: &RosConfig,
        unit: &str,
    ) -> Result<RosDeclared, NetError> {
        let link = RosLink::new(config, unit, &session.zid().to_string());
        let publisher = |key: &str| {
            session
                .declare_publisher(key.to_owned())
                .wait()
                .map_err(|e| NetError::zenoh(&format!("declaring {key}"), e))
        };
        let mut tokens = Vec::new();
        for token in &link.tokens {
            let declared = session.liveliness().declare_token(token.clone()).wait();
            tokens.push(declared.map_err(|e| NetError::zenoh(&format!("declaring {token}"), e))?);
        }
        Ok(RosDeclared {
            joint_states: publisher(&link.joint_states)?,
            diagnostics: publisher(&link.diagnostics)?,
            _tokens: tokens,
            link,
        })
    }

    /// Publishes the joints of the unit's `n`th state, and every `every`th its health.
    fn publish(&self, state: &UnitState, n: u64, every: u64) {
        let put = |publisher: &zenoh::pubsub::Publisher<'static>, payload, attachment: [u8; 33]| {
            if let Err(e) = publisher
                .put(payload)
                .attachment(attachment.to_vec())
                .wait()
            {
                tracing::debug!("{}: not published: {e}", publisher.key_expr());
            }
        };
        let stamp = state.stamp_ns;
        let attachment = self.link.attachment(false, n, stamp);
        put(&self.joint_states, self.link.joint_state(state), attachment);
        if n.is_multiple_of(every) {
            let attachment = self.link.attachment(true, n / every, stamp);
            put(&self.diagnostics, self.link.diagnostics(state), attachment);
        }
    }
}

/// What the link declared on its session (undeclared when dropped).
struct Declared {
    session: zenoh::Session,
    state: zenoh::pubsub::Publisher<'static>,
    events: zenoh::pubsub::Publisher<'static>,
    _alive: zenoh::liveliness::LivelinessToken,
    _queryables: Vec<zenoh::query::Queryable<()>>,
    ros: Option<RosDeclared>,
}

impl Declared {
    fn new(
        session: zenoh::Session,
        keys: &UnitKeys,
        inbox: SyncSender<Inbox>,
    ) -> Result<Declared, NetError> {
        let publisher = |key: &str, congestion| {
            session
                .declare_publisher(key.to_owned())
                .congestion_control(congestion)
                .wait()
                .map_err(|e| NetError::zenoh(&format!("declaring {key}"), e))
        };
        // State is the latest only: where a reader cannot keep up, the router drops
        // some (the reader counts them lost) rather than closing its link. Every event
        // must arrive: those wait.
        let state = publisher(&keys.state, CongestionControl::Drop)?;
        let events = publisher(&keys.events, CongestionControl::Block)?;
        let queryable = |key: &str, wrap: fn(Query) -> Inbox| {
            let inbox = inbox.clone();
            session
                .declare_queryable(key.to_owned())
                .callback(move |query| {
                    // A full inbox drops the query: the querier times out.
                    let _ = inbox.try_send(wrap(query));
                })
                .wait()
                .map_err(|e| NetError::zenoh(&format!("declaring {key}"), e))
        };
        let queryables = vec![
            queryable(&keys.status, Inbox::Status)?,
            queryable(&keys.log, Inbox::Log)?,
            queryable(&format!("{}/*", keys.command), Inbox::Command)?,
        ];
        let alive = session
            .liveliness()
            .declare_token(keys.alive.clone())
            .wait()
            .map_err(|e| NetError::zenoh(&format!("declaring liveliness {}", keys.alive), e))?;
        Ok(Declared {
            session,
            state,
            events,
            _alive: alive,
            _queryables: queryables,
            ros: None,
        })
    }
}

impl Declared {
    /// Whether the session reaches a router or a peer now.
    fn online(&self) -> bool {
        let info = self.session.info();
        info.routers_zid().wait().next().is_some() || info.peers_zid().wait().next().is_some()
    }
}

/// The events of `log` numbered `from` to `to`, oldest first; or, when it kept none of
/// those, the first it kept after them.
fn logged(log: &VecDeque<UnitEvent>, from: u64, to: u64) -> Vec<&UnitEvent> {
    let asked: Vec<&UnitEvent> = log
        .iter()
        .filter(|e| (from..=to).contains(&e.seq))
        .collect();
    if asked.is_empty() {
        return log.iter().find(|e| e.seq > to).into_iter().collect();
    }
    asked
}

fn reply(query: &Query, key: &str, payload: Vec<u8>) {
    if let Err(e) = query.reply(key.to_owned(), payload).wait() {
        tracing::debug!("{key}: reply not sent: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(log: &VecDeque<UnitEvent>, from: u64, to: u64) -> Vec<u64> {
        logged(log, from, to).iter().map(|e| e.seq).collect()
    }

    #[test]
    fn the_log_answers_the_range_asked_or_where_it_begins() {
        // It keeps events 5 to 10: the older ones fell out of its bound.
        let log: VecDeque<UnitEvent> = (5..=10)
            .map(|seq| UnitEvent {
                seq,
                stamp_ns: 0,
                kind: EventKind::Loop,
                text: String::new(),
                operator: None,
            })
            .collect();
        assert_eq!(numbers(&log, 6, 7), [6, 7]);
        assert_eq!(numbers(&log, 8, u64::MAX), [8, 9, 10]);
        assert_eq!(numbers(&log, 3, 6), [5, 6]);
        // None of 2–3 kept: the first it kept says they are lost.
        assert_eq!(numbers(&log, 2, 3), [5]);
        assert_eq!(numbers(&log, 11, 12), Vec::<u64>::new());
    }
}
