//! The virtual MCU's main loop. Bridge mode: the firmware core runs its bus cycle on the
//! wall clock at the host's control period over simulated buses, the simulation advancing
//! one period per cycle. SLCAN mode: a plain USB-CAN adapter with the simulated motors
//! on its one bus, the simulation advancing with the wall clock. Either way the serial
//! side is a pseudo-terminal behind the user's link path; it can be unplugged and
//! plugged back from another thread (tests) and the loop stops on request.
//!
//! With a flash file and a trusted key the bridge is a whole unit: at every start the
//! bootloader's decision picks the image, the firmware answers updates and keeps the
//! unit record, and a host's reboot request restarts it from the flash (the link stays,
//! as a UART does). The simulated code is the same whatever image is installed: the
//! image decides only what the unit reports running.
//!
//! The flash file and then the link are claimed before anything else: a second MCU on
//! either is refused as it starts, and leaves the first's untouched.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use embedded_storage::nor_flash::NorFlash;
use embody_bridge::UnitSetup;
use embody_firmware_bridge::unit::Unit;
use embody_firmware_bridge::update::Layout;
use embody_firmware_bridge::{Bridge, FirmwareInfo};
use embody_fleet::defaults::{self, DefaultMap};
use embody_fleet::setup::{UnitLink, cia402_setup};
use embody_fwimage::ed25519_dalek::VerifyingKey;
use embody_hal::{Clock, SystemClock, Timestamp};
use embody_model::{Model, robots};
use embody_protocol::CanFrame;
use embody_protocol::messages::MAX_BUSES;
use embody_protocol::slcan::{self, LineEvent, LineReader, SlcanLine};
use embody_sim::{Environment, SimConfig, World};

use crate::bus::{CanDevices, SimBus};
use crate::drives::Drives;
use crate::fault::{DeviceFault, FaultSchedule, ScheduledFault};
use crate::flash::{ERASE_SIZE, FileFlash};
use crate::link::{Link, LinkError};
use crate::motors::{Motors, Mounting};
use crate::pty::Pty;
use crate::servo_line::SimServoLine;
use crate::servos::{ServoFamily, Servos};
use embody_bridge::DriveScale;

/// What the virtual MCU simulates and where it listens.
#[derive(Clone, Debug)]
pub struct VmcuConfig {
    /// The robot (fixed base: a floating one is pinned, the robot on a stand).
    pub model: Arc<Model>,
    /// How the simulated motors are wired: which bus, CAN ids, protocol variant and
    /// ranges each joint's motor has (as a unit's motors are set up to match its
    /// configuration). A host that configures the bridge otherwise talks to motors
    /// that are not there. Its period is the bus cycle's until the host configures one.
    pub motors: UnitSetup,
    /// Present a plain SLCAN adapter instead of the bridge.
    pub slcan: bool,
    /// Present a serial servo bus of this family instead of the bridge: a servo on each
    /// actuated joint, ids 1, 2, … in joint order.
    pub servos: Option<ServoFamily>,
    /// Put CiA 402 drives on the buses instead of MIT motors (behind the SLCAN adapter,
    /// or the bridge's buses, which it masters): one on each actuated joint, node ids
    /// 1, 2, … in joint order, with these encoders and gears in joint order (a joint past
    /// the list's end: the last one).
    pub drives: Option<Vec<DriveScale>>,
    /// The scene the robot stands in: the ground and the objects it may handle (a
    /// task's `[environment]`). Default: the bare ground.
    pub environment: Environment,
    /// Faults to give the drives or servos at times after the link first comes up.
    pub faults: Vec<ScheduledFault>,
    /// The drives' node ids or the servos' ids, in joint order; 1, 2, … if empty.
    pub ids: Vec<u8>,
    /// The bridge bus each drive is on, in joint order (past the list's end: bus 0).
    pub buses: Vec<u8>,
    /// Pace the serial output at this baud rate (10 bits per byte); unpaced if absent.
    pub baud: Option<u32>,
    /// Where the symlink to the pseudo-terminal goes.
    pub link: PathBuf,
    /// Simulator settings.
    pub sim: SimConfig,
    /// The unit's flash file and the key its bootloader trusts; without them the bridge
    /// refuses updates and records.
    pub flash: Option<(PathBuf, VerifyingKey)>,
    /// How the motors sit on their joints (joint order; empty: ideally).
    pub mounting: Vec<Mounting>,
}

/// The flash of a virtual unit: two 512 KiB slots, two boot-state sectors, and a
/// config area of two sectors.
pub const LAYOUT: Layout = Layout::new(512 * 1024, ERASE_SIZE as u32, 2 * ERASE_SIZE as u32);

impl VmcuConfig {
    /// A bridge for `robot` behind `link`, its motors on the robot's generated default
    /// map (`embody_fleet::defaults`) at 1 kHz.
    pub fn new(robot: &str, link: PathBuf) -> Result<VmcuConfig, VmcuError> {
        VmcuConfig::with_map(robot, link, &DefaultMap::default())
    }

    /// A plain SLCAN adapter for `robot` behind `link`: its motors on one bus, CAN ids
    /// 1, 2, … in joint order.
    pub fn slcan(robot: &str, link: PathBuf) -> Result<VmcuConfig, VmcuError> {
        let map = DefaultMap {
            one_bus: true,
            ..DefaultMap::default()
        };
        Ok(VmcuConfig {
            slcan: true,
            ..VmcuConfig::with_map(robot, link, &map)?
        })
    }

    /// A plain SLCAN adapter for `robot` behind `link` with a CiA 402 drive on each
    /// actuated joint, node ids 1, 2, … in joint order, each with encoder and gear `scale`.
    pub fn cia402(robot: &str, link: PathBuf, scale: DriveScale) -> Result<VmcuConfig, VmcuError> {
        Ok(VmcuConfig {
            drives: Some(vec![scale]),
            ..VmcuConfig::slcan(robot, link)?
        })
    }

    /// Unit `unit`'s devices behind `link`, wired as its configuration says: a bridge with
    /// its MIT motors or its CiA 402 drives, an SLCAN adapter with its drives, or its
    /// servo bus.
    pub fn for_unit(unit: &embody_fleet::Unit, link: PathBuf) -> VmcuConfig {
        let base = VmcuConfig::with_motors(unit.model.clone(), link, unit.setup());
        match unit.link() {
            UnitLink::Bridge(setup) if !setup.drives.is_empty() => {
                let drives = cia402_setup(&unit.config, &unit.model);
                VmcuConfig {
                    drives: Some(drives.scales),
                    ids: drives.nodes,
                    buses: setup.drives.iter().map(|d| d.bus).collect(),
                    ..base
                }
            }
            UnitLink::Bridge(setup) if setup.servo_bus.is_some() => VmcuConfig {
                ids: setup.servos.iter().map(|s| s.id).collect(),
                ..base
            },
            UnitLink::Bridge(_) => base,
            UnitLink::Cia402(setup) => VmcuConfig {
                slcan: true,
                drives: Some(setup.scales),
                ids: setup.nodes,
                ..base
            },
            UnitLink::Servos(bus) => VmcuConfig {
                servos: Some(bus.family),
                ids: bus.ids,
                ..base
            },
        }
    }

    /// What it presents (a bridge, an SLCAN adapter, with drives, or a servo bus), and a
    /// line for each bus of motors or for the drives or servos.
    pub fn describe(&self) -> (&'static str, Vec<String>) {
        let joints = self.model.actuated_joints().count();
        let ids = match self.ids.is_empty() {
            true => format!("1–{joints}"),
            false => format!("{:?}", self.ids),
        };
        match (self.servos, &self.drives, self.slcan) {
            (Some(family), ..) => (
                match family {
                    ServoFamily::Dynamixel => "Dynamixel servo bus",
                    ServoFamily::Feetech => "Feetech servo bus",
                },
                vec![format!(
                    "servos {ids} on its {joints} actuated joints, in joint order"
                )],
            ),
            (None, Some(_), true) => (
                "SLCAN adapter, CiA 402 drives",
                vec![format!(
                    "CANopen nodes {ids} on its {joints} actuated joints, in joint order"
                )],
            ),
            (None, Some(_), false) => ("bridge, CiA 402 drives", self.motors.describe()),
            (None, None, false) if self.motors.servo_bus.is_some() => {
                ("bridge, servo bus", self.motors.describe())
            }
            (None, _, slcan) => (
                if slcan { "SLCAN adapter" } else { "bridge" },
                self.motors.describe(),
            ),
        }
    }

    /// Why its scheduled faults cannot be given, if they cannot: a joint the robot does
    /// not have, or no drives or servos to take them.
    fn fault_problem(&self) -> Option<String> {
        let joints = self.model.actuated_joints().count();
        if let Some(f) = self.faults.iter().find(|f| f.joint >= joints) {
            return Some(format!(
                "fault: joint {} of {}, which has {joints} actuated joints (0–{})",
                f.joint,
                self.model.name,
                joints.saturating_sub(1)
            ));
        }
        let devices =
            self.servos.is_some() || self.drives.is_some() || self.motors.servo_bus.is_some();
        (!self.faults.is_empty() && !devices)
            .then(|| "faults are for drives or servos: MIT motors and the bridge take none".into())
    }

    /// A servo bus of `family` for `robot` behind `link`: a servo on each actuated
    /// joint, ids 1, 2, … in joint order.
    pub fn servo_bus(
        robot: &str,
        link: PathBuf,
        family: ServoFamily,
    ) -> Result<VmcuConfig, VmcuError> {
        Ok(VmcuConfig {
            servos: Some(family),
            ..VmcuConfig::new(robot, link)?
        })
    }

    /// `robot` behind `link`, its motors on the generated map `map`.
    pub fn with_map(robot: &str, link: PathBuf, map: &DefaultMap) -> Result<VmcuConfig, VmcuError> {
        let model = robots::load(robot, Some(false))?;
        let motors = defaults::setup(&model, robot, map)?;
        Ok(VmcuConfig::with_motors(model, link, motors))
    }

    /// `model` behind `link` with its motors wired as `motors` says (a unit's setup).
    pub fn with_motors(model: Model, link: PathBuf, motors: UnitSetup) -> VmcuConfig {
        VmcuConfig {
            model: Arc::new(model),
            motors,
            slcan: false,
            servos: None,
            drives: None,
            environment: Environment::default(),
            faults: Vec::new(),
            ids: Vec::new(),
            buses: Vec::new(),
            baud: None,
            link,
            sim: SimConfig::default(),
            flash: None,
            mounting: Vec::new(),
        }
    }
}

/// Why the virtual MCU could not run.
#[derive(Debug, thiserror::Error)]
pub enum VmcuError {
    /// The robot could not be loaded.
    #[error("robot: {0}")]
    Robot(#[from] embody_model::ModelError),
    /// The robot has no default map.
    #[error("{0}")]
    Map(#[from] embody_fleet::defaults::DefaultsError),
    /// The motors' setup does not fit the robot.
    #[error("{0}")]
    Setup(#[from] embody_bridge::SetupError),
    /// The flash file failed, or the unit could not start from it.
    #[error("flash {path}: {reason}")]
    Flash {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The scheduled faults cannot be given.
    #[error("{0}")]
    Faults(String),
    /// The link could not be claimed or made.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The pseudo-terminal failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VmcuError {
    let what = what.into();
    move |source| VmcuError::Io { what, source }
}

/// Switches and counters shared with the thread running the MCU.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    unplugged: AtomicBool,
    linked: AtomicBool,
    cycles: AtomicU64,
    bytes_dropped: AtomicU64,
    bridge_state: AtomicU64,
    frames_bad: AtomicU64,
    corrupt_every: AtomicU64,
    /// Faults to give (`Some`) or take from (`None`) the devices of joints, in turn.
    faults: std::sync::Mutex<Vec<(usize, Option<DeviceFault>)>>,
    /// Where the scene's objects were when the loop ended.
    objects: std::sync::Mutex<Vec<(String, [f64; 3])>>,
    /// Where the actuated joints were when the loop ended.
    joints: std::sync::Mutex<Vec<f64>>,
}

impl Control {
    /// Gives the simulated device (CiA 402 drive or servo) of joint `k` a fault, or takes
    /// it away (`None`), at the loop's next cycle; MIT motors and the bridge take none.
    pub fn set_fault(&self, k: usize, fault: Option<DeviceFault>) {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((k, fault));
    }

    /// Where each of the scene's objects was when the loop ended (m, world frame), by
    /// name; empty before then.
    pub fn objects(&self) -> Vec<(String, [f64; 3])> {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Where each actuated joint of the simulator was when the loop ended (rad or m), in
    /// joint order; empty before then.
    pub fn joint_positions(&self) -> Vec<f64> {
        self.joints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keeps where `world`'s objects and joints are, as the loop ends.
    fn keep_final(&self, world: &World) {
        let objects = world.objects();
        let at = (objects.names().iter().enumerate())
            .filter_map(|(k, name)| Some((name.clone(), objects.pose(k)?)))
            .map(|(name, p)| (name, [p[0], p[1], p[2]]))
            .collect();
        *self.objects.lock().unwrap_or_else(|e| e.into_inner()) = at;
        let joints = (0..world.joint_count()).map(|k| world.joint(k).0).collect();
        *self.joints.lock().unwrap_or_else(|e| e.into_inner()) = joints;
    }

    /// The fault changes asked since the last call, then those `schedule` has due.
    fn faults_due(&self, schedule: &mut FaultSchedule) -> Vec<(usize, Option<DeviceFault>)> {
        let mut due = std::mem::take(&mut *self.faults.lock().unwrap_or_else(|e| e.into_inner()));
        due.extend(schedule.due(self.linked()));
        due
    }

    /// Asks the loop to end (it removes the link).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Unplugs (true: the pseudo-terminal closes and the link disappears) or plugs back
    /// in (a new pseudo-terminal behind the same link).
    pub fn set_unplugged(&self, unplugged: bool) {
        self.unplugged.store(unplugged, Ordering::Release);
    }

    /// Whether its link is up: made, and pointing at its pseudo-terminal.
    pub fn linked(&self) -> bool {
        self.linked.load(Ordering::Acquire)
    }

    /// Bus cycles run.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Acquire)
    }

    /// Serial bytes dropped because nobody read them.
    pub fn bytes_dropped(&self) -> u64 {
        self.bytes_dropped.load(Ordering::Acquire)
    }

    /// Host frames the bridge dropped (framing, CRC, undecodable).
    pub fn frames_bad(&self) -> u64 {
        self.frames_bad.load(Ordering::Acquire)
    }

    /// Flips one bit in every `n`-th byte sent to the host (0: never), to test the
    /// host's CRC checks and resynchronisation.
    pub fn corrupt_output(&self, n: u64) {
        self.corrupt_every.store(n, Ordering::Release);
    }

    /// The bridge's state as its index in `BridgeState` order (Unconfigured = 0 …
    /// Disabled = 4).
    pub fn bridge_state(&self) -> u64 {
        self.bridge_state.load(Ordering::Acquire)
    }
}

/// Receive ring of a paced link (bytes): how much the line delivers while the MCU is
/// busy elsewhere.
const RX_RING: usize = 4096;

/// The serial side: a pty that comes and goes, paced optionally.
struct Port {
    link: Link,
    pty: Option<Pty>,
    baud: Option<u32>,
    budget: f64,
    /// Bytes the paced link may still carry to the MCU.
    budget_in: f64,
    /// When the paced link was last credited (wall clock, ns).
    credited_ns: Option<u64>,
    control: Arc<Control>,
    sent: u64,
    scratch: Vec<u8>,
}

impl Port {
    fn new(link: Link, baud: Option<u32>, control: Arc<Control>) -> Port {
        Port {
            link,
            pty: None,
            baud,
            budget: 0.0,
            control,
            sent: 0,
            scratch: Vec::with_capacity(4096),
            budget_in: 0.0,
            credited_ns: None,
        }
    }

    fn plug(&mut self) -> Result<(), VmcuError> {
        let pty = Pty::open().map_err(io_error("opening a pseudo-terminal"))?;
        self.link.point_at(pty.slave_path())?;
        tracing::info!(link = %self.link.path().display(), pty = %pty.slave_path().display(), "virtual MCU plugged in");
        self.pty = Some(pty);
        self.control.linked.store(true, Ordering::Release);
        Ok(())
    }

    /// Closes the pseudo-terminal and removes the link, if it is still this MCU's.
    fn unplug(&mut self) {
        if self.pty.take().is_some() {
            self.control.linked.store(false, Ordering::Release);
            if !self.link.remove() {
                tracing::warn!(link = %self.link.path().display(), "the link no longer points at this virtual MCU: left alone");
            }
            tracing::info!("virtual MCU unplugged");
        }
    }

    /// Follows the unplug switch.
    fn sync(&mut self) -> Result<(), VmcuError> {
        let unplugged = self.control.unplugged.load(Ordering::Acquire);
        match (unplugged, self.pty.is_some()) {
            (true, true) => self.unplug(),
            (false, false) => self.plug()?,
            _ => {}
        }
        Ok(())
    }

    /// The line carried `seconds` more: output may send that much more (a UART's
    /// small FIFO: little saved up), input take it (what a 4 KiB receive ring filled
    /// meanwhile, however late the MCU gets to it).
    fn refill(&mut self, seconds: f64) {
        if let Some(baud) = self.baud {
            let per_s = baud as f64 / 10.0;
            self.budget = (self.budget + per_s * seconds).min(per_s * 0.01 + 64.0);
            self.budget_in = (self.budget_in + per_s * seconds).min(RX_RING as f64);
        }
    }

    /// The simulated time to catch up with wall time `now`: the whole steps of `dt` since
    /// `last` (moved on by them), for which the line is credited too.
    fn catch_up(&mut self, last: &mut Timestamp, now: Timestamp, dt: f64) -> f64 {
        let elapsed = now.nanos_since(*last).max(0) as f64 * 1e-9;
        if elapsed < dt {
            return 0.0;
        }
        let seconds = (elapsed / dt).floor() * dt;
        *last = last.saturating_add(Duration::from_nanos((seconds * 1e9) as u64));
        self.refill(seconds);
        seconds
    }

    /// Credits the link with the time passed since the last call: the line runs at its
    /// rate whatever the MCU's loop is doing.
    fn refill_until(&mut self, now_ns: u64) {
        let since = self.credited_ns.map_or(0, |t| now_ns.saturating_sub(t));
        self.credited_ns = Some(now_ns);
        self.refill(since as f64 * 1e-9);
    }

    /// Reads what the host sent, waiting up to `timeout_us`; a paced link delivers no
    /// faster than its baud rate (the host's writes back up in the pty meanwhile).
    fn read(&mut self, buf: &mut [u8], timeout_us: u64) -> usize {
        let buf = match self.baud {
            Some(_) => {
                let n = (self.budget_in.max(0.0) as usize).min(buf.len());
                &mut buf[..n]
            }
            None => buf,
        };
        let Some(pty) = &self.pty else {
            std::thread::sleep(Duration::from_micros(timeout_us));
            return 0;
        };
        if buf.is_empty() {
            // The line has not delivered the next byte yet.
            std::thread::sleep(Duration::from_micros(timeout_us.min(500)));
            return 0;
        }
        let n = match pty.wait_readable(timeout_us) {
            Ok(true) => pty.read(buf).unwrap_or(0),
            _ => 0,
        };
        if self.baud.is_some() {
            // Less waiting than the line could have carried: it went idle, and idle
            // time delivers nothing later.
            self.budget_in = if n < buf.len() {
                0.0
            } else {
                self.budget_in - n as f64
            };
        }
        n
    }
}

impl embedded_io::ErrorType for Port {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let allowed = match self.baud {
            Some(_) => (self.budget.max(0.0) as usize).min(buf.len()),
            None => buf.len(),
        };
        let every = self.control.corrupt_every.load(Ordering::Acquire);
        let bytes: &[u8] = if every > 0 {
            self.scratch.clear();
            self.scratch.extend_from_slice(&buf[..allowed]);
            for (k, b) in self.scratch.iter_mut().enumerate() {
                if (self.sent + k as u64 + 1).is_multiple_of(every) {
                    *b ^= 0x10;
                }
            }
            &self.scratch
        } else {
            &buf[..allowed]
        };
        let written = match &self.pty {
            Some(pty) => pty.write(bytes).unwrap_or(0),
            None => 0,
        };
        self.sent += written as u64;
        if self.baud.is_some() {
            self.budget -= written as f64;
        }
        let dropped = (buf.len() - written) as u64;
        if dropped > 0 {
            self.control
                .bytes_dropped
                .fetch_add(dropped, Ordering::AcqRel);
        }
        // The rest is dropped: a device does not block on a host that is not reading.
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Runs the virtual MCU until `control.stop()`; removes the link on the way out. Refused
/// when another virtual MCU holds the link or the flash file.
pub fn run(config: &VmcuConfig, control: Arc<Control>) -> Result<(), VmcuError> {
    let model = config.model.clone();
    if let Some(why) = config.fault_problem() {
        return Err(VmcuError::Faults(why));
    }
    let schedule = &mut FaultSchedule::new(&config.faults);
    let motors_serve = config.servos.is_none() && !(config.slcan && config.drives.is_some());
    if motors_serve {
        config
            .motors
            .check_joints(model.actuated_joints().count())?;
    }
    let flash = match &config.flash {
        Some((path, key)) if !config.slcan && config.servos.is_none() => Some(UnitFlash {
            flash: FileFlash::open(path, LAYOUT.capacity() as usize).map_err(|e| {
                VmcuError::Flash {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?,
            path,
            key,
        }),
        _ => None,
    };
    let link = Link::claim(&config.link)?;
    let world = World::new(model.clone(), &config.environment, config.sim.clone());
    if let (Some(scales), true) = (&config.drives, config.slcan) {
        let mut port = Port::new(link, config.baud, control.clone());
        port.sync()?;
        let drives = &mut Drives::with_nodes(world, scales, &config.ids);
        let result = serve_slcan(&mut port, drives, &control, schedule);
        control.keep_final(drives.world());
        port.unplug();
        return result;
    }
    if let Some(family) = config.servos {
        let sim = crate::servos::with_position_loop(family, config.sim.clone());
        let world = World::new(model.clone(), &config.environment, sim);
        let mut port = Port::new(link, config.baud, control.clone());
        port.sync()?;
        let mut servos = Servos::new(world, family).with_ids(&config.ids);
        let result = serve_servos(&mut port, &mut servos, &control, schedule);
        control.keep_final(servos.world());
        port.unplug();
        return result;
    }
    // Servos on the bridge's servo UART, which it masters.
    let servos = (config.motors.servo_bus)
        .filter(|_| !config.slcan)
        .map(|bus| {
            let sim = crate::servos::with_position_loop(bus.family, config.sim.clone());
            let world = World::new(model.clone(), &config.environment, sim);
            Rc::new(RefCell::new(
                Servos::new(world, bus.family).with_ids(&config.ids),
            ))
        });
    let devices: Rc<RefCell<dyn CanDevices>> = match (&servos, &config.drives) {
        (Some(servos), _) => servos.clone(),
        // Drives on the bridge's buses, which it masters.
        (None, Some(scales)) => Rc::new(RefCell::new(
            Drives::with_nodes(world, scales, &config.ids).on_buses(&config.buses),
        )),
        (None, None) => {
            let mut motors = Motors::new(world, &config.motors.actuators);
            motors.mount(&config.mounting);
            Rc::new(RefCell::new(motors))
        }
    };
    let mut port = Port::new(link, config.baud, control.clone());
    port.sync()?;
    let result = if config.slcan {
        serve_slcan(&mut port, &mut *devices.borrow_mut(), &control, schedule)
    } else {
        let buses = &mut buses_of(&config.motors.bridge, &devices);
        let mut sim = Sim {
            devices: &devices,
            buses,
            servo_line: servos.map(SimServoLine::new),
            schedule,
        };
        match flash {
            None => serve_bridge(
                &mut port,
                &mut sim,
                config,
                &control,
                Bridge::new(info(None)),
            )
            .map(|_| ()),
            Some(flash) => serve_unit(&mut port, &mut sim, config, &control, flash),
        }
    };
    control.keep_final(devices.borrow().world());
    port.unplug();
    result
}

/// What the bridge drives: the simulated devices, the buses (or the servo line) they are
/// on, and the faults they are to be given.
struct Sim<'a> {
    devices: &'a Rc<RefCell<dyn CanDevices>>,
    buses: &'a mut [SimBus],
    servo_line: Option<SimServoLine>,
    schedule: &'a mut FaultSchedule,
}

impl Sim<'_> {
    /// Gives the faults due, and advances the simulation by `seconds`; what the devices
    /// send meanwhile goes on their buses.
    fn advance(&mut self, seconds: f64, control: &Control) {
        let mut sent = Vec::new();
        let mut devices = self.devices.borrow_mut();
        for (k, fault) in control.faults_due(self.schedule) {
            devices.set_fault(k, fault, &mut sent);
        }
        devices.advance(seconds, &mut sent);
        SimBus::deliver_on(self.buses, &sent);
    }
}

fn buses_of(
    setup: &embody_protocol::messages::BridgeSetup,
    devices: &Rc<RefCell<dyn CanDevices>>,
) -> Vec<SimBus> {
    (0..setup.buses.len())
        .map(|b| SimBus::new(b as u8, devices.clone()))
        .collect()
}

fn info(version: Option<embody_fwimage::Version>) -> FirmwareInfo {
    FirmwareInfo {
        version: version.map_or([0, 0, 0], |v| [v.major, v.minor, v.patch as u8]),
        buses: MAX_BUSES as u8,
        servo_bus: true,
    }
}

/// A unit's open flash and the key its bootloader trusts.
struct UnitFlash<'a> {
    flash: FileFlash,
    path: &'a Path,
    key: &'a VerifyingKey,
}

/// The unit's life: start from the flash, serve until a reboot request, start again.
fn serve_unit(
    port: &mut Port,
    sim: &mut Sim<'_>,
    config: &VmcuConfig,
    control: &Control,
    unit_flash: UnitFlash<'_>,
) -> Result<(), VmcuError> {
    let UnitFlash {
        mut flash,
        path,
        key,
    } = unit_flash;
    loop {
        let unit = Unit::start(flash, LAYOUT, *key).map_err(|_| VmcuError::Flash {
            path: path.to_owned(),
            reason: "the bootloader could not read its state".into(),
        })?;
        let booted = unit.booted();
        match booted {
            Some(b) => {
                tracing::info!(slot = b.slot, trial = b.trial, reverted = b.reverted, version = %b.image.version, "virtual MCU booted")
            }
            None => tracing::warn!(
                "virtual MCU: no valid image in either slot; it only takes an update"
            ),
        }
        let bridge = Bridge::with_unit(info(booted.map(|b| b.image.version)), unit);
        let bridge = serve_bridge(port, sim, config, control, bridge)?;
        match bridge.into_unit() {
            Some(unit) if unit.reboot_requested() => flash = unit.into_flash(),
            _ => return Ok(()),
        }
    }
}

/// Serves the host until stopped or until the unit asks to restart; the bridge back.
fn serve_bridge<F: NorFlash>(
    port: &mut Port,
    sim: &mut Sim<'_>,
    config: &VmcuConfig,
    control: &Control,
    mut bridge: Bridge<F>,
) -> Result<Bridge<F>, VmcuError> {
    let clock = SystemClock;
    let origin = clock.now();
    let default_period_ns = (1e9 / config.motors.rate_hz()).round() as u64;
    let mut next = origin.as_nanos() + default_period_ns;
    let mut buf = [0u8; 4096];
    while !control.stop.load(Ordering::Acquire) {
        port.sync()?;
        let period_ns = bridge
            .period_us()
            .map_or(default_period_ns, |us| us as u64 * 1000);
        // Serve the host until the cycle is due, or run it at once when commands come.
        let mut triggered = false;
        loop {
            let now = clock.now().as_nanos();
            if now >= next {
                break;
            }
            port.refill_until(now);
            let n = port.read(&mut buf, (next - now) / 1000);
            if n > 0 {
                let now_us = clock.now().as_nanos() / 1000;
                let _ = bridge.handle_serial(&buf[..n], now_us, port);
                if bridge.unit().is_some_and(Unit::reboot_requested) {
                    return Ok(bridge);
                }
                if bridge.take_fresh_commands() {
                    triggered = true;
                    break;
                }
            }
        }
        let now_us = clock.now().as_nanos() / 1000;
        bridge.start_cycle(now_us, sim.buses);
        if let Some(line) = &mut sim.servo_line {
            let _ = bridge.start_servo_cycle(line);
        }
        sim.advance(period_ns as f64 * 1e-9, control);
        if let Some(line) = &mut sim.servo_line {
            bridge.finish_servo_cycle(line);
        }
        port.refill_until(clock.now().as_nanos());
        let _ = bridge.finish_cycle(now_us, sim.buses, port);
        control.cycles.fetch_add(1, Ordering::AcqRel);
        control
            .bridge_state
            .store(bridge.state() as u64, Ordering::Release);
        control
            .frames_bad
            .store(bridge.frames_bad() as u64, Ordering::Release);
        let now = clock.now().as_nanos();
        // The timer runs only while the host is silent: a host tick restarts it, a bit
        // more than a period out so a host on time always comes first.
        next = if triggered {
            now + period_ns + period_ns / 2
        } else if now > next + period_ns {
            now + period_ns // behind: skip, never accumulate
        } else {
            next + period_ns
        };
    }
    Ok(bridge)
}

/// Serves a servo bus: the simulator runs in real time, and every packet read is
/// answered at once by the servos it addresses.
fn serve_servos(
    port: &mut Port,
    servos: &mut Servos,
    control: &Control,
    schedule: &mut FaultSchedule,
) -> Result<(), VmcuError> {
    let clock = SystemClock;
    let mut last = clock.now();
    let mut buf = [0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    while !control.stop.load(Ordering::Acquire) {
        port.sync()?;
        let n = port.read(&mut buf, 1000);
        let dt = servos.world().config().dt_s;
        for (k, fault) in control.faults_due(schedule) {
            match fault {
                Some(f) => servos.inject(k, f),
                None => servos.clear(k),
            }
        }
        servos.advance(port.catch_up(&mut last, clock.now(), dt));
        out.clear();
        servos.on_bytes(&buf[..n], &mut out);
        if !out.is_empty() {
            let _ = embedded_io::Write::write_all(port, &out);
        }
        control.cycles.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

/// Serves as a plain SLCAN adapter with `devices` on its bus: the simulator runs in real
/// time; the devices' frames go to the host while the adapter is open.
fn serve_slcan(
    port: &mut Port,
    devices: &mut dyn CanDevices,
    control: &Control,
    schedule: &mut FaultSchedule,
) -> Result<(), VmcuError> {
    let clock = SystemClock;
    let mut last = clock.now();
    let mut reader = LineReader::default();
    let mut open = false;
    let mut timestamps = false;
    let mut buf = [0u8; 4096];
    let mut line = [0u8; slcan::MAX_LINE];
    let mut frames = Vec::new();
    while !control.stop.load(Ordering::Acquire) {
        port.sync()?;
        let n = port.read(&mut buf, 1000);
        let now = clock.now();
        let dt = devices.dt();
        let mut sent = Vec::new();
        for (k, fault) in control.faults_due(schedule) {
            devices.set_fault(k, fault, &mut sent);
        }
        devices.advance(port.catch_up(&mut last, now, dt), &mut sent);
        // An adapter has one bus: whatever the devices send is on it.
        frames.clear();
        frames.extend(sent.into_iter().map(|(_, frame)| frame));
        let ts = timestamps.then(|| (now.as_nanos() / 1_000_000 % 60_000) as u16);
        if open {
            send_frames(port, &frames, ts, &mut line);
        }
        for &byte in &buf[..n] {
            let parsed = match reader.push(byte) {
                Some(LineEvent::Line(_)) => slcan::parse_line(reader.line()),
                Some(LineEvent::Overflow) => Err(slcan::SlcanError::BadLength),
                Some(LineEvent::Bell) | None => continue,
            };
            let reply: &[u8] = match parsed {
                Ok(SlcanLine::Open | SlcanLine::ListenOnly) => {
                    open = true;
                    b"\r"
                }
                Ok(SlcanLine::Close) => {
                    open = false;
                    b"\r"
                }
                Ok(SlcanLine::Bitrate(_)) if !open => b"\r",
                Ok(SlcanLine::Timestamps(on)) if !open => {
                    timestamps = on;
                    b"\r"
                }
                Ok(SlcanLine::Version) => b"V0101\r",
                Ok(SlcanLine::SerialNumber) => b"NEMB0\r",
                Ok(SlcanLine::Status) => b"F00\r",
                Ok(SlcanLine::Empty) => b"",
                Ok(SlcanLine::Frame { frame, .. }) if open => {
                    let ack: &[u8] = if matches!(frame.id(), embody_protocol::CanId::Extended(_)) {
                        b"Z\r"
                    } else {
                        b"z\r"
                    };
                    let _ = embedded_io::Write::write_all(port, ack);
                    frames.clear();
                    devices.on_frame(0, &frame, &mut frames);
                    send_frames(port, &frames, ts, &mut line);
                    b""
                }
                _ => &[slcan::BELL],
            };
            if !reply.is_empty() {
                let _ = embedded_io::Write::write_all(port, reply);
            }
        }
        control.cycles.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

/// Writes `frames` to the host as SLCAN lines.
fn send_frames(
    port: &mut Port,
    frames: &[CanFrame],
    ts: Option<u16>,
    line: &mut [u8; slcan::MAX_LINE],
) {
    for frame in frames {
        let len = slcan::encode_frame(frame, ts, line);
        let _ = embedded_io::Write::write_all(port, &line[..len]);
    }
}
