//! A learned policy as a session's driver (issue 16): the probe package steps at its
//! 50 Hz on simulated time, every step infers, its targets reach the loop through the
//! targets queue; a network answering NaN faults the loop and nothing of it is sent.

use std::path::{Path, PathBuf};

use embody_control::{Cause, ControllerKind, EventKind, Lifecycle};
use embody_runtime::policy::Manifest;
use embody_runtime::policy_driver::start_configuration;
use embody_runtime::{Backend, Drive, PolicyRun, Quiet, Session, Simulator};

fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn session(package: PathBuf, robot: &str, seconds: f64) -> Session {
    let model = embody_model::robots::load(robot, None).expect("robot");
    let text = std::fs::read_to_string(package.join("policy.toml")).expect("manifest");
    let manifest = Manifest::parse(&text, &package.join("policy.toml")).expect("manifest");
    Session {
        robot: Some(robot.to_owned()),
        stop_after_s: Some(seconds + 0.01),
        ..Session::new(
            Backend::Simulator(Simulator {
                initial: Some(start_configuration(&model, &manifest, 0.0)),
                ..Simulator::default()
            }),
            Drive::Policy(PolicyRun {
                package,
                command: vec![("vx".into(), 0.3)],
                seconds: Some(seconds),
                record: None,
                approach: false,
            }),
        )
    }
}

#[test]
fn the_probe_steps_at_its_rate_and_drives_the_loop_through_targets() {
    let report = session(
        path("../../examples/policies/humanoid_probe"),
        "humanoid",
        1.0,
    )
    .run(&mut Quiet)
    .expect("run");
    let unit = &report.units[0];
    let outcome = unit.policy.as_ref().expect("a policy ran");
    // 0, 20, …, 980 ms: 50 steps in the second.
    assert_eq!(outcome.steps, 50, "{outcome:?}");
    assert_eq!(outcome.inferences, 50);
    assert!(
        (outcome.rate_hz() - 50.0).abs() < 0.5,
        "{}",
        outcome.rate_hz()
    );
    assert!(outcome.latency_quantile_us(0.5).is_finite());
    assert!(unit.events.iter().any(|e| matches!(
        e.kind,
        EventKind::ControllerSwitched {
            to: ControllerKind::Targets,
            ..
        }
    )));
    assert_eq!(unit.snapshot.controller, ControllerKind::Targets as u8);
}

#[test]
fn a_network_answering_nan_faults_the_loop_and_nothing_is_sent() {
    let report = session(path("tests/fixtures/nan_policy"), "arm7", 0.5)
        .run(&mut Quiet)
        .expect("run");
    let unit = &report.units[0];
    assert_eq!(unit.snapshot.lifecycle, Lifecycle::Fault);
    let fault = unit
        .events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Transition {
                to: Lifecycle::Fault,
                cause,
                ..
            } => Some(cause),
            _ => None,
        })
        .expect("a fault");
    assert!(
        matches!(fault, Cause::NonFiniteCommand { joint: 1 | 3 }),
        "{fault:?}"
    );
    assert!(unit.snapshot.tau_command.iter().all(|t| t.is_finite()));
}
