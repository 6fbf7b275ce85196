//! Simulator settings: time step, integrator, and the contact, actuator and sensor
//! models. Every struct reads from TOML with unknown keys refused, and documents each
//! field's unit and default.

use serde::{Deserialize, Serialize};

/// How the state is advanced over one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integrator {
    /// Semi-implicit (symplectic) Euler: velocity first, then position with the new
    /// velocity. Joint-local stiffness and damping (actuator gains, joint damping and
    /// friction, joint-limit springs) are taken implicitly, so stiff gains on light
    /// joints stay stable at 1 kHz. The default.
    #[default]
    SemiImplicitEuler,
    /// Classic fourth-order Runge–Kutta on the configuration manifold; every force is
    /// explicit, evaluated at each stage. For accuracy studies of smooth motion.
    Rk4,
}

/// Everything the simulator can be told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Physics time step (s). Default 0.001.
    pub dt_s: f64,
    /// Integrator. Default semi-implicit Euler.
    pub integrator: Integrator,
    /// Seed of every noise source. Default 0.
    pub seed: u64,
    /// Contact with the ground and boxes.
    pub contact: ContactConfig,
    /// Actuator model.
    pub actuator: ActuatorConfig,
    /// Sensor model.
    pub sensors: SensorConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            dt_s: 0.001,
            integrator: Integrator::default(),
            seed: 0,
            contact: ContactConfig::default(),
            actuator: ActuatorConfig::default(),
            sensors: SensorConfig::default(),
        }
    }
}

/// Checks that `value` is a finite number in `[lo, hi]`; on failure the key and why.
pub(crate) fn in_range(key: &str, value: f64, lo: f64, hi: f64) -> Result<(), (String, String)> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        return Ok(());
    }
    let (lo, hi, value) = (number(lo), number(hi), number(value));
    Err((
        key.to_owned(),
        format!("must be a finite number in [{lo}, {hi}], not {value}"),
    ))
}

/// A number as a user would write it: `1e300` rather than three hundred digits.
pub(crate) fn number(x: f64) -> String {
    if x.is_finite() && (x == 0.0 || (1e-4..1e6).contains(&x.abs())) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

impl SimConfig {
    /// Checks every setting's range; on failure the key (as in a scenario's `[sim]`
    /// table) and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, reason: &str| Err((key.to_owned(), reason.to_owned()));
        if !(self.dt_s.is_finite() && self.dt_s > 0.0 && self.dt_s <= 0.01) {
            return fail("dt_s", "must be in (0, 0.01] s");
        }
        let c = &self.contact;
        let a = &self.actuator;
        // Upper bounds far past any physical setting: beyond them the integration blows up.
        for (key, value, max) in [
            ("contact.stiffness_npm", c.stiffness_npm, 1e9),
            ("contact.damping_nspm", c.damping_nspm, 1e7),
            (
                "contact.tangential_stiffness_npm",
                c.tangential_stiffness_npm,
                1e9,
            ),
            (
                "contact.tangential_damping_nspm",
                c.tangential_damping_nspm,
                1e7,
            ),
            ("contact.friction", c.friction, 10.0),
            ("actuator.peak_torque_scale", a.peak_torque_scale, 100.0),
            ("actuator.current_lag_ms", a.current_lag_ms, 1000.0),
            ("actuator.armature_per_nm", a.armature_per_nm, 1.0),
            ("actuator.position_kp_per_nm", a.position_kp_per_nm, 1e4),
            ("actuator.position_kd_per_nm", a.position_kd_per_nm, 1e3),
            ("actuator.velocity_kd_per_nm", a.velocity_kd_per_nm, 1e3),
        ] {
            in_range(key, value, 0.0, max)?;
        }
        if !(c.object_time_constant_s.is_finite()
            && c.object_time_constant_s >= 4.0 * self.dt_s
            && c.object_time_constant_s <= 10.0)
        {
            return fail(
                "contact.object_time_constant_s",
                "must be from 4 steps (4·dt_s) to 10 s",
            );
        }
        if !(c.object_damping_ratio.is_finite() && (0.0..=10.0).contains(&c.object_damping_ratio)) {
            return fail("contact.object_damping_ratio", "must be in [0, 10]");
        }
        if !(3..=64).contains(&c.cylinder_rim_points) {
            return fail("contact.cylinder_rim_points", "must be in 3..=64");
        }
        let both_infinite = a.knee_speed_scale.is_infinite() && a.no_load_speed_scale.is_infinite();
        let ordered = a.knee_speed_scale >= 0.0 && a.no_load_speed_scale > a.knee_speed_scale;
        if !(ordered || both_infinite) {
            return fail(
                "actuator.no_load_speed_scale",
                "must exceed knee_speed_scale (both may be inf)",
            );
        }
        let n = &self.sensors;
        for (key, value, max) in [
            (
                "sensors.velocity_noise_radps",
                n.velocity_noise_radps,
                100.0,
            ),
            ("sensors.gyro_noise_radps", n.gyro_noise_radps, 100.0),
            ("sensors.gyro_bias_radps", n.gyro_bias_radps, 100.0),
            ("sensors.accel_noise_mps2", n.accel_noise_mps2, 1e3),
            ("sensors.accel_bias_mps2", n.accel_bias_mps2, 1e3),
            ("sensors.force_noise_n", n.force_noise_n, 1e5),
        ] {
            in_range(key, value, 0.0, max)?;
        }
        if n.encoder_bits > 31 {
            return fail("sensors.encoder_bits", "at most 31");
        }
        if n.command_latency_ticks > 63 || n.feedback_latency_ticks > 63 {
            return fail("sensors.*_latency_ticks", "at most 63");
        }
        Ok(())
    }

    /// Ideal actuators and sensors: no lag, no rotor inertia, no torque-speed droop, no
    /// quantisation, noise or bias. For validating the physics against references.
    pub fn ideal() -> SimConfig {
        SimConfig {
            actuator: ActuatorConfig::ideal(),
            sensors: SensorConfig::ideal(),
            ..SimConfig::default()
        }
    }
}

/// Compliant contact: a spring–damper along the normal and a stiction spring along the
/// surface whose force is capped by the friction cone (regularised Coulomb friction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactConfig {
    /// Contacts on at all. Default true.
    pub enabled: bool,
    /// Normal stiffness per contact point (N/m). Default 30 000: a 50 kg robot on eight
    /// sole corners sinks about 2 mm.
    pub stiffness_npm: f64,
    /// Normal damping per contact point (N·s/m). Default 400.
    pub damping_nspm: f64,
    /// Tangential (stiction) stiffness per contact point (N/m). Default 20 000.
    pub tangential_stiffness_npm: f64,
    /// Tangential damping per contact point (N·s/m). Default 200.
    pub tangential_damping_nspm: f64,
    /// Coulomb friction coefficient. Default 0.9.
    pub friction: f64,
    /// Points on each cap rim of a cylinder. Default 8.
    pub cylinder_rim_points: usize,
    /// Time constant of an object's contact springs (s): `k = m·(2π/T)²` per pair
    /// ([`crate::objects`]). Default 0.02, MuJoCo's default `solref`.
    pub object_time_constant_s: f64,
    /// Damping ratio of an object's contacts. Default 1 (critical).
    pub object_damping_ratio: f64,
    /// The robot's links touch each other, through their collision shapes as objects
    /// touch them — except the two sides of a joint and `disabled_pairs`. Default false.
    pub self_collision: bool,
    /// Link pairs that never touch (by link name), besides a joint's two sides.
    pub disabled_pairs: Vec<[String; 2]>,
    /// An SRDF file (relative to the scenario) whose `disable_collisions` pairs are
    /// added to `disabled_pairs` when the scenario loads.
    pub srdf: Option<String>,
}

impl ContactConfig {
    /// The settings of object contacts; the ground and static boxes have `friction`.
    pub fn objects(&self) -> crate::objects::ObjectContact {
        crate::objects::ObjectContact {
            time_constant_s: self.object_time_constant_s,
            damping_ratio: self.object_damping_ratio,
            environment_friction: self.friction,
            self_collision: self.self_collision,
            ..crate::objects::ObjectContact::default()
        }
    }
}

impl Default for ContactConfig {
    fn default() -> Self {
        ContactConfig {
            enabled: true,
            stiffness_npm: 30_000.0,
            damping_nspm: 400.0,
            tangential_stiffness_npm: 20_000.0,
            tangential_damping_nspm: 200.0,
            friction: 0.9,
            cylinder_rim_points: 8,
            object_time_constant_s: 0.02,
            object_damping_ratio: 1.0,
            self_collision: false,
            disabled_pairs: Vec::new(),
            srdf: None,
        }
    }
}

/// The simulated actuator: a torque-controlled motor behind a gearbox, with its own inner
/// loops for position and velocity commands. Per-joint values scale with the joint's
/// URDF effort and velocity limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActuatorConfig {
    /// Peak torque as a multiple of the URDF effort limit. Default 1.
    pub peak_torque_scale: f64,
    /// Speed up to which the peak torque is available, as a multiple of the URDF velocity
    /// limit. Default 1.
    pub knee_speed_scale: f64,
    /// Speed at which the motor can no longer drive (torque falls linearly from the knee
    /// to zero here), as a multiple of the URDF velocity limit. Default 2. Braking torque
    /// is always available.
    pub no_load_speed_scale: f64,
    /// Time constant of the current loop (ms): the torque follows its set-point with a
    /// first-order lag. Default 0.3; 0 is instantaneous.
    pub current_lag_ms: f64,
    /// Reflected rotor inertia per N·m of effort limit (kg·m²/(N·m)). Default 2e-4: 0.02
    /// kg·m² on a 100 N·m joint.
    pub armature_per_nm: f64,
    /// Inner position loop stiffness per N·m of effort limit ((N·m/rad)/(N·m)). Default 4.
    pub position_kp_per_nm: f64,
    /// Inner position loop damping per N·m of effort limit. Default 0.1.
    pub position_kd_per_nm: f64,
    /// Inner velocity loop gain per N·m of effort limit ((N·m·s/rad)/(N·m)). Default 0.5.
    pub velocity_kd_per_nm: f64,
}

impl Default for ActuatorConfig {
    fn default() -> Self {
        ActuatorConfig {
            peak_torque_scale: 1.0,
            knee_speed_scale: 1.0,
            no_load_speed_scale: 2.0,
            current_lag_ms: 0.3,
            armature_per_nm: 2e-4,
            position_kp_per_nm: 4.0,
            position_kd_per_nm: 0.1,
            velocity_kd_per_nm: 0.5,
        }
    }
}

impl ActuatorConfig {
    /// Instant torque, no rotor inertia, no torque-speed droop (peak torque still bounded
    /// by the URDF effort limit).
    pub fn ideal() -> ActuatorConfig {
        ActuatorConfig {
            knee_speed_scale: f64::INFINITY,
            no_load_speed_scale: f64::INFINITY,
            current_lag_ms: 0.0,
            armature_per_nm: 0.0,
            ..ActuatorConfig::default()
        }
    }
}

/// Sensor imperfections and delays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorConfig {
    /// Encoder resolution in bits per output revolution (0: unquantised). Default 16.
    pub encoder_bits: u32,
    /// Joint velocity noise, standard deviation (rad/s). Default 0.002.
    pub velocity_noise_radps: f64,
    /// Gyro white noise, standard deviation per sample (rad/s). Default 0.002.
    pub gyro_noise_radps: f64,
    /// Gyro bias, standard deviation of the constant bias drawn per axis (rad/s).
    /// Default 0.005.
    pub gyro_bias_radps: f64,
    /// Accelerometer white noise, standard deviation (m/s²). Default 0.02.
    pub accel_noise_mps2: f64,
    /// Accelerometer bias, standard deviation of the constant bias per axis (m/s²).
    /// Default 0.05.
    pub accel_bias_mps2: f64,
    /// Force sensor noise, standard deviation (N). Default 0.5.
    pub force_noise_n: f64,
    /// Ticks (robot writes) between a command being written and reaching the actuators.
    /// Default 0.
    pub command_latency_ticks: usize,
    /// Ticks (robot reads) between a measurement and its delivery. Default 0.
    pub feedback_latency_ticks: usize,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            encoder_bits: 16,
            velocity_noise_radps: 0.002,
            gyro_noise_radps: 0.002,
            gyro_bias_radps: 0.005,
            accel_noise_mps2: 0.02,
            accel_bias_mps2: 0.05,
            force_noise_n: 0.5,
            command_latency_ticks: 0,
            feedback_latency_ticks: 0,
        }
    }
}

impl SensorConfig {
    /// Exact, immediate measurements.
    pub fn ideal() -> SensorConfig {
        SensorConfig {
            encoder_bits: 0,
            velocity_noise_radps: 0.0,
            gyro_noise_radps: 0.0,
            gyro_bias_radps: 0.0,
            accel_noise_mps2: 0.0,
            accel_bias_mps2: 0.0,
            force_noise_n: 0.0,
            command_latency_ticks: 0,
            feedback_latency_ticks: 0,
        }
    }
}
