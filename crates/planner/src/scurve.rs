//! Jerk-limited point-to-point motion: the double-S (seven-segment) velocity profile
//! from rest to rest, time-optimal under velocity, acceleration and jerk bounds
//! (Biagiotti & Melchiorri, *Trajectory Planning for Automatic Machines and Robots*,
//! §3.4). The profile is built as seven constant-jerk pieces and evaluated in closed
//! form, so every sample respects the bounds and the end point is exact.

/// Bounds of a motion (all positive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Velocity bound.
    pub velocity: f64,
    /// Acceleration bound.
    pub acceleration: f64,
    /// Jerk bound.
    pub jerk: f64,
}

/// A rest-to-rest double-S profile over a distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SCurve {
    distance: f64,
    /// Durations of the seven pieces.
    durations: [f64; 7],
    /// Jerk of each piece.
    jerks: [f64; 7],
    /// Position, velocity, acceleration at the start of each piece.
    starts: [[f64; 3]; 7],
}

impl SCurve {
    /// The time-optimal profile covering `distance` (≥ 0) within `limits`.
    pub fn new(distance: f64, limits: Limits) -> SCurve {
        let h = distance.max(0.0);
        let (v, a, j) = (limits.velocity, limits.acceleration, limits.jerk);
        // Phase times: jerk time tj, acceleration time ta, cruise time tv.
        let (tj, ta, tv) = if h == 0.0 {
            (0.0, 0.0, 0.0)
        } else {
            let (mut tj, mut ta) = if v * j >= a * a {
                (a / j, a / j + v / a)
            } else {
                let tj = (v / j).sqrt();
                (tj, 2.0 * tj)
            };
            let mut tv = h / v - ta;
            if tv < 0.0 {
                // The velocity bound is not reached.
                tv = 0.0;
                tj = a / j;
                let delta = a.powi(4) / (j * j) + 4.0 * a * h;
                ta = (a * a / j + delta.sqrt()) / (2.0 * a);
                if ta < 2.0 * tj {
                    // Nor the acceleration bound: pure jerk pieces.
                    tj = (h / (2.0 * j)).cbrt();
                    ta = 2.0 * tj;
                }
            }
            (tj, ta, tv)
        };
        let durations = [tj, ta - 2.0 * tj, tj, tv, tj, ta - 2.0 * tj, tj];
        let jerks = [j, 0.0, -j, 0.0, -j, 0.0, j];
        let mut starts = [[0.0; 3]; 7];
        let mut state = [0.0; 3];
        for k in 0..7 {
            starts[k] = state;
            state = advance(state, jerks[k], durations[k].max(0.0));
        }
        SCurve {
            distance: h,
            durations: durations.map(|d| d.max(0.0)),
            jerks,
            starts,
        }
    }

    /// Total duration (s).
    pub fn duration(&self) -> f64 {
        self.durations.iter().sum()
    }

    /// Position, velocity and acceleration at time `t` (clamped to the profile; the end
    /// is exactly the distance, at rest).
    pub fn sample(&self, t: f64) -> [f64; 3] {
        if t <= 0.0 {
            return [0.0; 3];
        }
        let mut start = 0.0;
        for k in 0..7 {
            let end = start + self.durations[k];
            if t < end {
                return advance(self.starts[k], self.jerks[k], t - start);
            }
            start = end;
        }
        [self.distance, 0.0, 0.0]
    }
}

/// State after `dt` of constant jerk `j` from `[p, v, a]`.
fn advance([p, v, a]: [f64; 3], j: f64, dt: f64) -> [f64; 3] {
    [
        p + v * dt + a * dt * dt / 2.0 + j * dt * dt * dt / 6.0,
        v + a * dt + j * dt * dt / 2.0,
        a + j * dt,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        velocity: 2.0,
        acceleration: 4.0,
        jerk: 40.0,
    };

    #[test]
    fn a_long_move_cruises_and_lasts_the_analytic_time() {
        // v·j ≥ a²: T = h/v + v/a + a/j when the cruise velocity is reached.
        let s = SCurve::new(10.0, LIMITS);
        let expected = 10.0 / 2.0 + 2.0 / 4.0 + 4.0 / 40.0;
        assert!((s.duration() - expected).abs() < 1e-12, "{}", s.duration());
        assert_eq!(s.sample(s.duration() + 1.0), [10.0, 0.0, 0.0]);
        let cruise = s.sample(s.duration() / 2.0);
        assert!((cruise[1] - 2.0).abs() < 1e-12 && cruise[2].abs() < 1e-12);
    }

    #[test]
    fn a_tiny_move_is_four_jerk_pieces() {
        // Neither bound reached: T = 4·∛(h / 2j).
        let h = 1e-3;
        let s = SCurve::new(h, LIMITS);
        assert!((s.duration() - 4.0 * (h / 80.0).cbrt()).abs() < 1e-12);
        let mid = s.sample(s.duration() / 2.0);
        assert!((mid[0] - h / 2.0).abs() < 1e-15);
    }
}
