//! How the fleet reads in a terminal: `embody fleet status`'s and `send`'s tables, and
//! `embody fleet watch`'s live one (units in trouble first), both on the columns of a unit's state.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use embody_control::Lifecycle;
use embody_net::wire::UnitState;
use embody_net::{Fleet, SendReport, UnitStatus, UnitView};

/// Lifecycle, fault, activity and link counters of a unit's state, in columns.
fn state_columns(state: Option<&UnitState>) -> String {
    let dash = || "-".to_owned();
    let lifecycle = state.map_or_else(dash, |s| format!("{:?}", s.lifecycle).to_lowercase());
    let fault = state.and_then(|s| s.fault.clone()).unwrap_or_else(dash);
    let activity = state.map_or_else(dash, |s| s.activity.to_string());
    let link = state.map_or_else(dash, |s| {
        let [ok, bad, lost, bus] = s.link;
        format!("{ok}/{bad}/{lost}/{bus}")
    });
    format!("{lifecycle:<10} {fault:<14} {activity:<28} {link:<22}")
}

const STATE_HEADER: &str =
    "STATE      FAULT          ACTIVITY                     LINK ok/bad/lost/bus  ";

/// `embody fleet status`'s table: one row per unit that answered, then the silent ones.
pub fn print_status(statuses: &[UnitStatus], silent: &[String], timeout_s: f64) {
    println!("{:<12} {STATE_HEADER} {:<10} LAST SEEN", "UNIT", "FIRMWARE");
    for status in statuses {
        let firmware = status.info.firmware.as_deref().unwrap_or("-");
        let seen =
            (status.last_seen_s).map_or_else(|| "-".into(), |s| format!("{:.1} s ago", s.max(0.0)));
        println!(
            "{:<12} {} {firmware:<10} {seen}",
            status.unit,
            state_columns(status.state.as_ref())
        );
    }
    for unit in silent {
        println!("{unit:<12} alive, but did not answer within {timeout_s} s");
    }
    println!("{} units answered, {} silent", statuses.len(), silent.len());
}

/// `embody fleet send`'s table: each acknowledgement, each error, then the summary.
pub fn print_send(report: &SendReport) {
    for (ack, took) in &report.acks {
        println!(
            "{:<12} {:<8} {:>7.1} ms  {:?}  {}",
            ack.unit,
            ack.outcome.word(),
            took * 1e3,
            ack.lifecycle,
            ack.detail
        );
    }
    for (unit, why) in &report.errors {
        println!("{unit:<12} error    {why}");
    }
    println!("{}", report.summary());
}

/// How much trouble a unit is in (lower first): faulted, gone, recovering, losing
/// state, well.
fn trouble(view: &UnitView) -> u8 {
    match view.state.as_ref().map(|s| s.lifecycle) {
        Some(Lifecycle::Fault) => 0,
        _ if !view.alive => 1,
        Some(Lifecycle::Recovering) => 2,
        _ if view.lost > 0 || view.events_lost > 0 => 3,
        _ => 4,
    }
}

/// The live table at one moment; `rates` are each unit's states a second since the
/// last one.
fn watch_table(units: &BTreeMap<String, UnitView>, rates: &BTreeMap<String, f64>) -> String {
    let mut rows: Vec<(&String, &UnitView)> = units.iter().collect();
    rows.sort_by_key(|(name, view)| (trouble(view), *name));
    let alive = units.values().filter(|v| v.alive).count();
    let faulted = units.values().filter(|v| trouble(v) == 0).count();
    let total_rate: f64 = rates.values().sum();
    let mut out = format!(
        "{} units seen, {alive} alive, {faulted} faulted; {total_rate:.0} states/s\n\
         {:<12} {:<6} {STATE_HEADER} {:>7} {:>6} {:>9} {:>7}\n",
        units.len(),
        "UNIT",
        "ALIVE",
        "STATE/s",
        "LOST",
        "BEHIND ms",
        "EVENTS"
    );
    for (name, view) in rows {
        out.push_str(&format!(
            "{name:<12} {:<6} {} {:>7.1} {:>6} {:>9.1} {:>7}\n",
            if view.alive { "yes" } else { "GONE" },
            state_columns(view.state.as_ref()),
            rates.get(name).copied().unwrap_or(0.0),
            view.lost,
            view.max_behind_ns as f64 * 1e-6,
            view.events.len()
        ));
    }
    out
}

/// `embody fleet watch`: redraws the table every `every` until `stop` says so (on a
/// terminal; otherwise prints it once, at the end).
pub fn watch(fleet: &Fleet, every: Duration, stop: &dyn Fn() -> bool) -> crate::error::Result {
    let watch = fleet.watch()?;
    let live = std::io::stdout().is_terminal();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut since = Instant::now();
    let mut table = String::new();
    while !stop() {
        std::thread::sleep(every.min(Duration::from_millis(100)));
        if since.elapsed() < every && !stop() {
            continue;
        }
        let units = watch.units();
        let dt = since.elapsed().as_secs_f64().max(1e-3);
        since = Instant::now();
        let rates = (units.iter())
            .map(|(name, v)| {
                let before = last.insert(name.clone(), v.states).unwrap_or(v.states);
                (name.clone(), (v.states - before) as f64 / dt)
            })
            .collect();
        table = watch_table(&units, &rates);
        if live {
            print!("\x1b[H\x1b[2J{table}");
        }
    }
    if !live {
        print!("{table}");
    }
    Ok(())
}
