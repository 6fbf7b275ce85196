//! Sessions as a library user builds them: lockstep runs are exact (a length is a tick
//! count; a seed gives bit-identical results), a driver of the caller's plugs in and is
//! followed, drives off leave the robot to gravity, a recording and a state record are
//! written, and sessions that cannot run are refused with the reason.

use std::sync::Arc;

use embody_control::{Interpolation, JointPoint, Lifecycle, Segment};
use embody_runtime::{
    Backend, Drive, DriveStatus, Driver, DriverFactory, Pacing, Poll, Quiet, RuntimeError, Session,
    Simulator, Wire,
};

/// The humanoid holding its stance for `seconds` in lockstep.
fn hold(seed: u64, seconds: f64) -> Session {
    Session {
        robot: Some("humanoid".into()),
        seed,
        stop_after_s: Some(seconds),
        ..Session::new(Backend::simulator(), Drive::Hold)
    }
}

#[test]
fn a_lockstep_session_is_exact_and_repeatable() {
    let a = hold(3, 0.25).run(&mut Quiet).expect("runs");
    let b = hold(3, 0.25).run(&mut Quiet).expect("runs");
    let c = hold(4, 0.25).run(&mut Quiet).expect("runs");
    let (a, b, c) = (&a.units[0], &b.units[0], &c.units[0]);
    // 0.25 s at 1 kHz is 250 ticks, not one more or less.
    assert_eq!(a.snapshot.tick, 250);
    assert_eq!(a.loop_s, 0.25);
    assert_eq!(a.snapshot.q, b.snapshot.q, "the same seed, the same run");
    assert_eq!(a.base_pose, b.base_pose);
    assert_ne!(
        a.snapshot.q, c.snapshot.q,
        "another seed, other sensor noise"
    );
    assert_eq!(a.snapshot.lifecycle, Lifecycle::Running);
    assert!(
        a.base_pose.expect("floating base")[2] > 0.9,
        "still standing"
    );
    assert!(a.contacts.expect("simulated") > 0, "on its feet");
}

/// Streams one move to `target` (rest to rest over a second), then is done.
struct MoveOnce {
    target: Vec<f64>,
    sent: bool,
}

impl Driver for MoveOnce {
    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        if !self.sent {
            self.sent = true;
            poll.client
                .send_segment(Segment {
                    duration_s: 1.0,
                    end: JointPoint::at_rest(&self.target),
                    interpolation: Interpolation::Quintic,
                })
                .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
        }
        Ok(if poll.now_s > 1.5 {
            DriveStatus::Done
        } else {
            DriveStatus::Running
        })
    }
}

#[test]
fn a_driver_of_the_callers_plugs_in_and_the_loop_follows_it() {
    let target = vec![0.3, 0.5, -0.2, -1.2, 0.1, 0.9, 0.2, 0.03];
    let factory = {
        let target = target.clone();
        DriverFactory(Arc::new(move |_, _| {
            Box::new(MoveOnce {
                target: target.clone(),
                sent: false,
            })
        }))
    };
    let session = Session::new(Backend::simulator(), Drive::Custom(factory));
    let report = session.run(&mut Quiet).expect("runs");
    let unit = &report.units[0];
    assert_eq!(unit.snapshot.lifecycle, Lifecycle::Running);
    for (k, (q, t)) in unit.snapshot.q.iter().zip(&target).enumerate() {
        assert!((q - t).abs() < 0.01, "joint {k} at {q}, asked {t}");
        assert_eq!(
            unit.snapshot.q_ref[k], *t,
            "the reference ends on the segment's end"
        );
    }
    assert!(unit.task.is_none());
    assert!(
        unit.loop_s > 1.5 && unit.loop_s < 1.6,
        "ended once done: {}",
        unit.loop_s
    );
}

#[test]
fn with_the_drives_off_the_arm_falls_under_gravity() {
    // The shoulder tilted 0.8 rad out of the vertical, everything else straight.
    let mut q0 = nalgebra::DVector::zeros(8);
    q0[1] = 0.8;
    let session = Session {
        stop_after_s: Some(0.3),
        ..Session::new(
            Backend::Simulator(Simulator {
                initial: Some(q0),
                ..Simulator::default()
            }),
            Drive::Off,
        )
    };
    let unit = &session.run(&mut Quiet).expect("runs").units[0];
    assert_eq!(unit.snapshot.lifecycle, Lifecycle::Idle, "never armed");
    // Nothing holds it: it swings further down under the arm's weight.
    assert!(
        unit.snapshot.q[1] > 0.9,
        "shoulder at {}",
        unit.snapshot.q[1]
    );
}

#[test]
fn a_recording_and_a_state_record_are_written() {
    let dir = std::env::temp_dir().join(format!("embody-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (rrd, jsonl) = (dir.join("hold.rrd"), dir.join("hold.jsonl"));
    let session = Session {
        rerun: Some(embody_viz::VizConfig::new(
            embody_viz::Sink::Save(rrd.clone()),
            "arm7",
        )),
        record: Some(jsonl.clone()),
        ..hold(0, 0.1)
    };
    let session = Session {
        robot: Some("arm7".into()),
        ..session
    };
    session.run(&mut Quiet).expect("runs");
    let lines = std::fs::read_to_string(&jsonl).expect("state record");
    // A header, then one state a tick.
    assert_eq!(
        lines.lines().count(),
        101,
        "{}",
        &lines[..200.min(lines.len())]
    );
    assert!(std::fs::metadata(&rrd).expect("recording").len() > 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sessions_that_cannot_run_are_refused_with_the_reason() {
    let wire = Backend::Wire(Wire {
        port: Some("/nonexistent/tty".into()),
        unit: None,
        slcan: false,
        servos: None,
        cia402: false,
        sensor_timeout_ms: None,
    });
    let refused = |session: Session, words: &str| {
        let e = session.run(&mut Quiet).expect_err("refused");
        assert!(e.to_string().contains(words), "{e}");
    };
    refused(
        Session::new(wire.clone(), Drive::Hold),
        "only the simulator runs in lockstep",
    );
    refused(
        Session {
            pacing: Pacing::Realtime(Default::default()),
            stop_after_s: Some(1.0),
            ..Session::new(wire, Drive::Hold)
        },
        "/nonexistent/tty",
    );
    refused(
        Session::new(Backend::simulator(), Drive::Hold),
        "give the session a length",
    );
    refused(
        Session {
            record: Some("x.jsonl".into()),
            pacing: Pacing::Realtime(Default::default()),
            ..Session::new(Backend::simulator(), Drive::Hold)
        },
        "lockstep simulation only",
    );
    refused(
        Session {
            units: 2,
            pacing: Pacing::Realtime(Default::default()),
            ..Session::new(Backend::Mock, Drive::Hold)
        },
        "lockstep simulation only",
    );
    refused(
        Session {
            stop_after_s: Some(f64::INFINITY),
            ..Session::new(Backend::simulator(), Drive::Hold)
        },
        "positive and finite",
    );
}
