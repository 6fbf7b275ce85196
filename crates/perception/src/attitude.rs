//! IMU attitude by Mahony's nonlinear complementary filter with gyro-bias estimation.
//!
//! Why Mahony and not an EKF: on the loop we need tilt (roll, pitch) that is right under
//! gyro bias and noise, at a fixed cost of a few dozen flops, with two gains an integrator
//! can reason about (`kp` is the accelerometer's correction bandwidth in rad/s, `ki` the
//! bias learning rate). The filter is globally stable on SO(3) for constant bias (Mahony,
//! Hamel, Pflimlin 2008). An EKF would add a covariance to tune and a 6×6 update per tick
//! for no gain in tilt accuracy with only a gyro and an accelerometer; it becomes worth
//! its cost when fusing more sensors (leg odometry into position), which is not this
//! module's job. Yaw is unobservable without a magnetometer: it drifts with the part of
//! the gyro bias along gravity that rotation has not yet made observable.
//!
//! The accelerometer is trusted only while its magnitude is near g (a robot being pushed
//! or landing measures more than gravity); outside the gate the filter integrates the
//! bias-corrected gyro alone. Allocation-free.

use nalgebra::{Unit, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// Gains of the attitude filter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttitudeConfig {
    /// Proportional gain on the gravity-direction error (rad/s). Default 1.0.
    pub kp: f64,
    /// Integral gain that learns the gyro bias (rad/s²). Default 0.3.
    pub ki: f64,
    /// The accelerometer corrects the attitude only while `| |a| − g | / g` is below this.
    /// Default 0.15.
    pub accel_gate: f64,
    /// Magnitude of gravity (m/s²). Default 9.81.
    pub gravity_mps2: f64,
}

impl Default for AttitudeConfig {
    fn default() -> Self {
        AttitudeConfig {
            kp: 1.0,
            ki: 0.3,
            accel_gate: 0.15,
            gravity_mps2: 9.81,
        }
    }
}

/// Mahony attitude filter. See the module docs.
#[derive(Clone, Debug)]
pub struct AttitudeFilter {
    config: AttitudeConfig,
    /// Orientation of the IMU in the world (`world_from_imu`), z up.
    world_from_imu: UnitQuaternion<f64>,
    gyro_bias_radps: Vector3<f64>,
    angular_velocity_radps: Vector3<f64>,
    initialised: bool,
}

impl AttitudeFilter {
    /// A filter that initialises its tilt from the first accelerometer sample.
    pub fn new(config: AttitudeConfig) -> AttitudeFilter {
        AttitudeFilter {
            config,
            world_from_imu: UnitQuaternion::identity(),
            gyro_bias_radps: Vector3::zeros(),
            angular_velocity_radps: Vector3::zeros(),
            initialised: false,
        }
    }

    /// Orientation of the IMU in the world frame.
    pub fn world_from_imu(&self) -> UnitQuaternion<f64> {
        self.world_from_imu
    }

    /// Angular velocity with the estimated bias removed, in the IMU frame (rad/s).
    pub fn angular_velocity_radps(&self) -> Vector3<f64> {
        self.angular_velocity_radps
    }

    /// The estimated gyro bias, in the IMU frame (rad/s).
    pub fn gyro_bias_radps(&self) -> Vector3<f64> {
        self.gyro_bias_radps
    }

    /// Restarts from the next sample, keeping the learnt bias.
    pub fn reset(&mut self) {
        self.initialised = false;
    }

    /// Takes one sample: gyro (rad/s) and specific force (m/s²) in the IMU frame, `dt_s`
    /// since the previous one. Non-finite samples are ignored.
    pub fn update(&mut self, gyro_radps: Vector3<f64>, accel_mps2: Vector3<f64>, dt_s: f64) {
        if !gyro_radps
            .iter()
            .chain(accel_mps2.iter())
            .all(|x| x.is_finite())
            || !dt_s.is_finite()
            || dt_s < 0.0
        {
            return;
        }
        let g = self.config.gravity_mps2;
        let accel_norm = accel_mps2.norm();
        let accel_trusted = ((accel_norm - g) / g).abs() < self.config.accel_gate;
        if !self.initialised {
            if !accel_trusted {
                return;
            }
            // Tilt from gravity; yaw zero.
            let up_imu = accel_mps2 / accel_norm;
            self.world_from_imu = UnitQuaternion::rotation_between(&up_imu, &Vector3::z())
                .unwrap_or_else(|| {
                    // Upside down: any half-turn about a horizontal axis.
                    UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI)
                });
            self.initialised = true;
        }
        let mut omega = gyro_radps - self.gyro_bias_radps;
        if accel_trusted {
            let measured_up = accel_mps2 / accel_norm;
            let estimated_up = self.world_from_imu.inverse_transform_vector(&Vector3::z());
            let error = measured_up.cross(&estimated_up);
            self.gyro_bias_radps -= self.config.ki * error * dt_s;
            omega += self.config.kp * error;
        }
        self.angular_velocity_radps = gyro_radps - self.gyro_bias_radps;
        let angle = omega.norm() * dt_s;
        if angle > 0.0 {
            let axis = Unit::new_unchecked(omega / omega.norm());
            self.world_from_imu *= UnitQuaternion::from_axis_angle(&axis, angle);
            self.world_from_imu.renormalize_fast();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Normal};

    /// Angle between the true and estimated up directions (rad).
    fn tilt_error(truth: &UnitQuaternion<f64>, estimate: &UnitQuaternion<f64>) -> f64 {
        let up_true = truth.inverse_transform_vector(&Vector3::z());
        let up_est = estimate.inverse_transform_vector(&Vector3::z());
        up_true.angle(&up_est)
    }

    /// A body tumbling about all three axes, sampled at 1 kHz, its true attitude
    /// integrated at 10 kHz. Returns (truth, gyro, accel) per sample.
    fn tumbling_imu(
        seconds: f64,
        bias: Vector3<f64>,
        gyro_sigma: f64,
        accel_sigma: f64,
        linear_accel_mps2: f64,
        seed: u64,
    ) -> Vec<(UnitQuaternion<f64>, Vector3<f64>, Vector3<f64>)> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let gyro_noise = Normal::new(0.0, gyro_sigma).expect("sigma");
        let accel_noise = Normal::new(0.0, accel_sigma).expect("sigma");
        let rate = |t: f64| {
            Vector3::new(
                0.8 * (0.7 * t).sin(),
                0.6 * (0.5 * t + 1.0).cos(),
                0.3 + 0.2 * (0.3 * t).sin(),
            )
        };
        let mut truth = UnitQuaternion::from_euler_angles(0.3, -0.2, 0.5);
        let mut out = Vec::new();
        let substeps = 10;
        let dt = 1e-3 / substeps as f64;
        for k in 0..(seconds * 1000.0) as usize {
            for s in 0..substeps {
                let t = (k * substeps + s) as f64 * dt;
                // Midpoint rule for the truth.
                let w = rate(t + 0.5 * dt);
                truth *= UnitQuaternion::from_scaled_axis(w * dt);
            }
            let t = (k + 1) as f64 * 1e-3;
            let noise = |d: &Normal<f64>, r: &mut SmallRng| {
                Vector3::new(d.sample(r), d.sample(r), d.sample(r))
            };
            let gyro = rate(t) + bias + noise(&gyro_noise, &mut rng);
            // Small linear accelerations as well: a robot moving about.
            let linear = linear_accel_mps2 * Vector3::new((2.0 * t).sin(), (1.3 * t).cos(), 0.0);
            let accel = truth.inverse_transform_vector(&(Vector3::new(0.0, 0.0, 9.81) + linear))
                + noise(&accel_noise, &mut rng);
            out.push((truth, gyro, accel));
        }
        out
    }

    #[test]
    fn tilt_stays_within_one_degree_of_truth_under_bias_and_noise() {
        let bias = Vector3::new(0.02, -0.015, 0.01);
        let samples = tumbling_imu(60.0, bias, 0.005, 0.05, 0.0, 7);
        let mut filter = AttitudeFilter::new(AttitudeConfig::default());
        let mut dead_reckoned = samples[0].0;
        let mut worst_after_settling: f64 = 0.0;
        let mut worst_dead_reckoned: f64 = 0.0;
        for (k, (truth, gyro, accel)) in samples.iter().enumerate() {
            filter.update(*gyro, *accel, 1e-3);
            dead_reckoned *= UnitQuaternion::from_scaled_axis(gyro * 1e-3);
            if k >= 10_000 {
                worst_after_settling =
                    worst_after_settling.max(tilt_error(truth, &filter.world_from_imu()));
                worst_dead_reckoned = worst_dead_reckoned.max(tilt_error(truth, &dead_reckoned));
            }
        }
        let degrees = worst_after_settling.to_degrees();
        assert!(degrees < 1.0, "worst tilt error {degrees:.3}°");
        // The test can tell a filter from gyro integration: that drifts far beyond it.
        assert!(
            worst_dead_reckoned.to_degrees() > 10.0 * degrees,
            "gyro integration drifted only {:.3}°",
            worst_dead_reckoned.to_degrees()
        );
        // The bias was learnt (all axes observable while tumbling).
        let bias_error = (filter.gyro_bias_radps() - bias).norm();
        assert!(bias_error < 0.004, "bias error {bias_error:.5} rad/s");
    }

    #[test]
    fn tilt_error_under_body_acceleration_stays_near_what_the_accelerometer_cannot_tell() {
        // Sustained horizontal acceleration a is indistinguishable from a tilt of atan(a / g)
        // to an accelerometer; the filter must not do worse than that.
        let samples = tumbling_imu(60.0, Vector3::new(0.02, -0.015, 0.01), 0.005, 0.05, 0.3, 8);
        let mut filter = AttitudeFilter::new(AttitudeConfig::default());
        let mut worst: f64 = 0.0;
        for (k, (truth, gyro, accel)) in samples.iter().enumerate() {
            filter.update(*gyro, *accel, 1e-3);
            if k >= 10_000 {
                worst = worst.max(tilt_error(truth, &filter.world_from_imu()));
            }
        }
        // Its peak magnitude is 0.3·√2 m/s².
        assert!(
            worst.to_degrees() < (0.3 * 2f64.sqrt() / 9.81).atan().to_degrees(),
            "{:.3}°",
            worst.to_degrees()
        );
    }

    #[test]
    fn starts_level_from_the_first_sample_of_a_tilted_imu() {
        let truth = UnitQuaternion::from_euler_angles(0.4, -0.3, 1.0);
        let accel = truth.inverse_transform_vector(&Vector3::new(0.0, 0.0, 9.81));
        let mut filter = AttitudeFilter::new(AttitudeConfig::default());
        filter.update(Vector3::zeros(), accel, 1e-3);
        assert!(tilt_error(&truth, &filter.world_from_imu()) < 1e-9);
    }

    #[test]
    fn ignores_the_accelerometer_during_impacts_and_drops_non_finite_samples() {
        let mut filter = AttitudeFilter::new(AttitudeConfig::default());
        filter.update(Vector3::zeros(), Vector3::new(0.0, 0.0, 9.81), 1e-3);
        // A 3 g sideways impact must not tilt the estimate.
        for _ in 0..50 {
            filter.update(Vector3::zeros(), Vector3::new(30.0, 0.0, 9.81), 1e-3);
        }
        let up = filter
            .world_from_imu()
            .inverse_transform_vector(&Vector3::z());
        assert!((up - Vector3::z()).norm() < 1e-12);
        filter.update(Vector3::new(f64::NAN, 0.0, 0.0), Vector3::zeros(), 1e-3);
        assert!(filter.world_from_imu().coords.iter().all(|x| x.is_finite()));
    }
}
