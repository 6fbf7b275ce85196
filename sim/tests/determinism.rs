//! Lockstep is deterministic: the same seed and inputs give a byte-identical recording
//! (so bit-identical states), run after run; another seed changes the sensor noise and
//! with it the run.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use embody_control::ControlConfig;
use embody_sim::{Recorder, SimConfig};

/// Runs the humanoid standing under the loop for 1.5 s and hashes its recording.
fn recorded_run(seed: u64) -> (u64, usize) {
    let mut control = ControlConfig::default();
    control.joint_pd.kp_per_effort = 20.0;
    control.joint_pd.kd_per_effort = 0.6;
    let config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut rig = common::humanoid(config, control);
    let mut recorder = Recorder::new(Vec::new(), rig.robot.world()).expect("header");
    rig.arm_and_start();
    for _ in 0..1500 {
        rig.step();
        recorder.record(rig.robot.world()).expect("record");
    }
    let bytes = recorder.finish().expect("finish");
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    (hasher.finish(), bytes.len())
}

#[test]
fn the_same_seed_gives_a_bit_identical_run() {
    let (first, len) = recorded_run(7);
    let (second, _) = recorded_run(7);
    assert!(len > 1_000_000, "recording too small: {len} bytes");
    assert_eq!(first, second, "two runs with seed 7 differ");
    let (other, _) = recorded_run(8);
    assert_ne!(
        first, other,
        "seed 8 should change the sensor noise and the run"
    );
}
