//! The trajectory follower: turns queued joint-space segments into a smooth reference
//! `(q, dq, ddq)` at the loop's rate, so a 100 Hz planner drives a 1 kHz loop. Each
//! [`Segment`] gives the state to reach and the time to reach it; the follower joins it to
//! the end of the previous one with a cubic (position and velocity continuous) or quintic
//! (acceleration continuous as well) polynomial. When the queue runs dry the reference
//! holds the last point; running dry while still moving is reported as starvation.
//! Fixed-size arrays: popping and evaluating never allocates.

use crossbeam_queue::ArrayQueue;
use serde::{Deserialize, Serialize};

/// The most joints a segment carries.
pub const MAX_JOINTS: usize = 64;

/// Longest accepted segment (s).
const MAX_SEGMENT_S: f64 = 60.0;

/// How a segment joins its start to its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Cubic Hermite: position and velocity continuous.
    Cubic,
    /// Quintic: position, velocity and acceleration continuous.
    #[default]
    Quintic,
}

/// A joint-space point: position, velocity, acceleration per joint (first `n` used).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JointPoint {
    /// Positions (rad).
    pub q: [f64; MAX_JOINTS],
    /// Velocities (rad/s).
    pub dq: [f64; MAX_JOINTS],
    /// Accelerations (rad/s²).
    pub ddq: [f64; MAX_JOINTS],
}

impl JointPoint {
    /// All zeros.
    pub const ZERO: JointPoint = JointPoint {
        q: [0.0; MAX_JOINTS],
        dq: [0.0; MAX_JOINTS],
        ddq: [0.0; MAX_JOINTS],
    };

    /// At rest at `q`.
    pub fn at_rest(q: &[f64]) -> JointPoint {
        let mut p = JointPoint::ZERO;
        let n = q.len().min(MAX_JOINTS);
        p.q[..n].copy_from_slice(&q[..n]);
        p
    }
}

/// One piece of trajectory: reach `end` after `duration_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Time to reach the end point from the previous one (s).
    pub duration_s: f64,
    /// The point reached.
    pub end: JointPoint,
    /// The joining polynomial.
    pub interpolation: Interpolation,
}

/// Why a segment was refused.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum SegmentError {
    /// Duration not in (0, 60] s.
    #[error("segment duration {0} s is not in (0, 60]")]
    Duration(f64),
    /// A value is NaN or infinite.
    #[error("segment value for joint {0} is not finite")]
    NotFinite(usize),
    /// An end position is outside the joint's limits.
    #[error("segment ends outside the limits of joint {0}")]
    OutOfLimits(usize),
    /// Reaching the end point would take joint `.0` faster than its velocity limit on
    /// average (a jump, e.g. after segments were lost).
    #[error("segment would move joint {0} faster than its velocity limit")]
    TooFast(usize),
}

/// What the follower did this tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FollowerStatus {
    /// Following a segment.
    Moving,
    /// No segment: holding the last point at rest.
    Idle,
    /// The queue ran dry while the reference was still moving: holding.
    Starved,
    /// A segment was refused (and dropped).
    Rejected(SegmentError),
}

/// The follower. See the module docs.
#[derive(Clone, Debug)]
pub struct TrajectoryFollower {
    n: usize,
    lower: [f64; MAX_JOINTS],
    upper: [f64; MAX_JOINTS],
    velocity: [f64; MAX_JOINTS],
    start: JointPoint,
    current: Option<Segment>,
    t_s: f64,
    reference: JointPoint,
}

impl TrajectoryFollower {
    /// A follower for joints with these position limits, at rest at zero.
    pub fn new(lower: &[f64], upper: &[f64]) -> TrajectoryFollower {
        let n = lower.len().min(MAX_JOINTS);
        let (mut lo, mut hi) = ([f64::NEG_INFINITY; MAX_JOINTS], [f64::INFINITY; MAX_JOINTS]);
        lo[..n].copy_from_slice(&lower[..n]);
        hi[..n].copy_from_slice(&upper[..n]);
        TrajectoryFollower {
            n,
            lower: lo,
            upper: hi,
            velocity: [f64::INFINITY; MAX_JOINTS],
            start: JointPoint::ZERO,
            current: None,
            t_s: 0.0,
            reference: JointPoint::ZERO,
        }
    }

    /// Refuses segments whose mean speed exceeds these per-joint limits (rad/s); a
    /// limit that is not positive and finite leaves the joint unchecked.
    pub fn with_velocity_limits(mut self, velocity: &[f64]) -> TrajectoryFollower {
        for (limit, v) in self.velocity[..self.n].iter_mut().zip(velocity) {
            *limit = if v.is_finite() && *v > 0.0 {
                *v
            } else {
                f64::INFINITY
            };
        }
        self
    }

    /// The reference of the last [`TrajectoryFollower::advance`].
    pub fn reference(&self) -> &JointPoint {
        &self.reference
    }

    /// True while a segment is being followed.
    pub fn is_moving(&self) -> bool {
        self.current.is_some()
    }

    /// Restarts at rest at `q`, dropping the segment in progress (not the queue).
    pub fn reset(&mut self, q: &[f64]) {
        self.start = JointPoint::at_rest(q);
        self.reference = self.start;
        self.current = None;
        self.t_s = 0.0;
    }

    /// Checks a segment against the joint count and limits.
    pub fn validate(&self, segment: &Segment) -> Result<(), SegmentError> {
        if !(segment.duration_s > 0.0 && segment.duration_s <= MAX_SEGMENT_S) {
            return Err(SegmentError::Duration(segment.duration_s));
        }
        let e = &segment.end;
        for j in 0..self.n {
            if !(e.q[j].is_finite() && e.dq[j].is_finite() && e.ddq[j].is_finite()) {
                return Err(SegmentError::NotFinite(j));
            }
            if e.q[j] < self.lower[j] || e.q[j] > self.upper[j] {
                return Err(SegmentError::OutOfLimits(j));
            }
            // The mean speed bounds the peak from below: faster on average is a jump.
            // (A hair of slack for rounding in segments planned exactly at the limit.)
            let mean = (e.q[j] - self.start.q[j]).abs() / segment.duration_s;
            if mean > self.velocity[j] * (1.0 + 1e-6) {
                return Err(SegmentError::TooFast(j));
            }
        }
        Ok(())
    }

    /// Moves the reference `dt_s` forward, taking segments from `queue` as needed.
    pub fn advance(&mut self, dt_s: f64, queue: &ArrayQueue<Segment>) -> FollowerStatus {
        self.t_s += dt_s.max(0.0);
        loop {
            if let Some(segment) = self.current {
                if self.t_s < segment.duration_s {
                    self.evaluate(&segment);
                    return FollowerStatus::Moving;
                }
                self.t_s -= segment.duration_s;
                self.start = segment.end;
                self.current = None;
            }
            let Some(next) = queue.pop() else {
                let moving = self.start.dq[..self.n].iter().any(|v| *v != 0.0);
                // Hold the last point at rest.
                self.start.dq = [0.0; MAX_JOINTS];
                self.start.ddq = [0.0; MAX_JOINTS];
                self.reference = self.start;
                self.t_s = 0.0;
                return if moving {
                    FollowerStatus::Starved
                } else {
                    FollowerStatus::Idle
                };
            };
            if let Err(e) = self.validate(&next) {
                self.reference = self.start;
                return FollowerStatus::Rejected(e);
            }
            self.current = Some(next);
        }
    }

    fn evaluate(&mut self, segment: &Segment) {
        let t_end = segment.duration_s;
        let s = self.t_s;
        let (a, b) = (&self.start, &segment.end);
        for j in 0..self.n {
            let (q, dq, ddq) = match segment.interpolation {
                Interpolation::Cubic => cubic(a.q[j], a.dq[j], b.q[j], b.dq[j], t_end, s),
                Interpolation::Quintic => quintic(
                    [a.q[j], a.dq[j], a.ddq[j]],
                    [b.q[j], b.dq[j], b.ddq[j]],
                    t_end,
                    s,
                ),
            };
            self.reference.q[j] = q;
            self.reference.dq[j] = dq;
            self.reference.ddq[j] = ddq;
        }
    }
}

/// Cubic Hermite from `(q0, v0)` to `(q1, v1)` over `t_end`, at `t`: `(q, dq, ddq)`.
fn cubic(q0: f64, v0: f64, q1: f64, v1: f64, t_end: f64, t: f64) -> (f64, f64, f64) {
    let h = q1 - q0;
    let c2 = (3.0 * h - (2.0 * v0 + v1) * t_end) / (t_end * t_end);
    let c3 = (-2.0 * h + (v0 + v1) * t_end) / (t_end * t_end * t_end);
    (
        q0 + v0 * t + c2 * t * t + c3 * t * t * t,
        v0 + 2.0 * c2 * t + 3.0 * c3 * t * t,
        2.0 * c2 + 6.0 * c3 * t,
    )
}

/// Quintic from `[q, v, a]` at 0 to `[q, v, a]` at `t_end`, at `t`: `(q, dq, ddq)`.
fn quintic(start: [f64; 3], end: [f64; 3], t_end: f64, t: f64) -> (f64, f64, f64) {
    let [q0, v0, a0] = start;
    let [q1, v1, a1] = end;
    let (t1, t2) = (t_end, t_end * t_end);
    let (t3, t4, t5) = (t2 * t1, t2 * t2, t2 * t2 * t1);
    let h = q1 - q0;
    let c3 = (20.0 * h - (8.0 * v1 + 12.0 * v0) * t1 - (3.0 * a0 - a1) * t2) / (2.0 * t3);
    let c4 = (-30.0 * h + (14.0 * v1 + 16.0 * v0) * t1 + (3.0 * a0 - 2.0 * a1) * t2) / (2.0 * t4);
    let c5 = (12.0 * h - 6.0 * (v1 + v0) * t1 - (a0 - a1) * t2) / (2.0 * t5);
    let (s, s2) = (t, t * t);
    let (s3, s4) = (s2 * s, s2 * s2);
    (
        q0 + v0 * s + 0.5 * a0 * s2 + c3 * s3 + c4 * s4 + c5 * s4 * s,
        v0 + a0 * s + 3.0 * c3 * s2 + 4.0 * c4 * s3 + 5.0 * c5 * s4,
        a0 + 6.0 * c3 * s + 12.0 * c4 * s2 + 20.0 * c5 * s3,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(
        q: f64,
        dq: f64,
        ddq: f64,
        duration_s: f64,
        interpolation: Interpolation,
    ) -> Segment {
        let mut end = JointPoint::ZERO;
        end.q[0] = q;
        end.dq[0] = dq;
        end.ddq[0] = ddq;
        Segment {
            duration_s,
            end,
            interpolation,
        }
    }

    #[test]
    fn polynomials_meet_their_boundary_conditions() {
        let (q, dq, ddq) = quintic([0.1, 0.2, 0.3], [1.0, -0.5, 0.7], 0.8, 0.8);
        assert!((q - 1.0).abs() < 1e-12 && (dq + 0.5).abs() < 1e-12 && (ddq - 0.7).abs() < 1e-11);
        let (q, dq, ddq) = quintic([0.1, 0.2, 0.3], [1.0, -0.5, 0.7], 0.8, 0.0);
        assert!((q - 0.1).abs() < 1e-15 && (dq - 0.2).abs() < 1e-15 && (ddq - 0.3).abs() < 1e-15);
        let (q, dq, _) = cubic(0.1, 0.2, 1.0, -0.5, 0.8, 0.8);
        assert!((q - 1.0).abs() < 1e-12 && (dq + 0.5).abs() < 1e-12);
        // The rest-to-rest quintic is the minimum-jerk profile: 10s³ − 15s⁴ + 6s⁵.
        let (q, _, _) = quintic([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], 2.0, 0.5);
        let s: f64 = 0.25;
        assert!((q - (10.0 * s.powi(3) - 15.0 * s.powi(4) + 6.0 * s.powi(5))).abs() < 1e-12);
    }

    #[test]
    fn a_100_hz_stream_of_segments_gives_a_smooth_1_khz_reference() {
        // The planner samples q(t) = sin(t) at 100 Hz with exact velocity and acceleration.
        let queue = ArrayQueue::new(256);
        for k in 1..=200 {
            let t = k as f64 * 0.01;
            queue
                .push(segment(
                    t.sin(),
                    t.cos(),
                    -t.sin(),
                    0.01,
                    Interpolation::Quintic,
                ))
                .expect("room");
        }
        let mut follower = TrajectoryFollower::new(&[-2.0], &[2.0]);
        follower.reset(&[0.0]);
        // The reference starts at rest while sin starts moving: compare after 0.1 s.
        let mut worst: f64 = 0.0;
        let mut previous_ddq: Option<f64> = None;
        for k in 1..=1990 {
            assert_eq!(follower.advance(1e-3, &queue), FollowerStatus::Moving);
            let t = k as f64 * 1e-3;
            let r = follower.reference();
            if t > 0.1 {
                worst = worst.max((r.q[0] - t.sin()).abs());
                worst = worst.max((r.dq[0] - t.cos()).abs());
                // Acceleration continuous across segment boundaries.
                if let Some(p) = previous_ddq {
                    assert!((r.ddq[0] - p).abs() < 0.02, "ddq jumps at t = {t}");
                }
            }
            previous_ddq = Some(r.ddq[0]);
        }
        assert!(worst < 1e-6, "worst tracking of sin: {worst}");
    }

    #[test]
    fn running_dry_while_moving_is_starvation_and_holds_the_last_point() {
        let queue = ArrayQueue::new(4);
        queue
            .push(segment(0.5, 1.0, 0.0, 0.1, Interpolation::Cubic))
            .expect("room");
        let mut follower = TrajectoryFollower::new(&[-2.0], &[2.0]);
        follower.reset(&[0.0]);
        for _ in 0..99 {
            assert_eq!(follower.advance(1e-3, &queue), FollowerStatus::Moving);
        }
        assert_eq!(follower.advance(1e-3, &queue), FollowerStatus::Starved);
        assert_eq!(
            (follower.reference().q[0], follower.reference().dq[0]),
            (0.5, 0.0)
        );
        assert_eq!(follower.advance(1e-3, &queue), FollowerStatus::Idle);
    }

    #[test]
    fn bad_segments_are_rejected_with_the_reason() {
        let queue = ArrayQueue::new(4);
        let mut follower = TrajectoryFollower::new(&[-1.0], &[1.0]);
        queue
            .push(segment(1.5, 0.0, 0.0, 0.1, Interpolation::Cubic))
            .expect("room");
        queue
            .push(segment(f64::NAN, 0.0, 0.0, 0.1, Interpolation::Cubic))
            .expect("room");
        queue
            .push(segment(0.5, 0.0, 0.0, -1.0, Interpolation::Cubic))
            .expect("room");
        assert_eq!(
            follower.advance(1e-3, &queue),
            FollowerStatus::Rejected(SegmentError::OutOfLimits(0))
        );
        assert_eq!(
            follower.advance(1e-3, &queue),
            FollowerStatus::Rejected(SegmentError::NotFinite(0))
        );
        assert_eq!(
            follower.advance(1e-3, &queue),
            FollowerStatus::Rejected(SegmentError::Duration(-1.0))
        );
        assert_eq!(follower.reference().q[0], 0.0);
    }

    #[test]
    fn a_jump_faster_than_the_velocity_limit_is_rejected_and_a_legal_move_is_not() {
        let queue = ArrayQueue::new(4);
        let mut follower = TrajectoryFollower::new(&[-2.0], &[2.0]).with_velocity_limits(&[2.0]);
        follower.reset(&[0.0]);
        // 0.5 rad in 0.1 s is 5 rad/s on average: a jump for a 2 rad/s joint.
        queue
            .push(segment(0.5, 0.0, 0.0, 0.1, Interpolation::Quintic))
            .expect("room");
        assert_eq!(
            follower.advance(1e-3, &queue),
            FollowerStatus::Rejected(SegmentError::TooFast(0))
        );
        assert_eq!(follower.reference().q[0], 0.0);
        // Exactly at the limit on average (0.2 rad in 0.1 s) is allowed.
        queue
            .push(segment(0.2, 0.0, 0.0, 0.1, Interpolation::Quintic))
            .expect("room");
        assert_eq!(follower.advance(1e-3, &queue), FollowerStatus::Moving);
    }
}
