//! The `--unit SERIAL [--dir FLEET]` options shared by the commands that drive a unit's
//! motors (the unit's checked configuration, loaded once), with `--port` and `--slcan`
//! where the robot is on the wire, and with `--realtime` and `--priority` how a run is
//! paced.

use std::path::PathBuf;

use clap::Args;
use embody_bridge::ServoFamily;
use embody_control::RtConfig;
use embody_fleet::{Unit, name};
use embody_net::{NetConfig, Role, UnitInfo, UnitLinkConfig};
use embody_runtime::{Pacing, Wire};

use crate::error::{CliError, Result};

/// `--unit SERIAL [--dir FLEET]`.
#[derive(Args, Debug, Clone)]
pub struct UnitArgs {
    /// Drive this unit: its configuration (`units/SERIAL.toml` in the fleet directory)
    /// sets the robot, the loop rate and every actuator's bus, CAN id, variant and
    /// ranges, and is compared with the record on its bridge before any motor is
    /// enabled.
    #[arg(long, value_name = "SERIAL", value_parser = name::parse_serial)]
    pub unit: Option<String>,
    /// The fleet directory.
    #[arg(long, default_value = "examples/fleet", requires = "unit")]
    pub dir: PathBuf,
}

impl UnitArgs {
    /// The unit, loaded and checked, if one was asked for.
    pub fn load(&self) -> Result<Option<Unit>> {
        Ok(match &self.unit {
            Some(serial) => Some(Unit::load(&self.dir, serial)?),
            None => None,
        })
    }
}

/// The CANopen drives behind an SLCAN adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DriveKind {
    /// CiA 402 servo drives.
    Cia402,
}

/// `[--port PATH] [--unit SERIAL [--dir FLEET]] [--slcan]`: the robot on the wire.
#[derive(Args, Debug, Clone)]
pub struct WireArgs {
    /// Run on the wire: a bridge (or `embody vmcu`) on this serial port, in real time.
    #[arg(long)]
    pub port: Option<PathBuf>,
    #[command(flatten)]
    pub unit: UnitArgs,
    /// The port is an SLCAN adapter with MIT motors (the host runs the bus).
    #[arg(long, conflicts_with_all = ["servos", "drives"])]
    pub slcan: bool,
    /// The port is an SLCAN adapter whose bus carries CANopen drives: `cia402` (CiA 402
    /// servo drives, node ids 1, 2, … on the actuated joints in order, CSP, 1 Mbit/s).
    #[arg(long, value_enum, value_name = "KIND", conflicts_with_all = ["unit", "servos"])]
    pub drives: Option<DriveKind>,
    /// The port is a serial bus of servos, `dynamixel` (X-series, protocol 2.0) or
    /// `feetech` (STS): ids 1, 2, … on the actuated joints in order, at 1 Mbaud.
    #[arg(long, value_name = "FAMILY", conflicts_with = "unit")]
    pub servos: Option<ServoFamily>,
    /// How long the loop goes on without a new joint state before it faults on stale
    /// sensors (ms; default: the unit's `[control] sensor_timeout_ms`, else 5). A machine
    /// without real-time scheduling may need 20–40.
    #[arg(long, value_name = "MS", value_parser = crate::numbers::float(0.1..=100.0, " ms"))]
    pub sensor_timeout: Option<f64>,
}

impl WireArgs {
    /// The robot on the wire, with its unit loaded and checked; `None` without `--port`
    /// or `--unit`.
    pub fn load(&self) -> Result<Option<Wire>> {
        let unit = self.unit.load()?;
        if self.port.is_none() && unit.is_none() {
            return match (self.slcan, self.servos, self.drives, self.sensor_timeout) {
                (false, None, None, None) => Ok(None),
                _ => Err(CliError::Usage(
                    "--slcan, --servos, --drives and --sensor-timeout need --port or --unit".into(),
                )),
            };
        }
        Ok(Some(Wire {
            port: self.port.clone(),
            unit,
            slcan: self.slcan,
            servos: self.servos,
            cia402: self.drives == Some(DriveKind::Cia402),
            sensor_timeout_ms: self.sensor_timeout,
        }))
    }

    /// Whether the robot is on the wire.
    pub fn given(&self) -> bool {
        self.port.is_some() || self.unit.unit.is_some()
    }
}

/// `[--realtime] [--port PATH] [--unit SERIAL …] [--priority N] [--cpu N]`: where a run
/// goes and how it is paced.
#[derive(Args, Debug, Clone)]
pub struct PacingArgs {
    /// Pace the run by the wall clock instead of lockstep (on its own thread).
    #[arg(long)]
    pub realtime: bool,
    #[command(flatten)]
    pub wire: WireArgs,
    /// Run the loop thread under SCHED_FIFO at this priority (1–99) in a real-time run;
    /// when the OS refuses, it warns and runs without.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    pub priority: Option<i32>,
    /// Give the loop this CPU alone in a real-time run (every other thread runs on the
    /// other CPUs); when the OS refuses, it warns and runs without.
    #[arg(long)]
    pub cpu: Option<usize>,
    #[command(flatten)]
    pub net: JoinArgs,
}

/// `[--join ENDPOINT [--fleet NAME] [--unit-name NAME]]`: a real-time run on the site's
/// network.
#[derive(Args, Debug, Clone)]
pub struct JoinArgs {
    /// Join the site's network through the zenoh router at this endpoint
    /// (`tcp/10.0.0.2:7447`): publish the unit's state and events, take operators'
    /// commands (`embody fleet send`). Real time only.
    #[arg(long, value_name = "ENDPOINT")]
    pub join: Option<String>,
    /// The fleet it joins.
    #[arg(long, default_value = "lab", requires = "join")]
    pub fleet: String,
    /// The unit's name on the network (default: `--unit`'s serial, else the robot's).
    #[arg(long, requires = "join")]
    pub unit_name: Option<String>,
    /// The fleet's certificate directory (`embody fleet certs`): join over mutual TLS
    /// (`--join tls/<host>:7447`) with the certificate issued to this unit.
    #[arg(long, value_name = "DIR", requires = "join")]
    pub certs: Option<std::path::PathBuf>,
    /// Also publish the unit's joints (`/<unit>/joint_states`) and diagnostics
    /// (`/diagnostics`) to ROS 2 in this domain, as rmw_zenoh does: a ROS 2 node on
    /// rmw_zenoh sees the robot without a bridge.
    #[arg(long, value_name = "DOMAIN", requires = "join",
          value_parser = crate::numbers::count::<u32>(0..=232))]
    pub ros_domain: Option<u32>,
    /// State messages a second on the network.
    #[arg(long, default_value_t = 50.0, requires = "join",
          value_parser = crate::numbers::float(0.1..=1000.0, " Hz"))]
    pub net_rate: f64,
    /// What the unit does once it has lost the network: `hold` where it stands, or
    /// `finish-step` (the task's step under way, then hold); either way it holds until
    /// an operator resumes it.
    #[arg(long, default_value = "hold", requires = "join", value_name = "POLICY")]
    pub on_network_loss: embody_net::OnLoss,
    /// How long the network must be gone before that (s).
    #[arg(long, default_value_t = 1.0, requires = "join",
          value_parser = crate::numbers::float(0.1..=600.0, " s"))]
    pub network_loss_after: f64,
}

impl JoinArgs {
    /// The unit's link to the network, for a session of `robot`, if `--join` was given.
    pub fn link(&self, wire: &WireArgs, robot: &str) -> Result<Option<UnitLinkConfig>> {
        let Some(endpoint) = &self.join else {
            return Ok(None);
        };
        let name = (self.unit_name.clone())
            .or_else(|| wire.unit.unit.clone())
            .unwrap_or_else(|| robot.to_owned());
        let info = UnitInfo {
            robot: robot.to_owned(),
            ..UnitInfo::default()
        };
        let net = NetConfig {
            tls: crate::fleet_certs::credentials(self.certs.as_deref(), Role::Unit, &name)?,
            ..NetConfig::client(endpoint)
        };
        let mut config = UnitLinkConfig::new(net, &self.fleet, &name, info);
        config.rate_hz = self.net_rate;
        config.on_loss = self.on_network_loss;
        config.loss_after = std::time::Duration::from_secs_f64(self.network_loss_after);
        config.ros = self.ros_domain.map(|domain| embody_net::ros2::RosConfig {
            domain,
            joint_names: Vec::new(),
        });
        Ok(Some(config))
    }
}

impl PacingArgs {
    /// Whether the run is on the wall clock: asked for, or on the wire.
    pub fn live(&self) -> bool {
        self.realtime || self.wire.given()
    }

    /// The pacing asked for; `--priority` or `--cpu` without a real-time run is refused.
    pub fn pacing(&self) -> Result<Pacing> {
        if !self.live() {
            if self.net.join.is_some() {
                return Err(CliError::Usage(
                    "--join applies to a real-time run: add --realtime, --port or --unit".into(),
                ));
            }
            return match (self.priority, self.cpu) {
                (None, None) => Ok(Pacing::Lockstep),
                _ => Err(CliError::Usage(
                    "--priority and --cpu apply to a real-time run: add --realtime, --port or --unit"
                        .into(),
                )),
            };
        }
        Ok(Pacing::Realtime(RtConfig {
            priority: self.priority,
            cpu: self.cpu,
            ..RtConfig::default()
        }))
    }
}
