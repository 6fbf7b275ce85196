//! A unit as the host reaches it: its checked configuration and robot model, its port,
//! the bridge setup and record the configuration makes, and the operations on its
//! bridge — compare the record it holds, store one, and connect to drive its motors,
//! which is refused before any motor is enabled when the unit holds another
//! configuration than the host's (naming the keys that differ).

use std::path::{Path, PathBuf};

use embody_bridge::service::Service;
use embody_bridge::{BridgeRobot, SlcanRobot, UnitSetup};
use embody_model::Model;
use embody_protocol::messages::UnitRecord;

use crate::check::{check, load_model};
use crate::config::{Layers, UnitConfig, load};
use crate::error::FleetError;
use crate::record::{Change, diff, joint_names, record_of};
use crate::setup::{UnitLink, unit_link, unit_setup};

/// The port a unit's configuration names (`port`; a relative path is taken from the
/// fleet directory `dir`).
pub fn port_of(dir: &Path, layers: &Layers, config: &UnitConfig) -> Result<PathBuf, FleetError> {
    match &config.port {
        Some(p) if Path::new(p).is_relative() => Ok(dir.join(p)),
        Some(p) => Ok(PathBuf::from(p)),
        None => Err(FleetError::NoPort {
            file: layers.source("port"),
            serial: config.serial.clone(),
        }),
    }
}

/// What records a configuration as applied: this tool and its version.
pub const TOOL: &str = concat!("embody ", env!("CARGO_PKG_VERSION"));

/// A unit's checked configuration and its robot. See the module docs.
#[derive(Clone, Debug)]
pub struct Unit {
    /// The fleet directory.
    pub dir: PathBuf,
    /// The merged layers, with where each key came from.
    pub layers: Layers,
    /// The merged configuration.
    pub config: UnitConfig,
    /// The robot model (fixed base: the bridge drives joints).
    pub model: Model,
}

impl Unit {
    /// Loads unit `serial` from the fleet directory `dir` and checks it against its
    /// robot; every problem, located, if it does not pass.
    pub fn load(dir: &Path, serial: &str) -> Result<Unit, FleetError> {
        let (layers, config) = load(dir, serial).map_err(FleetError::Problems)?;
        let problems = check(&layers, &config);
        if !problems.is_empty() {
            return Err(FleetError::Problems(problems));
        }
        let model = load_model(&layers, &config).map_err(|p| FleetError::Problems(vec![p]))?;
        Ok(Unit {
            dir: dir.to_owned(),
            layers,
            config,
            model,
        })
    }

    /// The unit's serial number.
    pub fn serial(&self) -> &str {
        &self.config.serial
    }

    /// What its bridge is configured with.
    pub fn setup(&self) -> UnitSetup {
        unit_setup(&self.config, &self.model)
    }

    /// How the host reaches its actuators: through its bridge (MIT motors, or CiA 402
    /// drives or servos it masters), an SLCAN adapter (CiA 402 drives the host masters)
    /// or a servo bus on the host's port.
    pub fn link(&self) -> UnitLink {
        unit_link(&self.config, &self.model)
    }

    /// Its bridge's port: `given`, else its `port` key (relative to the fleet directory).
    pub fn port(&self, given: Option<&Path>) -> Result<PathBuf, FleetError> {
        match given {
            Some(p) => Ok(p.to_owned()),
            None => port_of(&self.dir, &self.layers, &self.config),
        }
    }

    /// The record its configuration makes on the bridge.
    pub fn record(&self) -> Result<UnitRecord, FleetError> {
        record_of(&self.layers, &self.config, &self.model, TOOL)
            .map_err(|p| FleetError::Problems(vec![p]))
    }

    /// Its actuated joints' names, in the bridge's order.
    pub fn joint_names(&self) -> Vec<String> {
        joint_names(&self.model)
    }

    /// What storing its record on the bridge at `port` would change (empty: the unit
    /// holds this configuration).
    pub fn diff(&self, port: &Path) -> Result<Vec<Change>, FleetError> {
        let wanted = self.record()?;
        let on_unit = Service::open(port)?.unit()?;
        Ok(diff(on_unit.as_ref(), &wanted, &self.joint_names()))
    }

    /// Stores its record on the bridge at `port` (when anything differs) and reads it
    /// back; what changed.
    pub fn apply(&self, port: &Path) -> Result<Vec<Change>, FleetError> {
        let wanted = self.record()?;
        let mut service = Service::open(port)?;
        let on_unit = service.unit()?;
        let changes = diff(on_unit.as_ref(), &wanted, &self.joint_names());
        if changes.is_empty() {
            return Ok(changes);
        }
        service.store_unit(&wanted)?;
        if service.unit()?.as_ref() != Some(&wanted) {
            return Err(FleetError::ReadBack {
                serial: self.serial().to_owned(),
            });
        }
        Ok(changes)
    }

    /// Checks that the bridge at `port` holds exactly this configuration: refused, with
    /// the keys that differ, when it holds another or none.
    pub fn verify(&self, port: &Path) -> Result<(), FleetError> {
        let on_unit = Service::open(port)?.unit()?;
        self.compare(port, on_unit.as_ref(), |_| true)
    }

    /// Checks that `on_unit`, the record the bridge at `port` holds, is this
    /// configuration but for its calibration (what calibrating a unit is about to
    /// change). A unit that holds no record yet passes: it is being brought up.
    pub fn compare_but_calibration(
        &self,
        port: &Path,
        on_unit: Option<&UnitRecord>,
    ) -> Result<(), FleetError> {
        match on_unit {
            None => Ok(()),
            Some(_) => self.compare(port, on_unit, |c| {
                !c.key.starts_with("calibration.") && c.key != "config_digest"
            }),
        }
    }

    /// Refuses `on_unit` (the record the bridge at `port` holds) when it is missing or
    /// differs from this configuration in a key that `counts`.
    fn compare(
        &self,
        port: &Path,
        on_unit: Option<&UnitRecord>,
        counts: impl Fn(&Change) -> bool,
    ) -> Result<(), FleetError> {
        let wanted = self.record()?;
        let Some(on_unit) = on_unit else {
            return Err(FleetError::NoRecord {
                serial: self.serial().to_owned(),
                port: port.to_owned(),
            });
        };
        let mut changes = diff(Some(on_unit), &wanted, &self.joint_names());
        changes.retain(counts);
        if changes.is_empty() {
            Ok(())
        } else {
            Err(FleetError::Mismatch {
                serial: self.serial().to_owned(),
                port: port.to_owned(),
                changes,
            })
        }
    }

    /// Connects to the unit's bridge at `port` to drive its motors: verified first (no
    /// motor is enabled on a unit holding another configuration), then configured with
    /// the unit's setup.
    pub fn connect(&self, port: &Path) -> Result<BridgeRobot, FleetError> {
        self.verify(port)?;
        Ok(BridgeRobot::connect(port, &self.model, &self.setup())?)
    }

    /// Connects to the unit's motors through a plain SLCAN adapter at `port`: one bus,
    /// no bridge (so no record to compare) — the host applies the unit's calibration
    /// itself, as a bridge would.
    pub fn connect_slcan(&self, port: &Path) -> Result<SlcanRobot, FleetError> {
        Ok(SlcanRobot::connect(
            port,
            &self.model,
            &self.calibrated_setup()?,
        )?)
    }

    /// Its setup with its calibration applied under every actuator, as its bridge would
    /// apply it: for a host that talks to the motors itself.
    pub fn calibrated_setup(&self) -> Result<UnitSetup, FleetError> {
        let mut setup = self.setup();
        let record = self.record()?;
        for actuator in &mut setup.actuators {
            if let Some(c) = record.joint(actuator.joint) {
                *actuator = actuator.calibrated(c);
            }
        }
        Ok(setup)
    }

    /// The robot model, shared.
    pub fn model(&self) -> &Model {
        &self.model
    }
}
