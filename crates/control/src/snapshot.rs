//! State snapshots out of the loop: a single-writer, many-reader ring of the last
//! [`SNAPSHOT_SLOTS`] snapshots, each slot a sequence lock over atomic words. The loop
//! publishes without ever waiting; a reader copies a slot and retries if the writer moved
//! underneath it. A reader either takes the latest snapshot (the planner, the CLI) or
//! follows every one with a cursor (a recorder), waking every few tens of milliseconds and
//! catching up; what the ring overwrote before it got there is counted as skipped. All in
//! safe Rust: every word is an `AtomicU64`, so a torn read is detected, never undefined.

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

/// Snapshots the ring keeps: 64 ms of a 1 kHz loop for a follower to catch up.
pub const SNAPSHOT_SLOTS: usize = 64;

/// One slot: a sequence lock (odd while being written) over the words, whose first word
/// is the publish count the slot holds.
#[derive(Debug)]
struct Slot {
    sequence: AtomicU64,
    words: Box<[AtomicU64]>,
}

#[derive(Debug)]
struct Shared {
    /// Snapshots published so far; the latest is in slot `(head - 1) % SNAPSHOT_SLOTS`.
    head: AtomicU64,
    slots: Box<[Slot]>,
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

/// A follower's position in the stream of snapshots (see [`SnapshotReader::next`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor(u64);

/// What [`SnapshotReader::next`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The next snapshot.
    Snapshot {
        /// Snapshots the ring overwrote before this reader got to them, skipped.
        skipped: u64,
    },
    /// Nothing newer yet.
    Waiting,
}

/// A new snapshot ring.
pub fn snapshot_buffer() -> (SnapshotWriter, SnapshotReader) {
    let shared = Arc::new(Shared {
        head: AtomicU64::new(0),
        slots: (0..SNAPSHOT_SLOTS)
            .map(|_| Slot {
                sequence: AtomicU64::new(0),
                words: (0..1 + WORDS).map(|_| AtomicU64::new(0)).collect(),
            })
            .collect(),
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
        let count = sh.head.load(Ordering::Relaxed);
        let slot = &sh.slots[(count % SNAPSHOT_SLOTS as u64) as usize];
        let seq = slot.sequence.load(Ordering::Relaxed);
        slot.sequence.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let w = |i: usize, v: u64| slot.words[1 + i].store(v, Ordering::Relaxed);
        slot.words[0].store(count, Ordering::Relaxed);
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
        slot.sequence.store(seq.wrapping_add(2), Ordering::Release);
        sh.head.store(count + 1, Ordering::Release);
    }
}

impl SnapshotReader {
    /// Copies the latest snapshot into `out` (sized for the robot by
    /// [`StateSnapshot::new`]). Returns false if nothing was published yet. Spins only
    /// while the writer is mid-publish (a few hundred nanoseconds).
    pub fn read(&self, out: &mut StateSnapshot) -> bool {
        loop {
            let head = self.shared.head.load(Ordering::Acquire);
            if head == 0 {
                return false;
            }
            // The slot may already hold a newer publish: that is the latest too.
            if self.read_slot(head - 1, out).is_some() {
                return true;
            }
        }
    }

    /// The latest snapshot, freshly allocated (for readers off the loop).
    pub fn latest(&self) -> Option<StateSnapshot> {
        let mut s = StateSnapshot::new(0);
        self.read(&mut s).then_some(s)
    }

    /// A cursor at the next snapshot to be published: a follower starting now.
    pub fn cursor(&self) -> Cursor {
        Cursor(self.shared.head.load(Ordering::Acquire))
    }

    /// Copies the snapshot at `cursor` into `out` and moves the cursor past it; the
    /// ones the ring overwrote before this reader got to them are skipped and counted.
    pub fn next(&self, cursor: &mut Cursor, out: &mut StateSnapshot) -> Next {
        let mut skipped = 0;
        loop {
            let head = self.shared.head.load(Ordering::Acquire);
            if cursor.0 >= head {
                return Next::Waiting;
            }
            // The oldest slot may be the one being rewritten next: leave it a margin.
            let oldest = head.saturating_sub(SNAPSHOT_SLOTS as u64 - 1);
            if cursor.0 < oldest {
                skipped += oldest - cursor.0;
                cursor.0 = oldest;
            }
            match self.read_slot(cursor.0, out) {
                Some(found) if found == cursor.0 => {
                    cursor.0 += 1;
                    return Next::Snapshot { skipped };
                }
                // Overwritten while we looked: skip it.
                _ => {
                    skipped += 1;
                    cursor.0 += 1;
                }
            }
        }
    }

    /// Reads the slot of publish `count` into `out`; the publish count it held, or `None`
    /// if it held an older one (not written yet: impossible below `head`).
    fn read_slot(&self, count: u64, out: &mut StateSnapshot) -> Option<u64> {
        let slot = &self.shared.slots[(count % SNAPSHOT_SLOTS as u64) as usize];
        loop {
            let before = slot.sequence.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let found = slot.words[0].load(Ordering::Relaxed);
            let r = |i: usize| slot.words[1 + i].load(Ordering::Relaxed);
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
            if slot.sequence.load(Ordering::Relaxed) == before {
                return (found >= count).then_some(found);
            }
        }
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

    #[test]
    fn a_follower_sees_every_snapshot_in_order_or_counts_it_skipped() {
        let (writer, reader) = snapshot_buffer();
        let mut s = StateSnapshot::new(3);
        let publish = |tick: u64, s: &mut StateSnapshot| {
            s.tick = tick;
            s.q.fill(tick as f64);
            writer.publish(s);
        };
        let mut cursor = reader.cursor();
        let mut out = StateSnapshot::new(3);
        assert_eq!(reader.next(&mut cursor, &mut out), Next::Waiting);
        for tick in 1..=10 {
            publish(tick, &mut s);
        }
        for tick in 1..=10 {
            assert_eq!(
                reader.next(&mut cursor, &mut out),
                Next::Snapshot { skipped: 0 }
            );
            assert_eq!((out.tick, out.q[2]), (tick, tick as f64));
        }
        assert_eq!(reader.next(&mut cursor, &mut out), Next::Waiting);
        // Fall behind by more than the ring: the overwritten ones are counted.
        for tick in 11..=200 {
            publish(tick, &mut s);
        }
        let first = 200 - (SNAPSHOT_SLOTS as u64 - 1) + 1;
        assert_eq!(
            reader.next(&mut cursor, &mut out),
            Next::Snapshot {
                skipped: first - 11
            }
        );
        assert_eq!(out.tick, first);
        // The latest is always at hand.
        assert!(reader.read(&mut out));
        assert_eq!(out.tick, 200);
    }

    #[test]
    fn a_racing_follower_sees_whole_snapshots_in_order_and_loses_none_uncounted() {
        let (writer, reader) = snapshot_buffer();
        const TICKS: u64 = 200_000;
        // Following from before the first publish.
        let mut cursor = reader.cursor();
        let follower = std::thread::spawn(move || {
            let mut s = StateSnapshot::new(29);
            let (mut seen, mut skipped, mut last) = (0u64, 0u64, 0u64);
            while last < TICKS {
                match reader.next(&mut cursor, &mut s) {
                    Next::Snapshot { skipped: k } => {
                        let t = s.tick as f64;
                        assert!(s.q.iter().chain(&s.tau_command).all(|v| *v == t));
                        assert_eq!(s.tick, last + 1 + k, "out of order or uncounted");
                        (seen, skipped, last) = (seen + 1, skipped + k, s.tick);
                    }
                    Next::Waiting => std::thread::yield_now(),
                }
            }
            (seen, skipped)
        });
        let mut s = StateSnapshot::new(29);
        for tick in 1..=TICKS {
            s.tick = tick;
            for a in s.arrays_mut() {
                a.fill(tick as f64);
            }
            writer.publish(&s);
        }
        let (seen, skipped) = follower.join().expect("follower saw only whole snapshots");
        assert_eq!(seen + skipped, TICKS);
    }
}
