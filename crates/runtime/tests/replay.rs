//! `embody_runtime::replay`: an episode's actions, written with the dataset writer, drive
//! the simulated arm to where they end (the values written are the reference), and an
//! episode with a non-finite action is refused with its frame before anything moves.

use std::path::{Path, PathBuf};

use embody_dataset::{DatasetSpec, DatasetWriter, EpisodeEnd};
use embody_runtime::{Backend, Quiet, replay};

const JOINTS: [&str; 8] = [
    "joint1",
    "joint2",
    "joint3",
    "joint4",
    "joint5",
    "joint6",
    "joint7",
    "finger_left_joint",
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("embody-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A one-episode arm7 dataset whose action at frame k is `action(k)`.
fn dataset(dir: &Path, frames: usize, action: impl Fn(usize) -> [f32; 8]) {
    let names: Vec<String> = JOINTS.iter().map(|j| j.to_string()).collect();
    let spec = DatasetSpec {
        robot_type: "arm7".into(),
        fps: 30,
        vectors: vec![
            ("observation.state".into(), names.clone()),
            ("action".into(), names),
        ],
        cameras: Vec::new(),
    };
    let mut writer = DatasetWriter::create(dir, spec).expect("a new dataset");
    writer.begin_episode("ramp").expect("episode");
    for k in 0..frames {
        let a = action(k);
        writer.frame(&[&a, &a], &[]).expect("frame");
    }
    writer
        .end_episode(EpisodeEnd {
            success: true,
            late_frames: 0,
            seed: 0,
        })
        .expect("end");
    writer.finish().expect("finished");
}

#[test]
fn the_recorded_actions_drive_the_arm_to_where_they_end() {
    let dir = scratch("ramp");
    // Joint 1 from 0 to 0.3 rad over a second, joint 4 to -0.5, then held.
    dataset(&dir, 45, |k| {
        let s = (k as f32 / 30.0).min(1.0);
        [0.3 * s, 0.0, 0.0, -0.5 * s, 0.0, 0.0, 0.0, 0.02]
    });
    let plan = replay::load(&dir, 0).expect("the episode");
    assert!(plan.task.is_none(), "written without a task");
    assert_eq!(plan.episode.info.length, 45);
    let report = replay::session(&plan, Backend::simulator())
        .expect("a session")
        .run(&mut Quiet)
        .expect("it runs");
    let unit = &report.units[0];
    assert!(
        unit.fault_reports().is_empty(),
        "{:?}",
        unit.fault_reports()
    );
    let q = &unit.snapshot.q;
    for (k, want) in [(0, 0.3), (3, -0.5), (7, 0.02)] {
        assert!(
            (q[k] - want).abs() < 0.01,
            "joint {k} at {}, the last action {want}",
            q[k]
        );
    }
    assert!(
        unit.loop_s >= plan.seconds() - 0.05,
        "ran {} s of {}",
        unit.loop_s,
        plan.seconds()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_non_finite_action_is_refused_with_its_frame() {
    let dir = scratch("nan");
    dataset(&dir, 5, |k| {
        let bad = if k == 3 { f32::NAN } else { 0.0 };
        [bad, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    });
    let error = replay::load(&dir, 0).expect_err("a NaN action").to_string();
    assert!(error.contains("frame 3"), "{error}");
    let missing = replay::load(&dir, 7).expect_err("no episode 7").to_string();
    assert!(missing.contains("no episode 7"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}
