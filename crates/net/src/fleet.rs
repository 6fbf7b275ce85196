//! [`Fleet`]: the operators' side of the network. It finds the units alive (their
//! liveliness tokens), asks them for their status, sends a command to some or all and
//! gathers their acknowledgements (with a summary of who did not answer), and keeps a
//! live view of every unit ([`Watch`]): its latest state, state messages lost or out of
//! order, how far behind the view is, and its events in order without gaps or
//! duplicates — a gap (the router was away, a message was lost) is filled from the
//! unit's log.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zenoh::Wait;
use zenoh::query::{ConsolidationMode, QueryTarget};
use zenoh::sample::SampleKind;

use crate::certs::Role;
use crate::command::{Ack, Command, from_json, to_json};
use crate::config::NetConfig;
use crate::error::NetError;
use crate::keys::{self, UnitKeys, unit_of};
use crate::unit_link::UnitInfo;
use crate::wire::{UnitEvent, UnitState, decode, unix_ns};

/// A unit's status, as it answers a status query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitStatus {
    /// The unit.
    pub unit: String,
    /// What it says of itself.
    pub info: UnitInfo,
    /// Its latest state (none before its loop's first).
    pub state: Option<UnitState>,
    /// Its last faults, newest first (at most 10).
    pub recent_faults: Vec<UnitEvent>,
    /// How old its state was when the answer arrived (s): set by the reader.
    pub last_seen_s: Option<f64>,
}

/// What came of a command sent to many units.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SendReport {
    /// The units it was sent to.
    pub sent: Vec<String>,
    /// Their acknowledgements, with how long each took (s), in order of arrival.
    pub acks: Vec<(Ack, f64)>,
    /// Units that answered with an error (a malformed command, …).
    pub errors: Vec<(String, String)>,
    /// Units that did not answer in time.
    pub silent: Vec<String>,
}

impl SendReport {
    /// How long each acknowledgement took (ms), fastest first.
    pub fn ack_ms(&self) -> Vec<f64> {
        let mut took: Vec<f64> = self.acks.iter().map(|(_, t)| t * 1e3).collect();
        took.sort_by(f64::total_cmp);
        took
    }

    /// "5 of 5 acknowledged in p50 3.1 ms, p99 4.0 ms; silent: …".
    pub fn summary(&self) -> String {
        let took = self.ack_ms();
        let mut text = format!("{} of {} acknowledged", self.acks.len(), self.sent.len());
        if !took.is_empty() {
            text.push_str(&format!(
                " in p50 {:.1} ms, p99 {:.1} ms",
                quantile(&took, 0.5),
                quantile(&took, 0.99)
            ));
        }
        if !self.silent.is_empty() {
            text.push_str(&format!("; silent: {}", self.silent.join(", ")));
        }
        text
    }
}

/// The `p` quantile of sorted values (the nearest of their ranks; 0 for none).
pub(crate) fn quantile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => sorted[((n - 1) as f64 * p).round() as usize],
    }
}

/// One unit's answer to a query: its payload or its error, and how long it took (s).
struct Answer {
    unit: String,
    result: Result<Vec<u8>, String>,
    took_s: f64,
}

/// The operators' side. See the module docs.
pub struct Fleet {
    session: zenoh::Session,
    /// How `session` was opened (a watch opens another like it).
    config: zenoh::Config,
    /// Asks who is alive, opened at the first ask: on `session`, where a watch keeps
    /// a liveliness subscriber, the router may leave out of the answer the tokens it
    /// already sent that subscriber (seen under load: none of 600).
    asker: std::sync::OnceLock<zenoh::Session>,
    fleet: String,
    operator: String,
}

impl Fleet {
    /// Joins `fleet` on the network as `operator` (the name its certificate has, where
    /// the site uses certificates).
    pub fn join(net: &NetConfig, fleet: &str, operator: &str) -> Result<Fleet, NetError> {
        keys::check_name("fleet", fleet)?;
        keys::check_name("operator", operator)?;
        if let Some(identity) = &net.tls
            && (identity.role != Role::Operator || identity.name != operator)
        {
            return Err(NetError::Invalid(format!(
                "joining as operator {operator} with the certificate of {} {}",
                identity.role.word(),
                identity.name
            )));
        }
        let config = net.zenoh()?;
        let session = zenoh::open(config.clone())
            .wait()
            .map_err(|e| NetError::zenoh("opening the session", e))?;
        Ok(Fleet {
            session,
            config,
            asker: std::sync::OnceLock::new(),
            fleet: fleet.to_owned(),
            operator: operator.to_owned(),
        })
    }

    /// The units alive now, by name.
    pub fn alive(&self, timeout: Duration) -> Result<Vec<String>, NetError> {
        // Into an unbounded channel: more answers than a bounded channel holds (zenoh's
        // default handler) would block the session — `fleet send all` hung at 500 units.
        let (tx, rx) = mpsc::channel();
        let fleet = self.fleet.clone();
        let asker = match self.asker.get() {
            Some(asker) => asker,
            None => {
                let opened = zenoh::open(self.config.clone())
                    .wait()
                    .map_err(|e| NetError::zenoh("opening a session to ask who is alive", e))?;
                self.asker.get_or_init(|| opened)
            }
        };
        asker
            .liveliness()
            .get(keys::all_units(&self.fleet, None))
            .timeout(timeout)
            .callback(move |reply| {
                if let Ok(sample) = reply.into_result()
                    && let Some(unit) = unit_of(&fleet, sample.key_expr().as_str())
                {
                    let _ = tx.send(unit.to_owned());
                }
            })
            .wait()
            .map_err(|e| NetError::zenoh("asking who is alive", e))?;
        // The callback, and with it the sender, goes when the query is done.
        let deadline = Instant::now() + timeout + Duration::from_millis(500);
        let mut units = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(unit) => units.push(unit),
                Err(_) => break,
            }
        }
        units.sort();
        units.dedup();
        Ok(units)
    }

    /// Every unit's status, by name; and the units alive that did not answer.
    pub fn status(&self, timeout: Duration) -> Result<(Vec<UnitStatus>, Vec<String>), NetError> {
        let alive = self.alive(timeout)?;
        let replies = self.gather(
            &[keys::all_units(&self.fleet, Some("status"))],
            None,
            timeout,
            alive.len(),
        )?;
        let now = unix_ns();
        let mut statuses = Vec::new();
        for answer in replies {
            if let Ok(bytes) = answer.result {
                let what = format!("status of {}", answer.unit);
                let mut status: UnitStatus = from_json(&what, &bytes)?;
                status.last_seen_s =
                    (status.state.as_ref()).map(|s| now.saturating_sub(s.stamp_ns) as f64 * 1e-9);
                statuses.push(status);
            }
        }
        statuses.sort_by(|a, b| a.unit.cmp(&b.unit));
        let silent = (alive.into_iter())
            .filter(|u| !statuses.iter().any(|s| &s.unit == u))
            .collect();
        Ok((statuses, silent))
    }

    /// Sends `command` to `units` (every unit alive when none are named) and gathers
    /// their acknowledgements for at most `timeout`.
    pub fn send(
        &self,
        units: &[String],
        command: &Command,
        timeout: Duration,
    ) -> Result<SendReport, NetError> {
        let (sent, selectors) = if units.is_empty() {
            let alive = self.alive(timeout)?;
            let leaf = format!("command/{}", self.operator);
            (alive, vec![keys::all_units(&self.fleet, Some(&leaf))])
        } else {
            let mut selectors = Vec::new();
            for unit in units {
                selectors.push(UnitKeys::new(&self.fleet, unit)?.command_from(&self.operator)?);
            }
            (units.to_vec(), selectors)
        };
        // To all: every answer until the query ends (the router has heard from every
        // unit it reached, or the timeout), not only as many as were seen alive — the
        // answer to who is alive can come back short (empty once in CI, with 20 units
        // there), and the units not in it were sent the command all the same.
        let expected = if units.is_empty() {
            usize::MAX
        } else {
            sent.len()
        };
        let mut report = SendReport {
            sent,
            ..SendReport::default()
        };
        let answers = self.gather(&selectors, Some(to_json(command)), timeout, expected)?;
        let mut answered = std::collections::HashSet::new();
        for answer in answers {
            if !report.sent.contains(&answer.unit) {
                report.sent.push(answer.unit.clone());
            }
            let what = format!("acknowledgement of {}", answer.unit);
            match answer
                .result
                .and_then(|b| from_json::<Ack>(&what, &b).map_err(|e| e.to_string()))
            {
                Ok(ack) => report.acks.push((ack, answer.took_s)),
                Err(why) => report.errors.push((answer.unit.clone(), why)),
            }
            answered.insert(answer.unit);
        }
        report.silent = (report.sent.iter())
            .filter(|u| !answered.contains(*u))
            .cloned()
            .collect();
        Ok(report)
    }

    /// Gathers the answers to `selectors` (with `payload`) until `expected` have come
    /// or `timeout`, in order of arrival.
    fn gather(
        &self,
        selectors: &[String],
        payload: Option<Vec<u8>>,
        timeout: Duration,
        expected: usize,
    ) -> Result<Vec<Answer>, NetError> {
        let start = Instant::now();
        let (tx, rx) = mpsc::channel();
        for selector in selectors {
            // An error reply has no key: a query to one unit names it.
            let asked = unit_of(&self.fleet, selector)
                .filter(|u| *u != "*")
                .unwrap_or("?")
                .to_owned();
            let (tx, fleet) = (tx.clone(), self.fleet.clone());
            let mut get = self
                .session
                .get(selector.as_str())
                .target(QueryTarget::All)
                .consolidation(ConsolidationMode::None)
                .timeout(timeout);
            if let Some(payload) = &payload {
                get = get.payload(payload.clone());
            }
            get.callback(move |reply| {
                let took_s = start.elapsed().as_secs_f64();
                let answer = match reply.into_result() {
                    Ok(sample) => Answer {
                        unit: unit_of(&fleet, sample.key_expr().as_str())
                            .unwrap_or(&asked)
                            .to_owned(),
                        result: Ok(sample.payload().to_bytes().into_owned()),
                        took_s,
                    },
                    Err(e) => Answer {
                        unit: asked.clone(),
                        result: Err(String::from_utf8_lossy(&e.payload().to_bytes()).into_owned()),
                        took_s,
                    },
                };
                let _ = tx.send(answer);
            })
            .wait()
            .map_err(|e| NetError::zenoh(&format!("asking {selector}"), e))?;
        }
        drop(tx);
        let deadline = start + timeout;
        let mut answers = Vec::new();
        while answers.len() < expected {
            // Every query ended, or time is up.
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(answer) => answers.push(answer),
                Err(_) => break,
            }
        }
        Ok(answers)
    }

    /// Starts a live view of every unit of the fleet.
    pub fn watch(&self) -> Result<Watch, NetError> {
        // State and events come in on a session of their own: zenoh matches every
        // message's key against what its session knows, and this operator's session
        // knows every unit's queryables and liveliness token — with 500 units, that
        // matching took most of a core and the view fell seconds behind.
        let live = zenoh::open(self.config.clone())
            .wait()
            .map_err(|e| NetError::zenoh("opening the watch's session", e))?;
        Watch::start(&self.session, live, &self.fleet)
    }
}

/// One unit as a [`Watch`] sees it.
#[derive(Clone, Debug, Default)]
pub struct UnitView {
    /// Alive (its liveliness token is declared).
    pub alive: bool,
    /// Its latest state.
    pub state: Option<UnitState>,
    /// State messages received.
    pub states: u64,
    /// State messages missed (gaps in their numbers).
    pub lost: u64,
    /// State messages that came after a later one.
    pub out_of_order: u64,
    /// The most the view was behind the unit (ns from a state's stamp to its arrival).
    pub max_behind_ns: u64,
    /// Its events, in order, without gaps or duplicates (those after a gap wait until
    /// it is filled).
    pub events: Vec<UnitEvent>,
    /// Events received twice (ignored).
    pub duplicates: u64,
    /// Events that were gone from the unit's log when asked for (its log is bounded).
    pub events_lost: u64,
    /// Times it came back after its liveliness ended.
    pub returns: u64,
    waiting: BTreeMap<u64, UnitEvent>,
    ever_alive: bool,
    next_event: u64,
    known_events: u64,
    filling: bool,
    fill_after: Option<Instant>,
}

impl UnitView {
    /// The first and last numbers of the unit's events to fill, when some are missing
    /// and no one is filling them yet: up to the first that came after them, or the
    /// last its state counts, so that events published meanwhile are not sent twice.
    fn gap_to_fill(&mut self) -> Option<Gap> {
        let to = match self.waiting.first_key_value() {
            Some((&after, _)) => after.checked_sub(1)?,
            None => self.known_events.checked_sub(1)?,
        };
        let gap = to >= self.next_event;
        let rested = self.fill_after.is_none_or(|t| Instant::now() >= t);
        (gap && rested && !std::mem::replace(&mut self.filling, true)).then_some(Gap {
            from: self.next_event,
            to,
        })
    }

    /// Moves the events that follow on from those in order into them.
    fn take_in_order(&mut self) {
        while let Some(event) = self.waiting.remove(&self.next_event) {
            self.events.push(event);
            self.next_event += 1;
        }
    }
}

/// Events numbered `from` to `to` (both included) that a view misses.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Gap {
    from: u64,
    to: u64,
}

#[derive(Default)]
struct Table {
    units: HashMap<String, UnitView>,
}

/// A live view of a fleet. See the module docs.
pub struct Watch {
    table: Arc<Mutex<Table>>,
    _subscribers: Vec<zenoh::pubsub::Subscriber<()>>,
    /// The session state and events come in on (closed after the subscribers go).
    _live: zenoh::Session,
}

impl Watch {
    fn start(
        session: &zenoh::Session,
        live: zenoh::Session,
        fleet: &str,
    ) -> Result<Watch, NetError> {
        let table = Arc::new(Mutex::new(Table::default()));
        let filler = spawn_filler(session.clone(), table.clone(), fleet.to_owned())?;
        let fail = |what: &str| {
            let what = what.to_owned();
            move |e| NetError::zenoh(&format!("subscribing to {what}"), e)
        };
        let states = {
            let (table, fleet, filler) = (table.clone(), fleet.to_owned(), filler.clone());
            let key = keys::all_units(fleet.as_str(), Some("state"));
            live.declare_subscriber(key.clone())
                .callback(move |sample| {
                    let Some(unit) = unit_of(&fleet, sample.key_expr().as_str()) else {
                        return;
                    };
                    let what = format!("state of {unit}");
                    let Ok(state) = decode::<UnitState>(&what, &sample.payload().to_bytes()) else {
                        return;
                    };
                    let fill = lock(&table).state(unit, state);
                    if let Some(gap) = fill {
                        let _ = filler.send((unit.to_owned(), gap));
                    }
                })
                .wait()
                .map_err(fail(&key))?
        };
        let events = {
            let (table, fleet, filler) = (table.clone(), fleet.to_owned(), filler.clone());
            let key = keys::all_units(fleet.as_str(), Some("events"));
            live.declare_subscriber(key.clone())
                .callback(move |sample| {
                    let Some(unit) = unit_of(&fleet, sample.key_expr().as_str()) else {
                        return;
                    };
                    let what = format!("event of {unit}");
                    if let Ok(event) = decode::<UnitEvent>(&what, &sample.payload().to_bytes()) {
                        let fill = lock(&table).event(unit, event);
                        if let Some(gap) = fill {
                            let _ = filler.send((unit.to_owned(), gap));
                        }
                    }
                })
                .wait()
                .map_err(fail(&key))?
        };
        let alive = {
            let (table, fleet) = (table.clone(), fleet.to_owned());
            let key = keys::all_units(fleet.as_str(), None);
            session
                .liveliness()
                .declare_subscriber(key.clone())
                .history(true)
                .callback(move |sample| {
                    if let Some(unit) = unit_of(&fleet, sample.key_expr().as_str()) {
                        lock(&table).alive(unit, sample.kind() == SampleKind::Put);
                    }
                })
                .wait()
                .map_err(fail(&key))?
        };
        Ok(Watch {
            table,
            _subscribers: vec![states, events, alive],
            _live: live,
        })
    }

    /// Every unit seen so far, by name.
    pub fn units(&self) -> BTreeMap<String, UnitView> {
        (lock(&self.table).units.iter())
            .map(|(name, view)| (name.clone(), view.clone()))
            .collect()
    }

    /// Visits every unit seen so far, in no order, without copying its view.
    pub fn each(&self, mut visit: impl FnMut(&str, &UnitView)) {
        for (name, view) in &lock(&self.table).units {
            visit(name, view);
        }
    }

    /// Forgets how far behind each unit's view has been, to measure from now.
    pub fn clear_peaks(&self) {
        for view in lock(&self.table).units.values_mut() {
            view.max_behind_ns = 0;
        }
    }

    /// Waits until `done` holds of the units seen, for at most `timeout`: whether it did.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&HashMap<String, UnitView>) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&lock(&self.table).units) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

impl Table {
    /// Takes a state; the events to fill when it shows some are missing.
    fn state(&mut self, unit: &str, state: UnitState) -> Option<Gap> {
        let now = unix_ns();
        let view = self.units.entry(unit.to_owned()).or_default();
        view.states += 1;
        view.known_events = view.known_events.max(state.events);
        view.max_behind_ns = view.max_behind_ns.max(now.saturating_sub(state.stamp_ns));
        match &view.state {
            Some(last) if state.seq <= last.seq => view.out_of_order += 1,
            Some(last) => {
                view.lost += state.seq - last.seq - 1;
                view.state = Some(state);
            }
            None => view.state = Some(state),
        }
        view.gap_to_fill()
    }

    /// Takes an event; the events to fill when it shows a gap no one fills yet.
    fn event(&mut self, unit: &str, event: UnitEvent) -> Option<Gap> {
        let view = self.units.entry(unit.to_owned()).or_default();
        if event.seq < view.next_event || view.waiting.contains_key(&event.seq) {
            view.duplicates += 1;
            return None;
        }
        view.waiting.insert(event.seq, event);
        view.take_in_order();
        view.gap_to_fill()
    }

    /// A fill from `from` ended, its first event numbered `first`: the events to fill
    /// next, if a gap remains and the fill got somewhere.
    fn filled(&mut self, unit: &str, from: u64, first: Option<u64>) -> Option<Gap> {
        let view = self.units.get_mut(unit)?;
        view.filling = false;
        if let Some(first) = first.filter(|f| *f > view.next_event) {
            // The log no longer holds the events before its first: they are lost.
            view.events_lost += first - view.next_event;
            view.next_event = first;
            view.take_in_order();
        }
        if view.next_event == from {
            // No progress (the unit is away): try again after a rest, on new news.
            view.fill_after = Some(Instant::now() + Duration::from_secs(1));
            return None;
        }
        view.gap_to_fill()
    }

    fn alive(&mut self, unit: &str, alive: bool) {
        let view = self.units.entry(unit.to_owned()).or_default();
        if alive && !view.alive && view.ever_alive {
            view.returns += 1;
        }
        view.alive = alive;
        view.ever_alive |= alive;
    }
}

/// Fills the gaps in units' events from their logs, on its own thread: `(unit, gap)`
/// asks the unit for the gap's events, and asks again while a gap remains.
fn spawn_filler(
    session: zenoh::Session,
    table: Arc<Mutex<Table>>,
    fleet: String,
) -> Result<mpsc::Sender<(String, Gap)>, NetError> {
    let (tx, rx) = mpsc::channel::<(String, Gap)>();
    std::thread::Builder::new()
        .name("fleet-filler".into())
        .spawn(move || {
            // Ends when the watch's subscribers (which hold the senders) are gone.
            for (unit, gap) in rx {
                let mut next = Some(gap);
                while let Some(gap) = next {
                    let first = fill(&session, &table, &fleet, &unit, gap);
                    next = lock(&table).filled(&unit, gap.from, first);
                }
            }
        })
        .map_err(|e| NetError::Thread(e.to_string()))?;
    Ok(tx)
}

/// Asks `unit`'s log for the gap's events and feeds them to the table: the first
/// one's number.
fn fill(
    session: &zenoh::Session,
    table: &Mutex<Table>,
    fleet: &str,
    unit: &str,
    gap: Gap,
) -> Option<u64> {
    let keys = UnitKeys::new(fleet, unit).ok()?;
    let replies = session
        .get(format!("{}?from={};to={}", keys.log, gap.from, gap.to))
        .consolidation(ConsolidationMode::None)
        .timeout(Duration::from_secs(2))
        .wait();
    let replies = replies.ok()?;
    let mut first: Option<u64> = None;
    // The channel ends with the query: every reply, or the timeout.
    while let Ok(reply) = replies.recv() {
        if let Ok(sample) = reply.result()
            && let Ok(event) = decode::<UnitEvent>("logged event", &sample.payload().to_bytes())
        {
            first = Some(first.map_or(event.seq, |f| f.min(event.seq)));
            let _ = lock(table).event(unit, event);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EventKind;

    fn event(seq: u64) -> UnitEvent {
        UnitEvent {
            seq,
            stamp_ns: 0,
            kind: EventKind::Loop,
            text: String::new(),
            operator: None,
        }
    }

    #[test]
    fn a_view_asks_for_the_events_it_missed_and_no_others() {
        let mut table = Table::default();
        for seq in 0..3 {
            assert_eq!(table.event("u", event(seq)), None);
        }
        // 3 to 5 went while the router was away; 6 came live after it: only the gap.
        assert_eq!(table.event("u", event(6)), Some(Gap { from: 3, to: 5 }));
        // Asked once at a time: 7 shows the same gap, already being filled.
        assert_eq!(table.event("u", event(7)), None);
        for seq in 3..6 {
            assert_eq!(table.event("u", event(seq)), None);
        }
        assert_eq!(table.filled("u", 3, Some(3)), None);
        let view = &table.units["u"];
        assert_eq!(view.events.len(), 8);
        assert_eq!(view.duplicates, 0);
        // A state that counts 10 events: 8 and 9 are missing, and nothing came after.
        let state = UnitState {
            seq: 1,
            events: 10,
            ..UnitState::default()
        };
        assert_eq!(table.state("u", state), Some(Gap { from: 8, to: 9 }));
        // The log kept none of them (its first is 12): lost, and 12 on is the gap now.
        assert_eq!(table.event("u", event(12)), None);
        assert_eq!(table.filled("u", 8, Some(12)), None);
        let view = &table.units["u"];
        assert_eq!((view.events_lost, view.events.len()), (4, 9));
    }
}
