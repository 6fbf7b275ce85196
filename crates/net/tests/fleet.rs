//! Units and an operator around a router on this machine's loopback: liveliness,
//! status, commands with acknowledgements, the live view, a router that goes away
//! and comes back while a unit has news, and a unit describing itself once running.

use std::time::Duration;

use embody_control::Lifecycle;
use embody_net::sim_units::{SimFleet, SimUnits};
use embody_net::wire::{ActivityKind, EventKind};
use embody_net::{Command, Fleet, NetConfig, Outcome, Router, UnitInfo, UnitLink, UnitLinkConfig};
use zenoh::Wait;

/// A TCP port free on loopback now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn router(port: u16) -> Router {
    Router::start(&NetConfig::router(&format!("tcp/127.0.0.1:{port}"))).expect("router")
}

fn client(port: u16) -> NetConfig {
    NetConfig::client(&format!("tcp/127.0.0.1:{port}"))
}

const WAIT: Duration = Duration::from_secs(10);

fn sim(count: usize) -> SimUnits {
    SimUnits {
        count,
        first: 0,
        rate_hz: 50.0,
        ros_domain: None,
    }
}

#[test]
fn an_operator_sees_the_units_and_commands_them() {
    let port = free_port();
    let _router = router(port);
    let units = SimFleet::start(&client(port), None, "t1", &sim(5), &mut |_| {}).expect("units");
    let fleet = Fleet::join(&client(port), "t1", "ops-ana").expect("fleet");
    let watch = fleet.watch().expect("watch");
    assert!(
        watch.wait_until(WAIT, |units| units.len() == 5
            && units.values().all(|u| u.alive && u.states > 5)),
        "{:?}",
        watch.units().keys().collect::<Vec<_>>()
    );
    assert_eq!(fleet.alive(WAIT).expect("alive"), units.units);

    let (statuses, silent) = fleet.status(WAIT).expect("status");
    assert!(silent.is_empty(), "{silent:?}");
    assert_eq!(statuses.len(), 5);
    for status in &statuses {
        let state = status.state.as_ref().expect("state");
        assert_eq!(state.lifecycle, Lifecycle::Running, "{status:?}");
        assert_eq!(state.activity.kind, ActivityKind::Task);
        assert_eq!(state.joints.q.len(), 7);
        assert_eq!(status.info.robot, "arm7");
        assert!(status.last_seen_s.expect("age") < 1.0, "{status:?}");
    }

    // Everyone e-stops and says so.
    let report = fleet.send(&[], &Command::Estop, WAIT).expect("send");
    assert_eq!(report.sent.len(), 5);
    assert!(
        report.silent.is_empty() && report.errors.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.acks.len(), 5);
    assert!(
        report
            .acks
            .iter()
            .all(|(ack, _)| ack.outcome == Outcome::Done && ack.lifecycle == Lifecycle::Fault)
    );
    assert!(watch.wait_until(WAIT, |units| units.values().all(|u| {
        u.state
            .as_ref()
            .is_some_and(|s| s.fault.as_deref() == Some("e_stop"))
            && u.events.iter().any(|e| {
                e.kind == EventKind::Command
                    && e.operator.as_deref() == Some("ops-ana")
                    && e.text == "estop from ops-ana: done (e-stop pressed)"
            })
    })));

    // A faulted unit refuses to resume; a clear brings one back; a unit that is not
    // there does not answer.
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let report = fleet
        .send(&names(&["SIM-0002"]), &Command::Resume, WAIT)
        .expect("send");
    assert_eq!(report.acks[0].0.outcome, Outcome::Refused, "{report:?}");
    assert_eq!(report.acks[0].0.detail, "faulted: clear the fault first");
    let report = fleet
        .send(
            &names(&["SIM-0001", "SIM-0099"]),
            &Command::ClearFault,
            Duration::from_secs(2),
        )
        .expect("send");
    assert_eq!(report.acks.len(), 1, "{report:?}");
    assert_eq!(report.acks[0].0.unit, "SIM-0001");
    assert_eq!(report.acks[0].0.lifecycle, Lifecycle::Armed);
    assert_eq!(report.silent, names(&["SIM-0099"]));

    let stats = units.stop().expect("stop");
    assert!(
        stats.iter().all(|s| s.dropped == 0 && s.commands >= 1),
        "{stats:?}"
    );
    // Their liveliness ends with them.
    assert!(watch.wait_until(WAIT, |units| units.values().all(|u| !u.alive)));
    let view = watch.units();
    for (name, unit) in &view {
        assert_eq!((unit.lost, unit.out_of_order), (0, 0), "{name}: {unit:?}");
    }
}

#[test]
fn events_from_while_the_router_was_away_arrive_once_in_order() {
    // The unit starts before the site's router is up, and has news already.
    let port = free_port();
    let link = UnitLink::spawn(UnitLinkConfig::new(
        client(port),
        "t2",
        "ARM-0007",
        UnitInfo::default(),
    ))
    .expect("link");
    let state = embody_net::wire::UnitState::default();
    link.offer_state(state.clone());
    link.event(EventKind::Loop, "before 0".into(), None);
    std::thread::sleep(Duration::from_millis(300));
    let first = router(port);
    let fleet = Fleet::join(&client(port), "t2", "ops").expect("fleet");
    let watch = fleet.watch().expect("watch");
    for k in 1..3 {
        link.event(EventKind::Loop, format!("before {k}"), None);
    }
    assert!(watch.wait_until(WAIT, |u| {
        u.get("ARM-0007").is_some_and(|u| u.events.len() == 3)
    }));

    first.close().expect("close");
    std::thread::sleep(Duration::from_millis(500));
    for k in 0..4 {
        link.event(EventKind::Loop, format!("during {k}"), None);
        link.offer_state(state.clone());
        std::thread::sleep(Duration::from_millis(200));
    }
    let _second = router(port);
    link.event(EventKind::Loop, "after".into(), None);
    assert!(
        watch.wait_until(WAIT, |u| u
            .get("ARM-0007")
            .is_some_and(|u| u.events.len() == 8 && u.alive)),
        "{:?}",
        watch.units().get("ARM-0007")
    );
    let view = watch.units().remove("ARM-0007").expect("unit");
    let texts: Vec<&str> = view.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "before 0", "before 1", "before 2", "during 0", "during 1", "during 2", "during 3",
            "after"
        ]
    );
    assert!(
        view.events
            .iter()
            .enumerate()
            .all(|(k, e)| e.seq == k as u64)
    );
    assert_eq!(view.events_lost, 0);
    assert!(view.returns >= 1, "{view:?}");

    // What the unit learns of itself once running, its status says from then on.
    let (statuses, _) = fleet.status(WAIT).expect("status");
    assert_eq!(statuses[0].info.firmware, None);
    link.describe(UnitInfo {
        robot: "arm7".into(),
        firmware: Some("1.2.3".into()),
        config_digest: Some("47700dcf".into()),
    });
    let deadline = std::time::Instant::now() + WAIT;
    let statuses = loop {
        let (statuses, _) = fleet.status(WAIT).expect("status");
        if statuses[0].info.firmware.is_some() || std::time::Instant::now() > deadline {
            break statuses;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let info = &statuses[0].info;
    assert_eq!(
        (info.robot.as_str(), info.firmware.as_deref()),
        ("arm7", Some("1.2.3"))
    );
    assert_eq!(info.config_digest.as_deref(), Some("47700dcf"));
    link.finish().expect("finish");
}

#[test]
fn an_operator_watching_hundreds_of_units_finds_them_all_alive() {
    // Who is alive, asked while a watch keeps every unit's liveliness token: 600
    // answers at once (zenoh's default channel holds 256, and `send all` used to hang
    // there), none left out (asked on the watch's session, the router once answered
    // none under load). One session stands in for 600 units' tokens.
    let port = free_port();
    let _router = router(port);
    let units = zenoh::open(client(port).zenoh().expect("config"))
        .wait()
        .expect("session");
    let tokens: Vec<_> = (0..600)
        .map(|k| {
            (units.liveliness())
                .declare_token(format!("embody/t4/U-{k:04}"))
                .wait()
                .expect("token")
        })
        .collect();
    let fleet = Fleet::join(&client(port), "t4", "ops").expect("fleet");
    let watch = fleet.watch().expect("watch");
    assert!(watch.wait_until(WAIT, |u| u.len() == 600 && u.values().all(|v| v.alive)));
    let alive = fleet.alive(WAIT).expect("alive");
    assert_eq!(alive.len(), 600);
    assert_eq!(
        (alive[0].as_str(), alive[599].as_str()),
        ("U-0000", "U-0599")
    );
    drop(tokens);
}

#[test]
fn bad_names_and_endpoints_are_refused_before_joining() {
    let e = UnitLink::spawn(UnitLinkConfig::new(
        NetConfig::client("tcp/127.0.0.1:1"),
        "lab",
        "a/b",
        UnitInfo::default(),
    ))
    .err()
    .expect("bad unit");
    assert!(e.to_string().starts_with("unit 'a/b'"), "{e}");
    let e = Fleet::join(&NetConfig::client("nowhere"), "lab", "ops")
        .err()
        .expect("bad endpoint");
    assert!(e.to_string().starts_with("endpoint 'nowhere'"), "{e}");
}
