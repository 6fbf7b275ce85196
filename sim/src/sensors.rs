//! What the simulated robot's sensors report: quantised encoders, noisy joint velocity,
//! motor torque and winding temperature, an IMU with constant bias and white noise whose
//! accelerometer sees the IMU point's acceleration over the last tick, and force-torque
//! sensors at the soles or wrists reading the contact forces on their body. Seeded, so a
//! run repeats bit for bit. Real-time safe: no allocation.

use nalgebra::Vector3;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, StandardNormal};

use embody_hal::{FaultBits, ForceTorqueSample, ImuSample, JointState, SensorFrame, Timestamp};
use embody_model::{Data, FrameId, Model, forward_kinematics_velocity, spatial::Vec3};

use crate::config::SensorConfig;
use crate::world::World;

/// Winding temperature model: ambient, rise at sustained peak torque, time constant.
const AMBIENT_C: f64 = 30.0;
const RISE_AT_PEAK_C: f64 = 60.0;
const THERMAL_TIME_CONSTANT_S: f64 = 30.0;

struct Imu {
    frame: FrameId,
    gyro_bias: Vec3,
    accel_bias: Vec3,
    /// World velocity of the IMU point at the previous measurement.
    last_velocity: Option<Vec3>,
}

/// The sensor models of one simulated robot.
pub struct Sensors {
    config: SensorConfig,
    rng: SmallRng,
    data: Data,
    imu: Option<Imu>,
    force_torque: Vec<FrameId>,
    temperature_c: Vec<f64>,
    peak_torque_nm: Vec<f64>,
}

impl Sensors {
    /// Sensors for `model`: an IMU in `imu_frame` and force-torque sensors in
    /// `force_torque_frames` (frames that must exist), seeded with `seed`.
    pub fn new(
        model: &Model,
        config: &SensorConfig,
        seed: u64,
        imu_frame: Option<FrameId>,
        force_torque_frames: Vec<FrameId>,
        peak_torque_nm: Vec<f64>,
    ) -> Sensors {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut draw = |sigma: f64| {
            let mut unit = || -> f64 { StandardNormal.sample(&mut rng) };
            Vector3::new(sigma * unit(), sigma * unit(), sigma * unit())
        };
        let imu = imu_frame.map(|frame| Imu {
            frame,
            gyro_bias: draw(config.gyro_bias_radps),
            accel_bias: draw(config.accel_bias_mps2),
            last_velocity: None,
        });
        Sensors {
            config: config.clone(),
            rng,
            data: Data::new(model),
            imu,
            temperature_c: vec![AMBIENT_C; peak_torque_nm.len()],
            peak_torque_nm,
            force_torque: force_torque_frames,
        }
    }

    fn noise(&mut self, sigma: f64) -> f64 {
        if sigma == 0.0 {
            0.0
        } else {
            let unit: f64 = StandardNormal.sample(&mut self.rng);
            sigma * unit
        }
    }

    fn noise3(&mut self, sigma: f64) -> Vec3 {
        Vector3::new(self.noise(sigma), self.noise(sigma), self.noise(sigma))
    }

    /// Measures `world` into `frame` at `now`, `elapsed_s` after the previous
    /// measurement. `faults` are the bits each joint reports; `imu_live` and `ft_live`
    /// say whether those sensors produce a new sample.
    pub fn measure(&mut self, input: MeasureInput<'_>, frame: &mut SensorFrame) {
        let MeasureInput {
            world,
            now,
            elapsed_s,
            faults,
            imu_live,
            ft_live,
        } = input;
        let model = world.model().clone();
        let resolution = if self.config.encoder_bits == 0 {
            0.0
        } else {
            std::f64::consts::TAU / f64::from(1u32 << self.config.encoder_bits.min(31))
        };
        let blend = 1.0 - (-elapsed_s / THERMAL_TIME_CONSTANT_S).exp();
        for (k, state) in frame.joints.iter_mut().enumerate() {
            let (q, dq) = world.joint(k);
            let tau = world.motor_torques()[k];
            let load = tau / self.peak_torque_nm[k].max(f64::MIN_POSITIVE);
            let target = AMBIENT_C + RISE_AT_PEAK_C * load * load;
            self.temperature_c[k] += blend * (target - self.temperature_c[k]);
            let q = if resolution > 0.0 {
                (q / resolution).round() * resolution
            } else {
                q
            };
            let sigma = self.config.velocity_noise_radps;
            *state = JointState {
                q,
                dq: dq + self.noise(sigma),
                tau,
                temperature_c: self.temperature_c[k],
                faults: faults.get(k).copied().unwrap_or(FaultBits::NONE),
            };
        }
        let needs_kinematics = self.imu.is_some() || !self.force_torque.is_empty();
        if needs_kinematics {
            forward_kinematics_velocity(
                &model,
                &mut self.data,
                world.q().as_slice(),
                world.v().as_slice(),
            );
        }
        let gyro_noise = self.noise3(self.config.gyro_noise_radps);
        let accel_noise = self.noise3(self.config.accel_noise_mps2);
        if let (Some(sample), Some(imu), true) = (frame.imu.as_mut(), self.imu.as_mut(), imu_live) {
            let f = &model.frames[imu.frame.0];
            let body = &self.data.world_from_joint[f.joint.0];
            let twist = &self.data.v[f.joint.0];
            let world_from_imu = body.rotation * f.placement.rotation;
            let velocity =
                body.rotation * (twist.linear + twist.angular.cross(&f.placement.translation));
            let acceleration = match imu.last_velocity {
                Some(last) if elapsed_s > 0.0 => (velocity - last) / elapsed_s,
                _ => Vec3::zeros(),
            };
            imu.last_velocity = Some(velocity);
            let gyro = f.placement.rotation.transpose() * twist.angular + imu.gyro_bias;
            let specific =
                world_from_imu.transpose() * (acceleration - model.gravity) + imu.accel_bias;
            let gyro = gyro + gyro_noise;
            let specific = specific + accel_noise;
            *sample = ImuSample {
                stamp: now,
                angular_velocity_radps: gyro.into(),
                linear_acceleration_mps2: specific.into(),
            };
        }
        if ft_live {
            for s in 0..self.force_torque.len().min(frame.force_torque.len()) {
                let f = &model.frames[self.force_torque[s].0];
                let body = &self.data.world_from_joint[f.joint.0];
                let origin = body.transform_point(&f.placement.translation);
                let rotation = body.rotation * f.placement.rotation;
                let (mut force, mut torque) = (Vec3::zeros(), Vec3::zeros());
                for contact in world.contacts().active() {
                    if contact.joint == f.joint.0 {
                        force += contact.force;
                        torque += (contact.point - origin).cross(&contact.force);
                    }
                }
                let sigma = self.config.force_noise_n;
                let force = rotation.transpose() * force + self.noise3(sigma);
                frame.force_torque[s] = ForceTorqueSample {
                    stamp: now,
                    force_n: force.into(),
                    torque_nm: (rotation.transpose() * torque).into(),
                };
            }
        }
    }
}

/// What one measurement needs besides the sensors themselves.
pub struct MeasureInput<'a> {
    /// The world measured.
    pub world: &'a World,
    /// Time stamp of the measurement.
    pub now: Timestamp,
    /// Time since the previous measurement (s).
    pub elapsed_s: f64,
    /// Fault bits per joint.
    pub faults: &'a [FaultBits],
    /// The IMU produces a sample.
    pub imu_live: bool,
    /// The force-torque sensors produce samples.
    pub ft_live: bool,
}
