//! Where a session's robot is, and opening it: the simulator (one unit or several side
//! by side, in an environment, optionally with a scenario's faults), the hal's mock, a
//! bridge on a serial port, or MIT motors behind an SLCAN adapter. On the wire the
//! actuator map is the unit's configuration (compared with the record on the unit
//! before any motor is enabled) or, without a unit, the robot's generated default map —
//! which the session says it uses.

use std::path::PathBuf;
use std::sync::Arc;

use embody_bridge::{Cia402Robot, Cia402Setup, ServoFamily, ServoRobot};
use embody_fleet::Unit;
use embody_fleet::defaults::{self, DefaultMap};
use embody_fleet::setup::{ServoBus, UnitLink};
use embody_hal::{MockRobot, Robot};
use embody_model::{Model, robots};
use embody_sim::camera::CameraConfig;
use embody_sim::{Environment, LoadedScenario, SensorMounts, SimConfig, SimRobot, lowest_point};
use nalgebra::DVector;

use crate::error::RuntimeError;
use crate::robot::{AnyRobot, SimBackend};

/// The simulator's side of a session.
#[derive(Clone, Debug, Default)]
pub struct Simulator {
    /// The environment (ground, static boxes).
    pub environment: Environment,
    /// Physics and sensor settings (its seed is the session's, plus the unit's index).
    pub config: SimConfig,
    /// The configuration to start from (`None`: the model's neutral one, a floating base
    /// standing on the ground).
    pub initial: Option<DVector<f64>>,
    /// A scenario whose faults are injected on time.
    pub scenario: Option<LoadedScenario>,
    /// Simulated cameras (a scenario's, or a task's).
    pub cameras: Vec<CameraConfig>,
    /// Record and show the simulator's true state instead of the loop's estimate.
    pub show_truth: bool,
    /// Start each joint up to this far from the initial configuration (rad; a sliding
    /// joint a tenth of it in m), drawn by the unit's seed, within its limits.
    pub start_jitter_rad: f64,
}

impl Simulator {
    /// The simulator as `scenario` describes it: its environment, settings, initial
    /// state and faults.
    pub fn from_scenario(scenario: LoadedScenario) -> Simulator {
        Simulator {
            environment: scenario.scenario.environment.clone(),
            config: scenario.scenario.sim.clone(),
            initial: Some(scenario.initial_configuration()),
            cameras: scenario.scenario.cameras.clone(),
            scenario: Some(scenario),
            show_truth: true,
            start_jitter_rad: 0.0,
        }
    }
}

/// A robot on the wire.
#[derive(Clone, Debug)]
pub struct Wire {
    /// The serial port of the bridge or adapter (`None`: the unit's `port`).
    pub port: Option<PathBuf>,
    /// The unit whose configuration drives the motors (`None`: the generated default map
    /// of the session's robot).
    pub unit: Option<Unit>,
    /// An SLCAN adapter instead of a bridge.
    pub slcan: bool,
    /// A serial bus of servos of this family instead of a bridge: servo ids 1, 2, … on
    /// the actuated joints in order, at 1 Mbaud (without a unit; a unit says so in its configuration).
    pub servos: Option<ServoFamily>,
    /// CiA 402 drives behind an SLCAN adapter instead of MIT motors: node ids 1, 2, … on
    /// the actuated joints in order, CSP, 1 Mbit/s (without a unit; a unit says so in its configuration).
    pub cia402: bool,
    /// How long the loop goes on without a new joint state before it faults (ms; `None`:
    /// the unit's `[control] sensor_timeout_ms`, else 5).
    pub sensor_timeout_ms: Option<f64>,
}

/// Where the session's robot is.
// Built once per session: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Backend {
    /// In-process simulation.
    Simulator(Simulator),
    /// The hal's mock: rigid-body physics at 10 kHz, a floating base pinned with an IMU
    /// and foot force sensors.
    Mock,
    /// On the wire.
    Wire(Wire),
}

impl Backend {
    /// The simulator with its defaults: the ground, the robot at its neutral posture.
    pub fn simulator() -> Backend {
        Backend::Simulator(Simulator::default())
    }

    /// The simulator as `scenario` describes it.
    pub fn scenario(scenario: LoadedScenario) -> Backend {
        Backend::Simulator(Simulator::from_scenario(scenario))
    }
}

/// The robots a backend opened, with the model the loop controls.
pub(crate) struct Opened {
    pub model: Arc<Model>,
    pub robots: Vec<AnyRobot>,
    /// What the session should tell its user (the map it uses, …).
    pub notes: Vec<String>,
    /// A unit's own cameras, streaming while they are kept (none elsewhere: simulated
    /// cameras are the simulator's).
    pub cameras: Vec<embody_camera::V4l2Camera>,
}

/// The model of `robot` as the loop on `backend` controls it: a floating base pinned on
/// its stand on the wire (the bridge carries no IMU), and the unit's model for a unit.
pub(crate) fn model_for(
    backend: &Backend,
    robot: &str,
    floating_base: Option<bool>,
) -> Result<Arc<Model>, RuntimeError> {
    Ok(Arc::new(match backend {
        Backend::Simulator(Simulator {
            scenario: Some(scenario),
            ..
        }) => scenario.model.clone(),
        Backend::Wire(Wire {
            unit: Some(unit), ..
        }) => unit.model.clone(),
        Backend::Wire(_) => robots::load(robot, Some(false))?,
        Backend::Simulator(_) | Backend::Mock => robots::load(robot, floating_base)?,
    }))
}

/// Opens `units` robots (only the simulator has more than one) of `model` (named
/// `robot`) on `backend` at `rate_hz`.
pub(crate) fn open(
    backend: &Backend,
    model: Arc<Model>,
    robot: &str,
    rate_hz: f64,
    seed: u64,
    units: u32,
) -> Result<Opened, RuntimeError> {
    if units > 1 && !matches!(backend, Backend::Simulator(_)) {
        return Err(RuntimeError::Invalid(
            "several units side by side run in the simulator only".into(),
        ));
    }
    let mut notes = Vec::new();
    let cameras = match backend {
        Backend::Wire(Wire {
            unit: Some(unit), ..
        }) => open_cameras(unit)?,
        _ => Vec::new(),
    };
    let robots = match backend {
        Backend::Simulator(sim) => (0..units.max(1))
            .map(|k| simulated(&model, sim, seed.wrapping_add(u64::from(k)), rate_hz))
            .collect::<Result<_, _>>()?,
        Backend::Mock => vec![mock(&model, robot)?],
        Backend::Wire(wire) => vec![on_the_wire(wire, &model, robot, rate_hz, &mut notes)?],
    };
    Ok(Opened {
        model,
        robots,
        notes,
        cameras,
    })
}

/// Opens `unit`'s cameras, stamping their images on the system clock (the bridge's);
/// the first that cannot be opened stops the session before any motor is enabled.
fn open_cameras(unit: &Unit) -> Result<Vec<embody_camera::V4l2Camera>, RuntimeError> {
    let clock: Arc<dyn embody_hal::Clock> = Arc::new(embody_hal::SystemClock);
    (unit.config.cameras.iter())
        .map(|(name, config)| {
            let config = embody_camera::V4l2Config {
                name: name.clone(),
                ..config.clone()
            };
            embody_camera::V4l2Camera::open(&config, clock.clone()).map_err(|e| {
                RuntimeError::Invalid(format!("unit {}: camera '{name}': {e}", unit.config.serial))
            })
        })
        .collect()
}

/// A simulated robot at the simulator's initial state (default: neutral, a floating
/// base standing on the ground).
fn simulated(
    model: &Arc<Model>,
    sim: &Simulator,
    seed: u64,
    rate_hz: f64,
) -> Result<AnyRobot, RuntimeError> {
    let config = SimConfig {
        seed,
        ..sim.config.clone()
    };
    let mut robot = SimRobot::new(
        model.clone(),
        &sim.environment.placed(seed),
        config,
        &SensorMounts::detect(model),
    )?;
    let q0 = match &sim.initial {
        Some(q) => q.clone(),
        None => {
            let mut q0 = model.neutral_configuration();
            if model.free_flyer().is_some()
                && let Some(lowest) = lowest_point(model, q0.as_slice())
            {
                q0[2] -= lowest - sim.environment.ground_height_m;
            }
            q0
        }
    };
    let q0 = jittered(model, q0, sim.start_jitter_rad, seed);
    robot
        .world_mut()
        .set_state(q0.as_slice(), &vec![0.0; model.nv]);
    robot.add_cameras(&sim.cameras, seed)?;
    let period_ns = (1e9 / rate_hz).round() as u64;
    Ok(AnyRobot::Sim(Box::new(SimBackend::new(
        robot,
        sim.scenario.clone(),
        period_ns,
    ))))
}

/// `q` with each one-coordinate joint moved uniformly by up to `jitter` (rad; a sliding
/// joint a tenth of it in m), drawn by `seed`, within its limits.
fn jittered(model: &Model, mut q: DVector<f64>, jitter: f64, seed: u64) -> DVector<f64> {
    use rand::{Rng as _, SeedableRng as _};
    if jitter <= 0.0 {
        return q;
    }
    // Its own stream: the objects' places and the sensors' noise do not shift with it.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ 0x7374_6172_7420_6a69);
    for j in model.actuated_joints() {
        let joint = &model.joints[j.0];
        if joint.nq() != 1 {
            continue;
        }
        let reach = match joint.kind {
            embody_model::JointKind::Prismatic(_) => 0.1 * jitter,
            _ => jitter,
        };
        let l = joint.limits;
        let moved = q[joint.idx_q] + rng.random_range(-reach..=reach);
        q[joint.idx_q] = moved.clamp(l.lower, l.upper);
    }
    q
}

/// The hal's mock of `model` (named `robot`): a floating base pinned, with an IMU and
/// the soles' force sensors carrying the robot's weight.
fn mock(model: &Arc<Model>, robot: &str) -> Result<AnyRobot, RuntimeError> {
    if model.free_flyer().is_none() {
        return Ok(AnyRobot::Mock(Box::new(MockRobot::new(model))));
    }
    let pinned = robots::load(robot, Some(false))?;
    let mock = MockRobot::new(&pinned)
        .with_imu("imu_link")
        .with_stance_sensors(&["left_sole", "right_sole"], 9.81 * model.total_mass());
    Ok(AnyRobot::Mock(Box::new(mock)))
}

/// The robot on the wire: the unit's configuration, or the generated default map.
fn on_the_wire(
    wire: &Wire,
    model: &Arc<Model>,
    robot: &str,
    rate_hz: f64,
    notes: &mut Vec<String>,
) -> Result<AnyRobot, RuntimeError> {
    if let Some(unit) = &wire.unit {
        if wire.cia402 || wire.servos.is_some() {
            return Err(RuntimeError::Invalid(format!(
                "unit {}: its configuration says what its actuators are; drives and servos flags are for a run without a unit",
                unit.serial()
            )));
        }
    } else if let Some(port) = wire.port.as_ref().filter(|_| wire.cia402) {
        let setup = Cia402Setup {
            rate_hz,
            ..Cia402Setup::default_for(model.actuated_joints().count())
        };
        return drives(port, model, &setup, "nodes 1, 2, … in joint order", notes);
    } else if let Some((port, family)) = wire.port.as_ref().zip(wire.servos) {
        let bus = ServoBus {
            family,
            ids: (1..=model.actuated_joints().count())
                .map(|k| k.min(252) as u8)
                .collect(),
            baud: 1_000_000,
            position_p_gains: Vec::new(),
        };
        return servos(
            port,
            model,
            &bus,
            rate_hz,
            "ids 1, 2, … in joint order",
            notes,
        );
    }
    let Some(unit) = &wire.unit else {
        let port = wire.port.clone().ok_or_else(|| {
            RuntimeError::Invalid("a robot on the wire needs a port (or a unit with one)".into())
        })?;
        let map = DefaultMap {
            rate_hz,
            one_bus: wire.slcan,
            ..DefaultMap::default()
        };
        if !wire.slcan {
            refuse_configured(&port)?;
        }
        notes.push(format!(
            "no unit given: driving {} on {} with {}",
            model.name,
            port.display(),
            defaults::describe(model, &map)
        ));
        let setup =
            defaults::setup(model, robot, &map).map_err(|e| RuntimeError::Fleet(e.into()))?;
        return Ok(if wire.slcan {
            AnyRobot::Slcan(Box::new(
                embody_bridge::SlcanRobot::connect(&port, model, &setup)
                    .map_err(|e| RuntimeError::Fleet(e.into()))?,
            ))
        } else {
            AnyRobot::Bridge(Box::new(
                embody_bridge::BridgeRobot::connect(&port, model, &setup)
                    .map_err(|e| RuntimeError::Fleet(e.into()))?,
            ))
        });
    };
    let port = unit.port(wire.port.as_deref())?;
    let whose = format!("unit {}", unit.serial());
    match unit.link() {
        UnitLink::Cia402(setup) => return drives(&port, model, &setup, &whose, notes),
        UnitLink::Servos(bus) => return servos(&port, model, &bus, rate_hz, &whose, notes),
        UnitLink::Bridge(_) => {}
    }
    notes.push(format!(
        "unit {} on {}: {}",
        unit.serial(),
        port.display(),
        unit.setup().describe().join("; ")
    ));
    Ok(if wire.slcan {
        AnyRobot::Slcan(Box::new(unit.connect_slcan(&port)?))
    } else {
        AnyRobot::Bridge(Box::new(unit.connect(&port)?))
    })
}

/// CiA 402 drives set up as `setup` says (`whose`: where that comes from) on the SLCAN
/// adapter at `port`.
fn drives(
    port: &std::path::Path,
    model: &Arc<Model>,
    setup: &Cia402Setup,
    whose: &str,
    notes: &mut Vec<String>,
) -> Result<AnyRobot, RuntimeError> {
    notes.push(format!(
        "driving {} on {}: {} CiA 402 drives ({whose}), nodes {:?}, {:?}, {} PDO layout, {} kbit/s ({:.0} µs of the bus a tick)",
        model.name,
        port.display(),
        setup.nodes.len(),
        setup.nodes,
        setup.mode,
        setup.layout.name(),
        setup.bitrate / 1000,
        setup.tick_us()
    ));
    let robot = Cia402Robot::connect(port, model, setup)
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    Ok(AnyRobot::Cia402(Box::new(robot)))
}

/// The servos of `bus` (`whose`: where it comes from) on the serial bus at `port`.
fn servos(
    port: &std::path::Path,
    model: &Arc<Model>,
    bus: &ServoBus,
    rate_hz: f64,
    whose: &str,
    notes: &mut Vec<String>,
) -> Result<AnyRobot, RuntimeError> {
    notes.push(format!(
        "driving {} on {}: {} {} servos ({whose}), ids {:?}, {} baud ({:.0} µs of the bus a tick)",
        model.name,
        port.display(),
        bus.ids.len(),
        bus.family.name(),
        bus.ids,
        bus.baud,
        bus.family.tick_us(bus.ids.len(), bus.baud)
    ));
    let mut robot = ServoRobot::connect(port, model, bus.family, &bus.ids, bus.baud, rate_hz)
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    if !bus.position_p_gains.is_empty() {
        notes.push(format!(
            "position P gains (joint, gain): {:?}",
            bus.position_p_gains
        ));
    }
    robot
        .set_position_p_gains(&bus.position_p_gains)
        .map_err(|e| RuntimeError::Invalid(format!("setting the servos' position P gains: {e}")))?;
    Ok(AnyRobot::Servos(Box::new(robot)))
}

/// Refuses to drive a bridge that holds a unit's configuration with the generated
/// default map: its motors are wired as that configuration says.
fn refuse_configured(port: &std::path::Path) -> Result<(), RuntimeError> {
    let service = embody_bridge::service::Service::open(port);
    let record = match service.map(|mut s| s.unit()) {
        Ok(Ok(record)) => record,
        // Not a bridge that answers service requests (or an older one): the connection
        // that follows says what is wrong, if anything is.
        _ => None,
    };
    match record {
        Some(r) => Err(RuntimeError::Invalid(format!(
            "{} holds the configuration of unit {}: drive it with --unit {} (the generated default map is for unconfigured bridges)",
            port.display(),
            r.serial,
            r.serial
        ))),
        None => Ok(()),
    }
}

/// The names of `robot`'s force-torque sensors, in its order.
pub(crate) fn sensors(robot: &AnyRobot) -> Vec<String> {
    robot
        .capabilities()
        .force_torque
        .iter()
        .map(|s| s.name.clone())
        .collect()
}
