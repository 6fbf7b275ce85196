//! A site secured with the fleet's certificates: a router taking only mutual-TLS links
//! and enforcing the fleet's access rules, simulated units and an operator with their own
//! certificates, and the attacks the rules are there for — a node without a
//! certificate, with a tampered one or one from another CA, a unit commanding or
//! speaking for another unit, an operator sending commands under another's name. zenoh
//! itself (its TLS links and access-control interceptor) does the refusing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use embody_control::Lifecycle;
use embody_net::sim_units::{SimFleet, SimUnits};
use embody_net::wire::EventKind;
use embody_net::{Access, Authority, Command, Fleet, Identity, NetConfig, Outcome, Role, Router};
use zenoh::Wait;

const WAIT: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("embody-security-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn client(port: u16, identity: Option<Identity>) -> NetConfig {
    NetConfig {
        tls: identity,
        ..NetConfig::client(&format!("tls/127.0.0.1:{port}"))
    }
}

/// Opens a raw zenoh session as `net`, failing unless the router takes the link.
fn open_now(net: &NetConfig) -> zenoh::Result<zenoh::Session> {
    let mut config = net.zenoh().expect("config");
    config.insert_json5("connect/timeout_ms", "1000")?;
    config.insert_json5("connect/exit_on_failure", "true")?;
    zenoh::open(config).wait()
}

/// A raw subscriber counting the samples on `key` whose payload is `marker`.
fn count_marked(
    session: &zenoh::Session,
    key: &str,
    marker: &'static [u8],
) -> (zenoh::pubsub::Subscriber<()>, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let subscriber = session
        .declare_subscriber(key)
        .callback(move |sample| {
            if sample.payload().to_bytes().as_ref() == marker {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
        .wait()
        .expect("subscriber");
    (subscriber, seen)
}

fn estop_answers(session: &zenoh::Session, key: &str) -> usize {
    let replies = session
        .get(key)
        .payload(r#"{"command":"estop"}"#)
        .timeout(Duration::from_secs(1))
        .wait()
        .expect("get");
    replies.iter().filter(|r| r.result().is_ok()).count()
}

/// A copy of `pem` with one character of its signature changed.
fn tampered(pem: &Path, out: &Path) {
    let text = std::fs::read_to_string(pem).expect("pem");
    let end = text.find("-----END").expect("end");
    let mut bytes = text.into_bytes();
    let at = (end - 40..end)
        .find(|&i| bytes[i].is_ascii_alphabetic())
        .expect("a letter");
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(out, bytes).expect("write");
}

#[test]
fn only_the_fleets_certificates_join_and_each_does_only_its_part() {
    let dir = temp("site");
    let ca = Authority::init(&dir, "lab", 5).expect("ca");
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    let router_id = ca.issue(Role::Router, "site", &hosts, 1).expect("router");
    for unit in ["SIM-0001", "SIM-0002"] {
        ca.issue(Role::Unit, unit, &[], 1).expect("unit");
    }
    let ana = ca.issue(Role::Operator, "ana", &[], 1).expect("ana");
    ca.issue(Role::Operator, "bo", &[], 1).expect("bo");

    let port = free_port();
    let access = Access::from_roster(&ca, "lab", None).expect("roster");
    assert_eq!(access.units, ["SIM-0001", "SIM-0002"]);
    assert_eq!(access.operators, ["ana", "bo"]);
    let _router = Router::start(&NetConfig {
        tls: Some(router_id),
        access: Some(access),
        ..NetConfig::router(&format!("tls/127.0.0.1:{port}"))
    })
    .expect("router");
    let two = SimUnits {
        count: 2,
        first: 0,
        rate_hz: 50.0,
        ros_domain: None,
    };
    let units =
        SimFleet::start(&client(port, None), Some(&ca), "lab", &two, &mut |_| {}).expect("units");

    // An operator's certificate: the fleet is seen, asked and commanded.
    let fleet = Fleet::join(&client(port, Some(ana.clone())), "lab", "ana").expect("fleet");
    let watch = fleet.watch().expect("watch");
    assert!(
        watch.wait_until(WAIT, |u| u.len() == 2 && u.values().all(|v| v.states > 5)),
        "{:?}",
        watch.units()
    );
    let (statuses, silent) = fleet.status(WAIT).expect("status");
    assert_eq!((statuses.len(), silent.len()), (2, 0), "{silent:?}");
    let one = vec!["SIM-0001".to_owned()];
    let report = fleet.send(&one, &Command::Estop, WAIT).expect("estop");
    assert_eq!(report.acks.len(), 1, "{report:?}");
    assert_eq!(report.acks[0].0.outcome, Outcome::Done);
    assert!(
        watch.wait_until(WAIT, |u| u["SIM-0001"].events.iter().any(|e| {
            e.kind == EventKind::Command && e.operator.as_deref() == Some("ana")
        }))
    );
    let e = Fleet::join(&client(port, Some(ana.clone())), "lab", "bo").err();
    assert!(e.is_some_and(|e| e.to_string().contains("certificate of operator ana")));

    // A unit's certificate: it speaks for itself only, and commands no one.
    let watcher = open_now(&client(port, Some(ana.clone()))).expect("operator session");
    let (_own, own_seen) = count_marked(&watcher, "embody/lab/SIM-0002/events", b"own");
    let (_forged, forged_seen) = count_marked(&watcher, "embody/lab/SIM-0001/state", b"forged");
    let sim2 = ca.identity(Role::Unit, "SIM-0002").expect("id");
    let unit = open_now(&client(port, Some(sim2))).expect("a unit joins");
    for _ in 0..20 {
        unit.put("embody/lab/SIM-0002/events", "own")
            .wait()
            .expect("put");
        unit.put("embody/lab/SIM-0001/state", "forged")
            .wait()
            .expect("put");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(own_seen.load(Ordering::Relaxed) > 0, "its own key passes");
    assert_eq!(
        forged_seen.load(Ordering::Relaxed),
        0,
        "another unit's key does not"
    );
    for key in [
        "embody/lab/SIM-0002/command/ana",
        "embody/lab/*/command/ana",
        "embody/lab/SIM-0002/status",
    ] {
        assert_eq!(estop_answers(&unit, key), 0, "a unit asked {key}");
    }
    let sim2_state = |fleet: &Fleet| {
        let (statuses, _) = fleet.status(WAIT).expect("status");
        (statuses.into_iter())
            .find(|s| s.unit == "SIM-0002")
            .and_then(|s| s.state)
            .map(|s| s.lifecycle)
    };
    assert_eq!(sim2_state(&fleet), Some(Lifecycle::Running));

    // An operator sends commands under its own name only.
    let as_ana = open_now(&client(port, Some(ana))).expect("ana");
    assert_eq!(estop_answers(&as_ana, "embody/lab/SIM-0002/command/bo"), 0);
    assert_eq!(sim2_state(&fleet), Some(Lifecycle::Running));
    assert_eq!(estop_answers(&as_ana, "embody/lab/SIM-0002/command/ana"), 1);

    // No certificate, a tampered one, or one from another CA: no link at all.
    let mut anonymous = client(port, None).zenoh().err();
    assert!(
        anonymous
            .take()
            .is_some_and(|e| e.to_string().contains("is TLS"))
    );
    let no_cert = {
        let mut config = zenoh::Config::default();
        let ca_path = serde_json::to_string(&dir.join("ca.pem")).expect("path");
        for (key, value) in [
            ("mode", r#""client""#.to_owned()),
            ("connect/endpoints", format!(r#"["tls/127.0.0.1:{port}"]"#)),
            ("scouting/multicast/enabled", "false".into()),
            ("transport/link/tls/root_ca_certificate", ca_path),
            ("connect/timeout_ms", "3000".into()),
            ("connect/exit_on_failure", "true".into()),
        ] {
            config.insert_json5(key, &value).expect(key);
        }
        zenoh::open(config).wait()
    };
    assert!(no_cert.is_err(), "a node without a certificate joined");
    let forged = temp("forged");
    let other_ca = Authority::init(&forged, "lab", 5).expect("other ca");
    let mut impostor = other_ca
        .issue(Role::Operator, "ana", &[], 1)
        .expect("impostor");
    impostor.ca = dir.join("ca.pem");
    assert!(
        open_now(&client(port, Some(impostor))).is_err(),
        "a certificate of another CA joined"
    );
    let mut broken = ca.identity(Role::Operator, "bo").expect("bo");
    broken.cert = forged.join("bo-tampered.pem");
    tampered(&dir.join("operators/bo.pem"), &broken.cert);
    assert!(
        open_now(&client(port, Some(broken))).is_err(),
        "a tampered certificate joined"
    );

    units.stop().expect("stop");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&forged);
}
