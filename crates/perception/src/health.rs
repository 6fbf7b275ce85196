//! Sensor health: staleness (a source that stopped producing new samples) and outliers
//! (a reading no physical motion could produce: an encoder jump beyond the joint's speed
//! limit, a gyro or accelerometer beyond its range, a non-finite value). An outlying
//! joint reading is replaced by the prediction from its last good value for a few ticks;
//! if it persists it is accepted as real (the joint was moved) and counted. The report
//! feeds the safety supervisor. Ages are counted while the loop runs: a tick that comes
//! later than the joint timeout after the one before (the loop itself was held up — by
//! the OS, or a virtual machine's host stopping it) does not count its lateness against
//! the sensors; they have one timeout from that tick to deliver again. Allocation-free
//! after `new`.

use serde::{Deserialize, Serialize};

use embody_hal::{SensorFrame, Timestamp};

/// Thresholds of the sensor health monitor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Joint states older than this are stale (ms). Default 5.
    pub joint_timeout_ms: f64,
    /// IMU samples older than this are stale (ms). Default 10.
    pub imu_timeout_ms: f64,
    /// Force-torque samples older than this are stale (ms). Default 10.
    pub force_torque_timeout_ms: f64,
    /// Slack on the largest plausible encoder step, on top of `velocity limit · dt` (rad).
    /// Default 0.05.
    pub joint_jump_margin_rad: f64,
    /// Consecutive outlying readings after which a joint's reading is accepted. Default 3.
    pub outlier_limit: u32,
    /// Gyro range (rad/s); beyond it a sample is an outlier. Default 35 (2000 °/s).
    pub gyro_range_radps: f64,
    /// Accelerometer range (m/s²). Default 160 (16 g).
    pub accel_range_mps2: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            joint_timeout_ms: 5.0,
            imu_timeout_ms: 10.0,
            force_torque_timeout_ms: 10.0,
            joint_jump_margin_rad: 0.05,
            outlier_limit: 3,
            gyro_range_radps: 35.0,
            accel_range_mps2: 160.0,
        }
    }
}

/// What the health monitor found this tick, with running counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Joint states have not changed for longer than the timeout.
    pub joints_stale: bool,
    /// The IMU has not produced a sample for longer than the timeout.
    pub imu_stale: bool,
    /// A force-torque sensor has not produced a sample for longer than the timeout.
    pub force_torque_stale: bool,
    /// Joint readings rejected as outliers this tick.
    pub joint_outliers_now: u32,
    /// The IMU sample was rejected as an outlier this tick.
    pub imu_outlier_now: bool,
    /// Joint readings rejected since start.
    pub joint_outliers_total: u64,
    /// IMU samples rejected since start.
    pub imu_outliers_total: u64,
}

impl HealthReport {
    /// True when any source is stale.
    pub fn any_stale(&self) -> bool {
        self.joints_stale || self.imu_stale || self.force_torque_stale
    }
}

/// Watches the sensor frames. See the module docs.
#[derive(Clone, Debug)]
pub struct SensorHealth {
    config: HealthConfig,
    velocity_limit: Vec<f64>,
    accepted_q: Vec<f64>,
    accepted_dq: Vec<f64>,
    strikes: Vec<u32>,
    last_seq: Option<u64>,
    joints_changed_at: Timestamp,
    /// The last tick that came late (the loop held up): ages count from it at most.
    resumed_at: Timestamp,
    report: HealthReport,
    started: bool,
}

impl SensorHealth {
    /// A monitor for joints with these speed limits (rad/s; `inf` for none).
    pub fn new(velocity_limit: &[f64], config: HealthConfig) -> SensorHealth {
        let n = velocity_limit.len();
        SensorHealth {
            config,
            velocity_limit: velocity_limit.to_vec(),
            accepted_q: vec![0.0; n],
            accepted_dq: vec![0.0; n],
            strikes: vec![0; n],
            last_seq: None,
            joints_changed_at: Timestamp::ZERO,
            resumed_at: Timestamp::ZERO,
            report: HealthReport::default(),
            started: false,
        }
    }

    /// The latest report.
    pub fn report(&self) -> &HealthReport {
        &self.report
    }

    /// Joint positions after outlier rejection (rad), valid after [`SensorHealth::check`].
    pub fn accepted_positions(&self) -> &[f64] {
        &self.accepted_q
    }

    /// Checks one frame read at `now`, `dt_s` after the previous tick.
    pub fn check(&mut self, frame: &SensorFrame, now: Timestamp, dt_s: f64) -> &HealthReport {
        if self.started && dt_s * 1e3 > self.config.joint_timeout_ms {
            self.resumed_at = now;
        }
        let resumed_at = self.resumed_at;
        let ms = |t: Timestamp| now.nanos_since(t.max(resumed_at)) as f64 * 1e-6;
        if self.last_seq != Some(frame.seq) {
            self.last_seq = Some(frame.seq);
            self.joints_changed_at = now;
        }
        if !self.started {
            self.joints_changed_at = now;
        }
        self.report.joints_stale = ms(self.joints_changed_at) > self.config.joint_timeout_ms
            || ms(frame.stamp) > self.config.joint_timeout_ms;
        self.check_joints(frame, dt_s);
        self.report.imu_outlier_now = false;
        self.report.imu_stale = match &frame.imu {
            None => false,
            Some(imu) => {
                let gyro = imu.angular_velocity_radps;
                let accel = imu.linear_acceleration_mps2;
                let norm = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                let plausible = norm(gyro) <= self.config.gyro_range_radps
                    && norm(accel) <= self.config.accel_range_mps2;
                if !plausible {
                    self.report.imu_outlier_now = true;
                    self.report.imu_outliers_total += 1;
                }
                ms(imu.stamp) > self.config.imu_timeout_ms
            }
        };
        self.report.force_torque_stale = frame
            .force_torque
            .iter()
            .any(|ft| ms(ft.stamp) > self.config.force_torque_timeout_ms);
        self.started = true;
        &self.report
    }

    fn check_joints(&mut self, frame: &SensorFrame, dt_s: f64) {
        self.report.joint_outliers_now = 0;
        for (k, state) in frame.joints.iter().enumerate().take(self.accepted_q.len()) {
            if !self.started {
                self.accepted_q[k] = if state.q.is_finite() { state.q } else { 0.0 };
                continue;
            }
            let predicted = self.accepted_q[k] + self.accepted_dq[k] * dt_s;
            let max_step =
                self.velocity_limit[k].min(1e3) * dt_s + self.config.joint_jump_margin_rad;
            let plausible = state.q.is_finite() && (state.q - predicted).abs() <= max_step;
            if plausible || (state.q.is_finite() && self.strikes[k] >= self.config.outlier_limit) {
                self.strikes[k] = 0;
                self.accepted_dq[k] = if state.dq.is_finite() { state.dq } else { 0.0 };
                self.accepted_q[k] = state.q;
            } else {
                self.strikes[k] += 1;
                self.report.joint_outliers_now += 1;
                self.report.joint_outliers_total += 1;
                self.accepted_q[k] = predicted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_hal::{ImuSample, JointState};

    fn frame(seq: u64, stamp_ms: u64, q: &[f64]) -> SensorFrame {
        SensorFrame {
            stamp: Timestamp::from_nanos(stamp_ms * 1_000_000),
            seq,
            joints: q
                .iter()
                .map(|&q| JointState {
                    q,
                    ..JointState::default()
                })
                .collect(),
            imu: Some(ImuSample {
                stamp: Timestamp::from_nanos(stamp_ms * 1_000_000),
                angular_velocity_radps: [0.0; 3],
                linear_acceleration_mps2: [0.0, 0.0, 9.81],
            }),
            force_torque: Vec::new(),
            estop: false,
        }
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    /// One joint's health after 10 ms of fresh frames, each checked fresh.
    fn fed_for_10_ms() -> SensorHealth {
        let mut health = SensorHealth::new(&[5.0], HealthConfig::default());
        for ms in 0..10 {
            assert!(
                !health
                    .check(&frame(ms, ms, &[0.0]), at(ms), 1e-3)
                    .any_stale()
            );
        }
        health
    }

    #[test]
    fn a_frozen_stream_turns_stale_after_the_timeout_and_fresh_again_after() {
        let mut health = fed_for_10_ms();
        // The backend stops updating at t = 9 ms.
        let frozen = frame(9, 9, &[0.0]);
        for ms in 10..=14 {
            assert!(
                !health.check(&frozen, at(ms), 1e-3).joints_stale,
                "at {ms} ms"
            );
        }
        let report = *health.check(&frozen, at(15), 1e-3);
        assert!(report.joints_stale && !report.imu_stale);
        assert!(health.check(&frozen, at(20), 1e-3).imu_stale);
        assert!(
            !health
                .check(&frame(21, 21, &[0.0]), at(21), 1e-3)
                .any_stale()
        );
    }

    #[test]
    fn a_loop_held_up_gives_its_sensors_one_timeout_to_deliver_again() {
        let mut health = fed_for_10_ms();
        // The loop stopped for 50 ms: its next tick reads the frame from before.
        let old = frame(9, 9, &[0.0]);
        assert!(!health.check(&old, at(59), 50e-3).any_stale());
        assert!(!health.check(&old, at(63), 1e-3).joints_stale);
        // A source that stays silent is stale one timeout after the loop came back ...
        assert!(health.check(&old, at(65), 1e-3).joints_stale);
        // ... and one that delivers is not.
        let mut again = fed_for_10_ms();
        again.check(&old, at(59), 50e-3);
        assert!(
            !again
                .check(&frame(60, 60, &[0.0]), at(60), 1e-3)
                .any_stale()
        );
    }

    #[test]
    fn an_encoder_spike_is_rejected_and_a_real_jump_is_accepted_after_the_limit() {
        let mut health = SensorHealth::new(&[5.0, 5.0], HealthConfig::default());
        health.check(&frame(0, 0, &[0.0, 0.0]), at(0), 1e-3);
        // Joint 1 spikes by 1 rad for one tick: rejected, prediction used.
        let report = *health.check(&frame(1, 1, &[0.001, 1.0]), at(1), 1e-3);
        assert_eq!(report.joint_outliers_now, 1);
        assert_eq!(health.accepted_positions(), &[0.001, 0.0]);
        health.check(&frame(2, 2, &[0.002, 0.0]), at(2), 1e-3);
        assert_eq!(health.accepted_positions()[1], 0.0);
        // A persistent offset is taken as real after `outlier_limit` ticks.
        for ms in 3..6 {
            health.check(&frame(ms, ms, &[0.0, 0.5]), at(ms), 1e-3);
        }
        assert_eq!(health.accepted_positions()[1], 0.0);
        health.check(&frame(6, 6, &[0.0, 0.5]), at(6), 1e-3);
        assert_eq!(health.accepted_positions()[1], 0.5);
        assert_eq!(health.report().joint_outliers_total, 4);
        // NaN is never accepted.
        for ms in 7..20 {
            health.check(&frame(ms, ms, &[f64::NAN, 0.5]), at(ms), 1e-3);
        }
        assert!(health.accepted_positions()[0].is_finite());
    }

    #[test]
    fn an_imu_beyond_its_range_is_an_outlier() {
        let mut health = SensorHealth::new(&[], HealthConfig::default());
        let mut f = frame(0, 0, &[]);
        if let Some(imu) = f.imu.as_mut() {
            imu.angular_velocity_radps = [100.0, 0.0, 0.0];
        }
        assert!(health.check(&f, at(0), 1e-3).imu_outlier_now);
    }
}
