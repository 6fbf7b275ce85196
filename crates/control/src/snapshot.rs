//! State snapshots out of the loop: a single-writer, many-reader buffer (a sequence lock
//! over atomic words). The loop publishes without ever waiting; a reader copies the latest
//! snapshot and retries if the writer moved underneath it. Readers that sample less often
//! than the loop runs skip snapshots, and can count how many from the tick numbers. All
//! in safe Rust: every word is an `AtomicU64`, so a torn read is detected, never undefined.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};

use serde::Serialize;

use crate::events::Lifecycle;
use crate::trajectory::MAX_JOINTS;

/// The loop's state at one tick, as readers see it. Joint arrays use the first `n`
/// entries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateSnapshot {
    /// Tick number (0 before the first publish).
    pub tick: u64,
    /// Tick time (ns on the loop's clock).
    pub stamp_ns: u64,
    /// Supervisor state.
    pub lifecycle: Lifecycle,
    /// Index of the active controller ([`crate::ControllerKind`] as u8).
    pub controller: u8,
    /// Holding position because the planner went silent or a command was rejected.
    pub holding: bool,
    /// Joints.
    pub n: usize,
    /// Estimated joint positions (rad).
    pub q: Vec<f64>,
    /// Estimated joint velocities (rad/s).
    pub dq: Vec<f64>,
    /// Measured joint torques (N·m).
    pub tau_measured: Vec<f64>,
    /// Reference positions (rad).
    pub q_ref: Vec<f64>,
    /// Reference velocities (rad/s).
    pub dq_ref: Vec<f64>,
    /// Commanded torques, or the impedance law's torque at the measured state (N·m).
    pub tau_command: Vec<f64>,
    /// Base pose `[x y z qx qy qz qw]` (identity for a fixed base).
    pub base_pose: [f64; 7],
    /// Base velocity, linear then angular, in the base frame.
    pub base_velocity: [f64; 6],
    /// Foot contacts as bits.
    pub contacts: u64,
    /// Overruns so far.
    pub overruns: u64,
    /// Forces of the first [`MAX_FORCE_SENSORS`] force-torque sensors (N, each in its
    /// frame, in the robot's sensor order; zero past the robot's count).
    pub forces: [[f64; 3]; MAX_FORCE_SENSORS],
    /// The link's counters: frames received intact, frames corrupted, exchanges
    /// without an answer, bus errors (see `embody_hal::LinkHealth`).
    pub link: [u64; 4],
}

/// Force-torque sensors whose forces a snapshot carries.
pub const MAX_FORCE_SENSORS: usize = 4;

const HEADER: usize = 8;
const ARRAYS: usize = 6;
const BASE: usize = 13;
const EXTRA: usize = 3 * MAX_FORCE_SENSORS + 4;
const WORDS: usize = HEADER + ARRAYS * MAX_JOINTS + BASE + EXTRA;

impl StateSnapshot {
    /// An empty snapshot for `n` joints.
    pub fn new(n: usize) -> StateSnapshot {
        let n = n.min(MAX_JOINTS);
        StateSnapshot {
            tick: 0,
            stamp_ns: 0,
            lifecycle: Lifecycle::Idle,
            controller: 0,
            holding: false,
            n,
            q: vec![0.0; n],
            dq: vec![0.0; n],
            tau_measured: vec![0.0; n],
            q_ref: vec![0.0; n],
            dq_ref: vec![0.0; n],
            tau_command: vec![0.0; n],
            base_pose: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            base_velocity: [0.0; 6],
            contacts: 0,
            overruns: 0,
            forces: [[0.0; 3]; MAX_FORCE_SENSORS],
            link: [0; 4],
        }
    }

    fn arrays(&self) -> [&Vec<f64>; ARRAYS] {
        [
            &self.q,
            &self.dq,
            &self.tau_measured,
            &self.q_ref,
            &self.dq_ref,
            &self.tau_command,
        ]
    }

    fn arrays_mut(&mut self) -> [&mut Vec<f64>; ARRAYS] {
        [
            &mut self.q,
            &mut self.dq,
            &mut self.tau_measured,
            &mut self.q_ref,
            &mut self.dq_ref,
            &mut self.tau_command,
        ]
    }
}

#[derive(Debug)]
struct Shared {
    sequence: AtomicU64,
    words: Box<[AtomicU64]>,
}

/// The writing end, owned by the loop.
#[derive(Debug)]
pub struct SnapshotWriter {
    shared: Arc<Shared>,
}

/// A reading end; clone one per reader.
#[derive(Clone, Debug)]
pub struct SnapshotReader {
    shared: Arc<Shared>,
}

/// A new snapshot buffer.
pub fn snapshot_buffer() -> (SnapshotWriter, SnapshotReader) {
    let shared = Arc::new(Shared {
        sequence: AtomicU64::new(0),
        words: (0..WORDS).map(|_| AtomicU64::new(0)).collect(),
    });
    (
        SnapshotWriter {
            shared: shared.clone(),
        },
        SnapshotReader { shared },
    )
}

impl SnapshotWriter {
    /// Publishes `s`. Real-time safe: a fixed number of atomic stores, never waits.
    pub fn publish(&self, s: &StateSnapshot) {
        let sh = &self.shared;
        let seq = sh.sequence.load(Ordering::Relaxed);
        sh.sequence.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let w = |i: usize, v: u64| sh.words[i].store(v, Ordering::Relaxed);
        w(0, s.tick);
        w(1, s.stamp_ns);
        w(2, s.lifecycle as u64);
        w(3, u64::from(s.controller));
        w(4, u64::from(s.holding));
        w(5, s.n as u64);
        w(6, s.contacts);
        w(7, s.overruns);
        for (a, array) in s.arrays().iter().enumerate() {
            for (j, v) in array.iter().take(s.n).enumerate() {
                w(HEADER + a * MAX_JOINTS + j, v.to_bits());
            }
        }
        let base = HEADER + ARRAYS * MAX_JOINTS;
        for (k, v) in s.base_pose.iter().chain(&s.base_velocity).enumerate() {
            w(base + k, v.to_bits());
        }
        let extra = base + BASE;
        for (k, v) in s.forces.iter().flatten().enumerate() {
            w(extra + k, v.to_bits());
        }
        for (k, v) in s.link.iter().enumerate() {
            w(extra + 3 * MAX_FORCE_SENSORS + k, *v);
        }
        sh.sequence.store(seq.wrapping_add(2), Ordering::Release);
    }
}

impl SnapshotReader {
    /// Copies the latest snapshot into `out` (sized for the robot by
    /// [`StateSnapshot::new`]). Returns false if nothing was published yet. Spins only
    /// while the writer is mid-publish (a few hundred nanoseconds).
    pub fn read(&self, out: &mut StateSnapshot) -> bool {
        let sh = &self.shared;
        loop {
            let before = sh.sequence.load(Ordering::Acquire);
            if before == 0 {
                return false;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let r = |i: usize| sh.words[i].load(Ordering::Relaxed);
            out.tick = r(0);
            out.stamp_ns = r(1);
            out.lifecycle = Lifecycle::from_u8(r(2) as u8);
            out.controller = r(3) as u8;
            out.holding = r(4) != 0;
            let n = (r(5) as usize).min(MAX_JOINTS);
            out.contacts = r(6);
            out.overruns = r(7);
            out.n = n;
            for (a, array) in out.arrays_mut().into_iter().enumerate() {
                array.resize(n, 0.0);
                for (j, v) in array.iter_mut().enumerate() {
                    *v = f64::from_bits(r(HEADER + a * MAX_JOINTS + j));
                }
            }
            let base = HEADER + ARRAYS * MAX_JOINTS;
            for k in 0..7 {
                out.base_pose[k] = f64::from_bits(r(base + k));
            }
            for k in 0..6 {
                out.base_velocity[k] = f64::from_bits(r(base + 7 + k));
            }
            let extra = base + BASE;
            for (k, v) in out.forces.iter_mut().flatten().enumerate() {
                *v = f64::from_bits(r(extra + k));
            }
            for (k, v) in out.link.iter_mut().enumerate() {
                *v = r(extra + 3 * MAX_FORCE_SENSORS + k);
            }
            fence(Ordering::Acquire);
            if sh.sequence.load(Ordering::Relaxed) == before {
                return true;
            }
        }
    }

    /// The latest snapshot, freshly allocated (for readers off the loop).
    pub fn latest(&self) -> Option<StateSnapshot> {
        let mut s = StateSnapshot::new(0);
        self.read(&mut s).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_never_see_a_torn_snapshot_while_the_writer_races() {
        let (writer, reader) = snapshot_buffer();
        assert!(reader.latest().is_none());
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let reader = reader.clone();
                std::thread::spawn(move || {
                    let mut s = StateSnapshot::new(29);
                    let mut seen = 0u64;
                    while seen < 50_000 {
                        if reader.read(&mut s) {
                            // Every field was written from the same tick number.
                            let t = s.tick as f64;
                            assert!(s.q.iter().chain(&s.tau_command).all(|v| *v == t));
                            assert_eq!(s.base_velocity[5], t);
                            assert_eq!(s.forces[MAX_FORCE_SENSORS - 1][2], t);
                            assert_eq!(s.link[3], s.tick);
                            assert!(s.tick >= seen);
                            seen = s.tick;
                        }
                    }
                })
            })
            .collect();
        let mut s = StateSnapshot::new(29);
        let mut tick = 0u64;
        while readers.iter().any(|r| !r.is_finished()) {
            tick += 1;
            let t = tick as f64;
            s.tick = tick;
            for a in s.arrays_mut() {
                a.fill(t);
            }
            s.base_velocity = [t; 6];
            s.forces = [[t; 3]; MAX_FORCE_SENSORS];
            s.link = [tick; 4];
            writer.publish(&s);
        }
        for r in readers {
            r.join().expect("reader saw only whole snapshots");
        }
    }
}
