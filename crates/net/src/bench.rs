//! The fleet's load benchmark (`embody bench fleet`): a router, N simulated units each
//! with its own zenoh session, and an operator's live view, all in this process on
//! loopback. It measures what the site needs of the network: state from every unit
//! without loss or disorder and how far behind the view runs, an e-stop to all and
//! how fast each acknowledges, and the router going away and coming back — every unit
//! returning, the events of the gap arriving once. The units and the router may run in
//! child processes instead (`embody fleet simulate`, each a share of the fleet, and
//! `embody fleet router`, killed and started again), as on a site: no session then
//! shares a process's zenoh runtime with another's. In one process they do, and a router
//! whose queue to the view is full blocks that runtime while the view, on the same
//! runtime, cannot drain it.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::command::Command;
use crate::config::NetConfig;
use crate::error::NetError;
use crate::fleet::{Fleet, UnitView, quantile};
use crate::router::Router;
use crate::sim_units::{SimFleet, SimUnits};
use crate::wire::unix_ns;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetBench {
    /// Simulated units.
    pub units: usize,
    /// State messages a second, per unit.
    pub rate_hz: f64,
    /// How long state is measured (s).
    pub seconds: f64,
    /// How long the router is away (s).
    pub outage_s: f64,
    /// Where the units run.
    pub host: UnitHost,
}

/// Where the benchmark's simulated units run.
#[derive(Clone, Debug, PartialEq)]
pub enum UnitHost {
    /// In this process, beside the router and the view.
    Here,
    /// In `processes` child processes of `program`, an `embody` binary, each running
    /// `fleet simulate` on its share of the units; the router in another
    /// (`fleet router`).
    Processes {
        /// The `embody` binary.
        program: PathBuf,
        /// How many processes.
        processes: usize,
    },
}

/// A child process of `embody`, killed when dropped (as a crashed one: its sessions
/// close with it), also when the benchmark fails half way.
struct ChildProcess(Child);

impl ChildProcess {
    fn spawn(program: &Path, args: &[&str]) -> Result<ChildProcess, NetError> {
        std::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map(ChildProcess)
            .map_err(|e| NetError::Invalid(format!("cannot start {}: {e}", program.display())))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The site's router: in this process, or a child process.
enum SiteRouter {
    Here(Router),
    Child(ChildProcess),
}

impl SiteRouter {
    fn start(bench: &FleetBench, endpoint: &str) -> Result<SiteRouter, NetError> {
        match &bench.host {
            UnitHost::Here => Ok(SiteRouter::Here(Router::start(&NetConfig::router(
                endpoint,
            ))?)),
            UnitHost::Processes { program, .. } => {
                let mut child =
                    ChildProcess::spawn(program, &["fleet", "router", "--listen", endpoint])?;
                // Listening once it takes a connection (the operator's view joins next,
                // and does not wait for a router).
                let address = endpoint.trim_start_matches("tcp/");
                let deadline = Instant::now() + Duration::from_secs(30);
                while std::net::TcpStream::connect(address).is_err() {
                    if let Ok(Some(status)) = child.0.try_wait() {
                        return Err(NetError::Invalid(format!("the router exited ({status})")));
                    }
                    if Instant::now() > deadline {
                        return Err(NetError::Invalid(format!(
                            "the router did not listen on {endpoint} within 30 s"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(SiteRouter::Child(child))
            }
        }
    }

    /// Closes it; a child router is killed.
    fn close(self) -> Result<(), NetError> {
        match self {
            SiteRouter::Here(router) => router.close(),
            SiteRouter::Child(child) => {
                drop(child);
                Ok(())
            }
        }
    }
}

/// The units, running; dropping them stops them.
enum Units {
    Here { _running: SimFleet },
    Children(Vec<ChildProcess>),
}

impl Units {
    fn start(
        bench: &FleetBench,
        client: &NetConfig,
        endpoint: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Units, NetError> {
        let n = bench.units;
        let (program, processes) = match &bench.host {
            UnitHost::Here => {
                let sim = SimUnits {
                    count: n,
                    first: 0,
                    rate_hz: bench.rate_hz,
                    ros_domain: None,
                };
                let fleet = SimFleet::start(client, None, "bench", &sim, &mut *progress)?;
                return Ok(Units::Here { _running: fleet });
            }
            UnitHost::Processes { program, processes } => (program, *processes),
        };
        if !(1..=n).contains(&processes) {
            return Err(NetError::Invalid(format!(
                "1 to {n} processes for {n} units, not {processes}"
            )));
        }
        progress(&format!(
            "{n} units in {processes} processes of {}",
            program.display()
        ));
        let mut children = Vec::with_capacity(processes);
        let mut first = 0;
        for p in 0..processes {
            let count = n / processes + usize::from(p < n % processes);
            let (from, count_text, rate) = (
                (first + 1).to_string(),
                count.to_string(),
                bench.rate_hz.to_string(),
            );
            children.push(ChildProcess::spawn(
                program,
                &[
                    "fleet",
                    "simulate",
                    "--fleet",
                    "bench",
                    "--connect",
                    endpoint,
                    "--first",
                    &from,
                    "--units",
                    &count_text,
                    "--rate",
                    &rate,
                ],
            )?);
            first += count;
        }
        Ok(Units::Children(children))
    }

    /// Why the units stopped early, if they did (a child process exited).
    fn failed(&mut self) -> Option<String> {
        let Units::Children(children) = self else {
            return None;
        };
        let of = children.len();
        children.iter_mut().enumerate().find_map(|(k, child)| {
            let status = child.0.try_wait().ok().flatten()?;
            Some(format!("unit process {} of {of} exited ({status})", k + 1))
        })
    }
}

/// State received while measuring.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StateFigures {
    /// Messages the units published in the window (by their numbers).
    pub expected: u64,
    /// Messages received.
    pub received: u64,
    /// Missed (gaps in their numbers).
    pub lost: u64,
    /// Came after a later one.
    pub out_of_order: u64,
    /// The most any unit's view was behind (ms from a state's stamp to its arrival).
    pub max_behind_ms: f64,
    /// The median over units of their most behind (ms).
    pub median_unit_behind_ms: f64,
}

/// The e-stop to all.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EstopFigures {
    /// Units that acknowledged.
    pub acknowledged: usize,
    /// Units alive that did not.
    pub silent: usize,
    /// Acknowledgement times (ms): median, 99th percentile, slowest.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// The router killed and restarted.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RestartFigures {
    /// Units seen to come back (liveliness ended, then declared again).
    pub returned: usize,
    /// Seconds from the restart until every unit was back and its events complete.
    pub back_after_s: f64,
    /// Events the units recorded while the router was away.
    pub events_in_gap: u64,
    /// Events received twice (ignored by the view).
    pub duplicates: u64,
    /// Events gone from a unit's log before they were asked for.
    pub events_lost: u64,
    /// Units whose events are complete and in order.
    pub complete: usize,
}

/// What [`run`] measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FleetBenchReport {
    /// Units.
    pub units: usize,
    /// Their rate (Hz).
    pub rate_hz: f64,
    /// The window (s).
    pub seconds: f64,
    /// Seconds until every unit was alive and seen.
    pub joined_s: f64,
    /// State in the window.
    pub state: StateFigures,
    /// The e-stop.
    pub estop: EstopFigures,
    /// The router's restart.
    pub restart: RestartFigures,
}

/// A free TCP port on loopback.
fn free_port() -> Result<u16, NetError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| NetError::Invalid(format!("no free port on loopback: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| NetError::Invalid(e.to_string()))
}

/// Runs the benchmark; `progress` hears what it is doing.
pub fn run(
    bench: &FleetBench,
    progress: &mut dyn FnMut(&str),
) -> Result<FleetBenchReport, NetError> {
    let endpoint = format!("tcp/127.0.0.1:{}", free_port()?);
    let client = NetConfig::client(&endpoint);
    let mut router = SiteRouter::start(bench, &endpoint)?;
    let fleet = Fleet::join(&client, "bench", "bench")?;
    let watch = fleet.watch()?;
    let start = Instant::now();
    let mut units = Units::start(bench, &client, &endpoint, progress)?;
    let n = bench.units;
    let join_timeout = Duration::from_secs(30 + n as u64 / 10);
    let all_seen = |u: &std::collections::HashMap<String, UnitView>| {
        u.len() == n && u.values().all(|v| v.alive && v.states > 0)
    };
    let mut said = Instant::now();
    while !watch.wait_until(Duration::from_secs(1), all_seen) {
        let seen = watch.units();
        let live = seen.values().filter(|v| v.alive && v.states > 0).count();
        let why = match units.failed() {
            Some(why) => Some(why),
            None if start.elapsed() > join_timeout => Some(format!(
                "after {join_timeout:?}, {live} of {n} units were alive with state in the \
                 view ({} seen at all): the view cannot keep up with this load",
                seen.len()
            )),
            None => None,
        };
        if let Some(why) = why {
            drop(units);
            return Err(NetError::Invalid(why));
        }
        if said.elapsed() >= Duration::from_secs(5) {
            said = Instant::now();
            progress(&format!("{live} of {n} units seen with state"));
        }
    }
    let joined_s = start.elapsed().as_secs_f64();
    // Let the joining settle, then measure from here.
    std::thread::sleep(Duration::from_secs(2));
    watch.clear_peaks();
    let before = watch.units();
    progress(&format!(
        "all {n} units seen after {joined_s:.1} s; measuring state for {} s",
        bench.seconds
    ));
    let window = Instant::now();
    while window.elapsed().as_secs_f64() < bench.seconds {
        std::thread::sleep(Duration::from_millis(200));
    }
    let state = state_figures(&before, &watch.units());

    progress("e-stop to all");
    let report = fleet.send(&[], &Command::Estop, Duration::from_secs(10))?;
    let took = report.ack_ms();
    let estop = EstopFigures {
        acknowledged: report.acks.len(),
        silent: report.silent.len() + report.errors.len(),
        p50_ms: quantile(&took, 0.5),
        p99_ms: quantile(&took, 0.99),
        max_ms: took.last().copied().unwrap_or(0.0),
    };

    // Running again (a step event every 2 s each), so events happen while away.
    fleet.send(&[], &Command::ClearFault, Duration::from_secs(10))?;
    let patrol = Command::RunTask {
        name: "patrol".into(),
    };
    fleet.send(&[], &patrol, Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(500));
    progress(&format!("router away for {} s", bench.outage_s));
    let before = watch.units();
    let away_ns = unix_ns();
    let last_seq = |v: &UnitView| v.state.as_ref().map_or(0, |s| s.seq);
    router.close()?;
    std::thread::sleep(Duration::from_secs_f64(bench.outage_s));
    // Measured from the restart: its own start-up counts.
    let during = watch.units();
    let restarted = Instant::now();
    let back_ns = unix_ns();
    router = SiteRouter::start(bench, &endpoint)?;
    // Back: alive again, a state newer than the restart, and every event it counts.
    let back = watch.wait_until(join_timeout, |u| {
        u.iter().all(|(name, v)| {
            let earlier = before.get(name);
            v.alive
                && v.returns > earlier.map_or(0, |e| e.returns)
                && last_seq(v) > during.get(name).map_or(0, last_seq)
                && (v.state.as_ref()).is_some_and(|s| v.events.len() as u64 == s.events)
        })
    });
    let back_after_s = restarted.elapsed().as_secs_f64();
    let after = watch.units();

    let restart = RestartFigures {
        returned: (after.iter())
            .filter(|(name, v)| v.returns > before.get(*name).map_or(0, |e| e.returns))
            .count(),
        back_after_s: if back { back_after_s } else { f64::NAN },
        events_in_gap: (after.values())
            .flat_map(|v| &v.events)
            .filter(|e| (away_ns..back_ns).contains(&e.stamp_ns))
            .count() as u64,
        duplicates: after.values().map(|v| v.duplicates).sum(),
        events_lost: after.values().map(|v| v.events_lost).sum(),
        complete: (after.values())
            .filter(|v| {
                let in_order = v.events.iter().enumerate().all(|(k, e)| e.seq == k as u64);
                in_order
                    && v.state
                        .as_ref()
                        .is_some_and(|s| v.events.len() as u64 == s.events)
            })
            .count(),
    };
    progress("stopping the units");
    drop(units);
    router.close()?;
    Ok(FleetBenchReport {
        units: n,
        rate_hz: bench.rate_hz,
        seconds: bench.seconds,
        joined_s,
        state,
        estop,
        restart,
    })
}

fn state_figures(
    before: &std::collections::BTreeMap<String, UnitView>,
    after: &std::collections::BTreeMap<String, UnitView>,
) -> StateFigures {
    let mut figures = StateFigures::default();
    let mut behind = Vec::new();
    for (unit, view) in after {
        let Some(earlier) = before.get(unit) else {
            continue;
        };
        let seq = |v: &UnitView| v.state.as_ref().map_or(0, |s| s.seq);
        figures.expected += seq(view) - seq(earlier);
        figures.received += view.states - earlier.states;
        figures.lost += view.lost - earlier.lost;
        figures.out_of_order += view.out_of_order - earlier.out_of_order;
        behind.push(view.max_behind_ns as f64 * 1e-6);
    }
    behind.sort_by(f64::total_cmp);
    figures.max_behind_ms = behind.last().copied().unwrap_or(0.0);
    figures.median_unit_behind_ms = quantile(&behind, 0.5);
    figures
}

impl FleetBenchReport {
    /// The figures in a few lines, with the targets beside them.
    pub fn summary(&self) -> String {
        let s = &self.state;
        let e = &self.estop;
        let r = &self.restart;
        format!(
            "{} units at {} Hz for {} s (all seen after {:.1} s)\n\
             state: {} of {} received, {} lost, {} out of order; view behind at most {:.1} ms (median unit {:.1} ms) [target: none lost, ≤ 100 ms]\n\
             e-stop to all: {} acknowledged, {} silent; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms [target: all, p99 ≤ 100 ms]\n\
             router restart: {} of {} units back, events complete for {} after {:.1} s; {} events from the gap, {} duplicated, {} lost [target: all back, none duplicated]",
            self.units,
            self.rate_hz,
            self.seconds,
            self.joined_s,
            s.received,
            s.expected,
            s.lost,
            s.out_of_order,
            s.max_behind_ms,
            s.median_unit_behind_ms,
            e.acknowledged,
            e.silent,
            e.p50_ms,
            e.p99_ms,
            e.max_ms,
            r.returned,
            self.units,
            r.complete,
            r.back_after_s,
            r.events_in_gap,
            r.duplicates,
            r.events_lost
        )
    }
}
