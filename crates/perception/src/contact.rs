//! Foot contact detection: a Schmitt trigger on the measured normal force, or, for feet
//! without a force sensor, on the foot's height and speed from kinematics; both debounced
//! so a noisy signal near the threshold does not chatter. Allocation-free.

use serde::{Deserialize, Serialize};

/// Thresholds of the contact detector.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContactConfig {
    /// Normal force above which a foot makes contact (N). Default 60.
    pub force_on_n: f64,
    /// Normal force below which a foot breaks contact (N). Default 30.
    pub force_off_n: f64,
    /// Without a force sensor: a foot lower than this is in contact (m). Default 0.01.
    pub height_on_m: f64,
    /// Without a force sensor: and slower than this (m/s). Default 0.1.
    pub speed_on_mps: f64,
    /// Ticks a new state must persist before it is reported. Default 3.
    pub debounce_ticks: u32,
}

impl Default for ContactConfig {
    fn default() -> Self {
        ContactConfig {
            force_on_n: 60.0,
            force_off_n: 30.0,
            height_on_m: 0.01,
            speed_on_mps: 0.1,
            debounce_ticks: 3,
        }
    }
}

/// Contact state of one foot. See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ContactDetector {
    in_contact: bool,
    pending: u32,
}

impl ContactDetector {
    /// The debounced contact state.
    pub fn in_contact(&self) -> bool {
        self.in_contact
    }

    /// Takes one normal-force reading (N, positive when the ground pushes the foot).
    pub fn update_force(&mut self, config: &ContactConfig, normal_force_n: f64) -> bool {
        let raw = if self.in_contact {
            normal_force_n > config.force_off_n
        } else {
            normal_force_n > config.force_on_n
        };
        self.debounce(config, raw && normal_force_n.is_finite())
    }

    /// Takes one kinematic reading: the foot's height above the ground (m) and its speed
    /// (m/s).
    pub fn update_kinematic(
        &mut self,
        config: &ContactConfig,
        height_m: f64,
        speed_mps: f64,
    ) -> bool {
        let raw = height_m < config.height_on_m && speed_mps < config.speed_on_mps;
        self.debounce(config, raw)
    }

    fn debounce(&mut self, config: &ContactConfig, raw: bool) -> bool {
        if raw == self.in_contact {
            self.pending = 0;
        } else {
            self.pending += 1;
            if self.pending >= config.debounce_ticks {
                self.in_contact = raw;
                self.pending = 0;
            }
        }
        self.in_contact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn detects_each_footfall_of_a_noisy_gait_once() {
        // 1 Hz gait, stance half the cycle at ~250 N, 15 N of sensor noise, 5 s.
        let config = ContactConfig::default();
        let mut rng = SmallRng::seed_from_u64(11);
        let noise = Normal::new(0.0, 15.0).expect("sigma");
        let mut detector = ContactDetector::default();
        let (mut touchdowns, mut liftoffs, mut wrong) = (0, 0, 0);
        let mut last = false;
        for k in 0..5000 {
            let phase = (k % 1000) as f64 / 1000.0;
            let truth = phase < 0.5;
            let force = if truth {
                250.0 * (std::f64::consts::PI * phase / 0.5).sin().max(0.3)
            } else {
                0.0
            } + noise.sample(&mut rng);
            let state = detector.update_force(&config, force);
            match (last, state) {
                (false, true) => touchdowns += 1,
                (true, false) => liftoffs += 1,
                _ => {}
            }
            if state != truth {
                wrong += 1;
            }
            last = state;
        }
        assert_eq!((touchdowns, liftoffs), (5, 5));
        // Wrong only for the debounce delay around each transition.
        assert!(
            wrong <= 10 * (config.debounce_ticks as usize + 2),
            "{wrong} wrong ticks"
        );
    }

    #[test]
    fn kinematic_contact_needs_a_low_and_slow_foot() {
        let config = ContactConfig::default();
        let mut detector = ContactDetector::default();
        for _ in 0..5 {
            detector.update_kinematic(&config, 0.002, 0.5);
        }
        assert!(!detector.in_contact(), "a fast foot is not in contact");
        for _ in 0..5 {
            detector.update_kinematic(&config, 0.002, 0.01);
        }
        assert!(detector.in_contact());
        // A force sensor that reads NaN does not hold a foot in contact.
        for _ in 0..config.debounce_ticks {
            detector.update_force(&config, f64::NAN);
        }
        assert!(!detector.in_contact());
    }
}
