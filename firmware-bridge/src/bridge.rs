//! The bridge: the host link (handshake, configuration, one command batch per tick),
//! the watchdog, and the bus cycle that turns joint commands into actuator frames and
//! replies into joint states. Hardware stays behind `embedded_can::nb::Can` (one per
//! bus) and `embedded_io::Write` (the serial link to the host); the caller owns time.
//!
//! A cycle is [`Bridge::start_cycle`] (every actuator on every bus gets its frame) and,
//! once the replies are in, [`Bridge::finish_cycle`] (replies become joint states, one
//! state batch goes to the host). It runs when a command batch arrives
//! ([`Bridge::take_fresh_commands`]), so the bus follows the host's tick, and on the
//! MCU's own timer while the host is silent. Bytes from the host go to
//! [`Bridge::handle_serial`] whenever they arrive.
//!
//! Safe by default: nothing drives a motor before a full configuration and a first
//! command; when commands stop for the watchdog period the motors get damping, then
//! are disabled, and are polled with disable frames so their state is still reported.
//!
//! A bus may instead carry CiA 402 drives ([`HostMessage::DriveBus`], then
//! [`HostMessage::Drive`] for each): the bridge is their CANopen master ([`DriveBus`]),
//! sets them up once the configuration is complete, and each cycle sends their targets
//! and a SYNC; the watchdog holds them still, then switches them off.
//!
//! A bridge with a servo UART ([`FirmwareInfo::servo_bus`]) may master a serial servo
//! bus ([`HostMessage::ServoBus`], then [`HostMessage::Servo`] for each): its cycle is
//! [`Bridge::start_servo_cycle`], after `start_cycle`, and [`Bridge::finish_servo_cycle`],
//! before `finish_cycle` ([`ServoBus`]); the watchdog holds the servos still, then turns
//! their torque off.
//!
//! A bridge built [`Bridge::with_unit`] also answers firmware updates and keeps the
//! unit record (see [`crate::unit`]); the record's calibration is applied to every
//! actuator configured, so the host sees calibrated joints. An update in progress
//! drops the configuration: the motors stay off until the host configures again.

use embedded_can::nb::Can;
use embody_protocol::cia402_master::DriveFailure;
use embody_protocol::messages::{
    ActuatorSetup, BridgeMessage, BridgeSetup, BridgeState, BridgeStatus, BusStats, CommandBatch,
    DriveActuatorSetup, DriveBusSetup, HostMessage, JointCalibration, MAX_BUSES, MAX_JOINTS,
    PROTOCOL_VERSION, ServoActuatorSetup, ServoBusSetup, SetupError, StateBatch, WireCommand,
    WireJointState,
};
use embody_protocol::{
    CanFrame, FrameDecoder, FrameEncoder, MAX_FRAME, MitCommand, MitSpecial, MotorFaults,
};

use embedded_storage::nor_flash::NorFlash;

use crate::can_frame::{from_hal, to_hal};
use crate::drive_bus::{DriveBus, Hold};
use crate::servo_bus::{self, ServoBus};
use crate::unit::{NoFlash, Unit, no_storage};
use embody_protocol::budget::bus_cycle_us;
use embody_protocol::servo_master::ServoFamily;

/// Ticks without a reply after which a joint reports `COMMS_LOST`.
pub const REPLY_TIMEOUT_TICKS: u16 = 10;

/// What this firmware is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirmwareInfo {
    /// Version (major, minor, patch).
    pub version: [u8; 3],
    /// CAN buses the hardware has.
    pub buses: u8,
    /// It has a UART for a serial servo bus.
    pub servo_bus: bool,
}

/// What a joint's actuator is sent this cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Drive {
    /// Poll with a disable frame: the motor stays off and replies with its state.
    Disabled,
    /// Enter motor mode first.
    Enable,
    /// An impedance command.
    Command(MitCommand),
}

/// The firmware core. See the module docs.
pub struct Bridge<F = NoFlash> {
    info: FirmwareInfo,
    unit: Option<Unit<F>>,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    out: [u8; MAX_FRAME],
    setup: Option<BridgeSetup>,
    actuators: [Option<ActuatorSetup>; MAX_JOINTS],
    /// Buses of CiA 402 drives (`None`: a bus of MIT motors).
    drive_buses: [Option<DriveBus>; MAX_BUSES],
    /// The serial servo bus, once set up.
    servo_bus: Option<ServoBus>,
    /// The family of a servo bus dropped with its torque maybe on: its servos are told
    /// to let go at the next servo cycle.
    servo_release: Option<ServoFamily>,
    /// Drives given up on, not yet told to the host.
    failures: heapless::Vec<(u8, DriveFailure), MAX_JOINTS>,
    commands: [WireCommand; MAX_JOINTS],
    states: [WireJointState; MAX_JOINTS],
    enabled: [bool; MAX_JOINTS],
    replied: [bool; MAX_JOINTS],
    seq: u32,
    last_command_us: Option<u64>,
    state: BridgeState,
    damping_since_us: u64,
    buses: [BusStats; MAX_BUSES],
    frames_bad: u32,
    watchdog_trips: u32,
    boot_us: Option<u64>,
    fresh_commands: bool,
}

impl Bridge<NoFlash> {
    /// A bridge at boot without flash: unconfigured, every motor left disabled; it
    /// refuses firmware updates and unit records.
    pub fn new(info: FirmwareInfo) -> Bridge {
        Bridge::build(info, None)
    }
}

impl<F: NorFlash> Bridge<F> {
    /// A bridge at boot on `unit` (its flash, what it booted, its record).
    pub fn with_unit(info: FirmwareInfo, unit: Unit<F>) -> Bridge<F> {
        Bridge::build(info, Some(unit))
    }

    fn build(info: FirmwareInfo, unit: Option<Unit<F>>) -> Bridge<F> {
        Bridge {
            info,
            unit,
            decoder: FrameDecoder::default(),
            encoder: FrameEncoder::default(),
            out: [0; MAX_FRAME],
            setup: None,
            actuators: [None; MAX_JOINTS],
            drive_buses: core::array::from_fn(|_| None),
            servo_bus: None,
            servo_release: None,
            failures: heapless::Vec::new(),
            commands: [WireCommand::Off; MAX_JOINTS],
            states: [WireJointState::default(); MAX_JOINTS],
            enabled: [false; MAX_JOINTS],
            replied: [false; MAX_JOINTS],
            seq: 0,
            last_command_us: None,
            state: BridgeState::Unconfigured,
            damping_since_us: 0,
            buses: [BusStats::default(); MAX_BUSES],
            frames_bad: 0,
            watchdog_trips: 0,
            boot_us: None,
            fresh_commands: false,
        }
    }

    /// The unit, if the bridge has one.
    pub fn unit(&self) -> Option<&Unit<F>> {
        self.unit.as_ref()
    }

    /// The unit back (to restart it from its flash after [`Unit::reboot_requested`]).
    pub fn into_unit(self) -> Option<Unit<F>> {
        self.unit
    }

    /// Whether a command batch arrived since the last call. The firmware runs its bus
    /// cycle when one does, so the cycle follows the host's tick (its own timer only
    /// keeps cycling, for the watchdog and for polling, while the host is silent).
    pub fn take_fresh_commands(&mut self) -> bool {
        core::mem::take(&mut self.fresh_commands)
    }

    /// What the bridge is doing.
    pub fn state(&self) -> BridgeState {
        self.state
    }

    /// The control period the host configured (µs), once it has.
    pub fn period_us(&self) -> Option<u32> {
        self.setup.as_ref().map(|s| s.period_us)
    }

    /// Counters of bus `bus`.
    pub fn bus_stats(&self, bus: usize) -> BusStats {
        self.buses.get(bus).copied().unwrap_or_default()
    }

    /// Host frames dropped so far (framing, CRC, undecodable).
    pub fn frames_bad(&self) -> u32 {
        self.frames_bad
    }

    /// Feeds bytes from the host; answers handshake, configuration and status requests
    /// on `serial` at once. A command batch is answered by the next cycle's state batch.
    pub fn handle_serial<W: embedded_io::Write>(
        &mut self,
        bytes: &[u8],
        now_us: u64,
        serial: &mut W,
    ) -> Result<(), W::Error> {
        self.boot_us.get_or_insert(now_us);
        for &byte in bytes {
            match self.decoder.push(byte) {
                None => {}
                Some(Err(_)) => self.frames_bad += 1,
                Some(Ok(_)) => match self.decoder.message::<HostMessage>() {
                    Ok(message) => {
                        if let Some(reply) = self.handle(message, now_us) {
                            self.send(&reply, serial)?;
                        }
                        if self.unit.as_ref().is_some_and(Unit::reboot_requested) {
                            // The MCU resets: whatever else arrived is lost with it.
                            return Ok(());
                        }
                    }
                    Err(_) => self.frames_bad += 1,
                },
            }
        }
        Ok(())
    }

    fn send<W: embedded_io::Write>(
        &mut self,
        message: &BridgeMessage,
        serial: &mut W,
    ) -> Result<(), W::Error> {
        match self.encoder.encode(message, &mut self.out) {
            Ok(n) => serial.write_all(&self.out[..n]),
            // Every bridge message fits by construction; a failure is dropped, not sent.
            Err(_) => Ok(()),
        }
    }

    fn handle(&mut self, message: HostMessage, now_us: u64) -> Option<BridgeMessage> {
        match message {
            HostMessage::Hello { version } if version == PROTOCOL_VERSION => {
                Some(BridgeMessage::Welcome {
                    version: PROTOCOL_VERSION,
                    firmware: self.info.version,
                    max_joints: MAX_JOINTS as u8,
                    max_buses: self.info.buses,
                })
            }
            HostMessage::Hello { .. } => Some(BridgeMessage::VersionMismatch {
                version: PROTOCOL_VERSION,
            }),
            HostMessage::Setup(setup) => Some(match self.apply_setup(setup) {
                Ok(()) => BridgeMessage::SetupAccepted,
                Err(e) => BridgeMessage::SetupRefused(e),
            }),
            HostMessage::Actuator(actuator) => Some(match self.apply_actuator(actuator) {
                Ok(()) => BridgeMessage::SetupAccepted,
                Err(e) => BridgeMessage::SetupRefused(e),
            }),
            HostMessage::DriveBus(setup) => Some(match self.apply_drive_bus(setup) {
                Ok(()) => BridgeMessage::SetupAccepted,
                Err(e) => BridgeMessage::SetupRefused(e),
            }),
            HostMessage::Drive(drive) => Some(match self.apply_drive(drive) {
                Ok(()) => BridgeMessage::SetupAccepted,
                Err(e) => BridgeMessage::SetupRefused(e),
            }),
            HostMessage::ServoBus(setup) => Some(match self.apply_servo_bus(setup) {
                Ok(()) => BridgeMessage::SetupAccepted,
                Err(e) => BridgeMessage::SetupRefused(e),
            }),
            HostMessage::Servo(servo) => Some(match self.apply_servo(servo) {
                Ok(()) => BridgeMessage::SetupAccepted,
                Err(e) => BridgeMessage::SetupRefused(e),
            }),
            HostMessage::Tick(batch) => {
                self.accept_commands(&batch, now_us);
                None
            }
            HostMessage::GetStatus => Some(BridgeMessage::Status(self.status(now_us))),
            HostMessage::FlashBegin { .. }
            | HostMessage::FlashChunk { .. }
            | HostMessage::FlashFinish
            | HostMessage::Reboot
            | HostMessage::FlashConfirm
            | HostMessage::GetFirmware
            | HostMessage::GetUnit
            | HostMessage::SetUnit(_) => {
                let reply = match &mut self.unit {
                    Some(unit) => unit.handle(&message),
                    None => no_storage(&message),
                };
                if self.unit.as_ref().is_some_and(Unit::receiving) {
                    // No motor runs while its firmware is being replaced.
                    self.unconfigure();
                }
                reply
            }
        }
    }

    fn unconfigure(&mut self) {
        self.setup = None;
        self.actuators = [None; MAX_JOINTS];
        self.drive_buses = core::array::from_fn(|_| None);
        self.drop_servo_bus();
        self.commands = [WireCommand::Off; MAX_JOINTS];
        self.last_command_us = None;
        self.update_configured();
    }

    fn apply_setup(&mut self, setup: BridgeSetup) -> Result<(), SetupError> {
        if setup.joints as usize > MAX_JOINTS {
            return Err(SetupError::TooManyJoints);
        }
        if setup.buses.is_empty() || setup.buses.len() > self.info.buses as usize {
            return Err(SetupError::BadBuses);
        }
        if setup.period_us == 0
            || setup.watchdog_ms == 0
            || setup.buses.iter().any(|b| b.bitrate == 0)
        {
            return Err(SetupError::BadBuses);
        }
        self.actuators = [None; MAX_JOINTS];
        self.drive_buses = core::array::from_fn(|_| None);
        self.drop_servo_bus();
        self.failures.clear();
        self.commands = [WireCommand::Off; MAX_JOINTS];
        self.states = [WireJointState::default(); MAX_JOINTS];
        self.enabled = [false; MAX_JOINTS];
        self.last_command_us = None;
        self.seq = 0;
        self.buses = [BusStats::default(); MAX_BUSES];
        self.setup = Some(setup);
        self.update_configured();
        Ok(())
    }

    fn apply_actuator(&mut self, actuator: ActuatorSetup) -> Result<(), SetupError> {
        let setup = self.setup.as_ref().ok_or(SetupError::NoSetup)?;
        let joint = actuator.joint as usize;
        if joint >= setup.joints as usize {
            return Err(SetupError::BadJoint);
        }
        let Some(bus) = setup.buses.get(actuator.bus as usize) else {
            return Err(SetupError::BadBus);
        };
        if self.drive_buses[usize::from(actuator.bus)].is_some() {
            return Err(SetupError::BusKind);
        }
        let gains = [
            actuator.damping_kd,
            actuator.position_kp,
            actuator.position_kd,
            actuator.velocity_kd,
        ];
        if !actuator.codec.ranges.is_valid()
            || !(actuator.direction == 1 || actuator.direction == -1)
            || !actuator.offset_rad.is_finite()
            || !gains.iter().all(|g| g.is_finite() && *g >= 0.0)
        {
            return Err(SetupError::BadActuator);
        }
        let clash = self.actuators.iter().enumerate().any(|(k, a)| {
            a.is_some_and(|a| {
                k != joint && a.bus == actuator.bus && a.codec.motor_id == actuator.codec.motor_id
            })
        });
        if clash {
            return Err(SetupError::DuplicateId);
        }
        let others = self
            .actuators
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != joint)
            .filter_map(|(_, a)| a.as_ref());
        let cycle = bus_cycle_us(
            others.chain(core::iter::once(&actuator)),
            actuator.bus,
            bus.bitrate,
        );
        if cycle > setup.period_us {
            return Err(SetupError::OverBudget {
                bus: actuator.bus,
                cycle_us: cycle,
            });
        }
        self.actuators[joint] = Some(self.calibrated(actuator));
        self.enabled[joint] = false;
        for drives in self.drive_buses.iter_mut().flatten() {
            drives.remove(actuator.joint);
        }
        if let Some(servos) = &mut self.servo_bus {
            servos.remove(actuator.joint);
        }
        self.update_configured();
        Ok(())
    }

    /// Makes a bus one of CiA 402 drives (none on it yet); refused while MIT motors are
    /// on it.
    fn apply_drive_bus(&mut self, drives: DriveBusSetup) -> Result<(), SetupError> {
        let setup = self.setup.as_ref().ok_or(SetupError::NoSetup)?;
        let b = usize::from(drives.bus);
        if b >= setup.buses.len() {
            return Err(SetupError::BadBus);
        }
        if self.actuators.iter().flatten().any(|a| a.bus == drives.bus) {
            return Err(SetupError::BusKind);
        }
        self.drive_buses[b] = Some(DriveBus::new(drives)?);
        self.update_configured();
        Ok(())
    }

    /// Puts a drive on its drive bus, in place of whatever its joint had.
    fn apply_drive(&mut self, drive: DriveActuatorSetup) -> Result<(), SetupError> {
        let setup = self.setup.as_ref().ok_or(SetupError::NoSetup)?;
        if usize::from(drive.joint) >= setup.joints as usize {
            return Err(SetupError::BadJoint);
        }
        let b = usize::from(drive.bus);
        let Some(bus) = setup.buses.get(b) else {
            return Err(SetupError::BadBus);
        };
        let period_us = setup.period_us;
        let bitrate = bus.bitrate;
        if !drive.is_valid() {
            return Err(SetupError::BadActuator);
        }
        let drive = match self.calibration(drive.joint) {
            Some(c) => drive.calibrated(c),
            None => drive,
        };
        let drives = self.drive_buses[b].as_mut().ok_or(SetupError::BusKind)?;
        let extra = usize::from(!drives.has(drive.joint));
        let cycle = drives.cycle_us(bitrate, extra);
        if cycle > period_us {
            return Err(SetupError::OverBudget {
                bus: drive.bus,
                cycle_us: cycle,
            });
        }
        drives.add(drive)?;
        self.actuators[usize::from(drive.joint)] = None;
        for (k, other) in self.drive_buses.iter_mut().enumerate() {
            if let Some(other) = other.as_mut().filter(|_| k != b) {
                other.remove(drive.joint);
            }
        }
        if let Some(servos) = &mut self.servo_bus {
            servos.remove(drive.joint);
        }
        self.update_configured();
        Ok(())
    }

    /// Sets the servo bus up (none on it yet); refused by a bridge without a servo UART.
    fn apply_servo_bus(&mut self, servos: ServoBusSetup) -> Result<(), SetupError> {
        self.setup.as_ref().ok_or(SetupError::NoSetup)?;
        if !self.info.servo_bus {
            return Err(SetupError::BadBus);
        }
        let bus = ServoBus::new(servos)?;
        self.drop_servo_bus();
        self.servo_bus = Some(bus);
        self.update_configured();
        Ok(())
    }

    /// Drops the servo bus; its servos are told to let go at the next servo cycle.
    fn drop_servo_bus(&mut self) {
        if let Some(old) = self.servo_bus.take() {
            self.servo_release = Some(old.family());
        }
    }

    /// Puts a servo on the servo bus, in place of whatever its joint had.
    fn apply_servo(&mut self, servo: ServoActuatorSetup) -> Result<(), SetupError> {
        let setup = self.setup.as_ref().ok_or(SetupError::NoSetup)?;
        if usize::from(servo.joint) >= setup.joints as usize {
            return Err(SetupError::BadJoint);
        }
        let period_us = setup.period_us;
        let family = self.servo_bus.as_ref().ok_or(SetupError::BusKind)?.family();
        if !servo.is_valid(family) {
            return Err(SetupError::BadActuator);
        }
        let servo = match self.calibration(servo.joint) {
            Some(c) => servo.calibrated(c),
            None => servo,
        };
        let servos = self.servo_bus.as_mut().ok_or(SetupError::BusKind)?;
        let cycle_us = servos.cycle_us(usize::from(!servos.has(servo.joint)));
        if cycle_us > period_us {
            return Err(SetupError::ServoBudget { cycle_us });
        }
        servos.add(servo)?;
        self.actuators[usize::from(servo.joint)] = None;
        for drives in self.drive_buses.iter_mut().flatten() {
            drives.remove(servo.joint);
        }
        self.update_configured();
        Ok(())
    }

    /// Whether joint `joint` has an actuator: an MIT motor or a drive.
    fn configured(&self, joint: usize) -> bool {
        self.actuators[joint].is_some()
            || (self.drive_buses.iter().flatten()).any(|d| d.has(joint as u8))
            || self.servo_bus.as_ref().is_some_and(|s| s.has(joint as u8))
    }

    /// `actuator` with the unit's calibration of its joint applied underneath: the raw
    /// motor position `p` becomes `c·(p − z)` before the host's own mapping.
    fn calibrated(&self, actuator: ActuatorSetup) -> ActuatorSetup {
        match self.calibration(actuator.joint) {
            Some(c) => actuator.calibrated(c),
            None => actuator,
        }
    }

    /// The unit record's calibration of joint `joint`, if it has one.
    fn calibration(&self, joint: u8) -> Option<&JointCalibration> {
        self.unit.as_ref().and_then(Unit::record)?.joint(joint)
    }

    fn joint_count(&self) -> usize {
        self.setup.as_ref().map_or(0, |s| s.joints as usize)
    }

    fn update_configured(&mut self) {
        let n = self.joint_count();
        let complete = self.setup.is_some() && (0..n).all(|j| self.configured(j));
        // The drives are set up once the whole configuration is in.
        for drives in self.drive_buses.iter_mut().flatten() {
            match complete {
                true => drives.start(),
                false => drives.stop(),
            }
        }
        if let Some(servos) = &mut self.servo_bus {
            match complete {
                true => servos.start(),
                false => servos.stop(),
            }
        }
        self.state = if complete {
            BridgeState::Idle
        } else {
            BridgeState::Unconfigured
        };
    }

    fn accept_commands(&mut self, batch: &CommandBatch, now_us: u64) {
        if self.state == BridgeState::Unconfigured || batch.commands.len() != self.joint_count() {
            self.frames_bad += 1;
            return;
        }
        self.commands[..batch.commands.len()].copy_from_slice(&batch.commands);
        self.seq = batch.seq;
        self.last_command_us = Some(now_us);
        self.state = BridgeState::Active;
        self.fresh_commands = true;
    }

    /// Watchdog: no command for `watchdog_ms` → damping; damping for `damping_ms` →
    /// disabled. A new command batch makes the bridge active again.
    fn update_watchdog(&mut self, now_us: u64) {
        let (Some(setup), Some(last)) = (self.setup.as_ref(), self.last_command_us) else {
            return;
        };
        let silent_us = now_us.saturating_sub(last);
        let watchdog_us = setup.watchdog_ms as u64 * 1000;
        match self.state {
            BridgeState::Active if silent_us > watchdog_us => {
                self.state = BridgeState::Damping;
                self.damping_since_us = now_us;
                self.watchdog_trips += 1;
            }
            BridgeState::Damping
                if now_us.saturating_sub(self.damping_since_us)
                    > setup.damping_ms as u64 * 1000 =>
            {
                self.state = BridgeState::Disabled;
            }
            _ => {}
        }
    }

    fn drive(&self, joint: usize, actuator: &ActuatorSetup) -> Drive {
        match self.state {
            BridgeState::Unconfigured | BridgeState::Idle | BridgeState::Disabled => {
                Drive::Disabled
            }
            _ if !self.enabled[joint] => Drive::Enable,
            BridgeState::Damping => Drive::Command(actuator.damping_command()),
            BridgeState::Active => Drive::Command(actuator.motor_command(&self.commands[joint])),
        }
    }

    /// Starts a control cycle at `now_us`: every configured actuator gets its frame on
    /// its bus (`buses[k]` is bus k).
    pub fn start_cycle<C: Can>(&mut self, now_us: u64, buses: &mut [C]) {
        self.boot_us.get_or_insert(now_us);
        self.update_watchdog(now_us);
        let n = self.joint_count();
        for joint in 0..n {
            let Some(actuator) = self.actuators[joint] else {
                continue;
            };
            self.replied[joint] = false;
            let drive = self.drive(joint, &actuator);
            let frame: CanFrame = match drive {
                Drive::Disabled => actuator.codec.special_frame(MitSpecial::ExitMotorMode),
                Drive::Enable => actuator.codec.special_frame(MitSpecial::EnterMotorMode),
                Drive::Command(command) => match actuator.codec.command_frame(&command) {
                    Ok(frame) => frame,
                    // A non-finite command never reaches a motor: it gets a zero one.
                    Err(_) => match actuator.codec.command_frame(&MitCommand::default()) {
                        Ok(frame) => frame,
                        Err(_) => continue,
                    },
                },
            };
            let bus = actuator.bus as usize;
            let Some(port) = buses.get_mut(bus) else {
                continue;
            };
            let stats = &mut self.buses[bus];
            match to_hal::<C::Frame>(&frame).map(|f| port.transmit(&f)) {
                Some(Ok(_)) => {
                    stats.frames_tx += 1;
                    match drive {
                        Drive::Enable => self.enabled[joint] = true,
                        Drive::Disabled => self.enabled[joint] = false,
                        Drive::Command(_) => {}
                    }
                }
                _ => stats.bus_errors += 1,
            }
        }
        self.cycle_drives(now_us, buses);
        if let Some(setup) = &self.setup {
            for (b, bus) in setup.buses.iter().enumerate() {
                self.buses[b].cycle_us = match &self.drive_buses[b] {
                    Some(drives) => drives.cycle_us(bus.bitrate, 0),
                    None => {
                        bus_cycle_us(self.actuators[..n].iter().flatten(), b as u8, bus.bitrate)
                    }
                };
            }
        }
    }

    /// Every drive bus's cycle: its drives' targets (what the bridge's state allows of
    /// the loop's commands) and a SYNC.
    fn cycle_drives<C: Can>(&mut self, now_us: u64, buses: &mut [C]) {
        let period_s = self
            .setup
            .as_ref()
            .map_or(0.001, |s| s.period_us as f32 * 1e-6);
        let (state, commands) = (self.state, &self.commands);
        let hold = |joint: u8| hold(state, commands, joint);
        for (b, drives) in self.drive_buses.iter_mut().enumerate() {
            let (Some(drives), Some(port)) = (drives, buses.get_mut(b)) else {
                continue;
            };
            let stats = &mut self.buses[b];
            drives.cycle(
                now_us,
                period_s,
                &self.states,
                hold,
                |frame| match to_hal::<C::Frame>(&frame).map(|f| port.transmit(&f)) {
                    Some(Ok(_)) => stats.frames_tx += 1,
                    _ => stats.bus_errors += 1,
                },
            );
        }
    }

    /// Starts the servo bus's cycle (after [`Bridge::start_cycle`]): its packets go to
    /// `port`, the servo UART.
    pub fn start_servo_cycle<W: embedded_io::Write>(
        &mut self,
        port: &mut W,
    ) -> Result<(), W::Error> {
        if let Some(family) = self.servo_release {
            servo_bus::release(family, port, &mut [0u8; 16])?;
            self.servo_release = None;
        }
        let (state, commands) = (self.state, &self.commands);
        match &mut self.servo_bus {
            Some(servos) => servos.cycle(port, &self.states, |joint| hold(state, commands, joint)),
            None => Ok(()),
        }
    }

    /// Ends the servo bus's cycle (before [`Bridge::finish_cycle`], whose state batch
    /// carries the servos' joints): takes every answer waiting on `port`.
    pub fn finish_servo_cycle<R: embedded_io::Read + embedded_io::ReadReady>(
        &mut self,
        port: &mut R,
    ) {
        let n = self.joint_count();
        if let Some(servos) = &mut self.servo_bus {
            servos.finish(port, &mut self.states[..n]);
        }
    }

    /// Counters of the servo bus, once set up: packets sent, answers taken, bad packets
    /// read (`bus_errors`), answers missed.
    pub fn servo_bus_stats(&self) -> Option<BusStats> {
        self.servo_bus.as_ref().map(ServoBus::stats)
    }

    /// Finishes the cycle: takes every reply waiting on the buses, ages the joints that
    /// did not answer, and sends the host one state batch.
    pub fn finish_cycle<C: Can, W: embedded_io::Write>(
        &mut self,
        now_us: u64,
        buses: &mut [C],
        serial: &mut W,
    ) -> Result<(), W::Error> {
        let n = self.joint_count();
        for (b, port) in buses.iter_mut().enumerate().take(MAX_BUSES) {
            loop {
                match port.receive() {
                    Ok(frame) => {
                        self.buses[b].frames_rx += 1;
                        match (from_hal(&frame), &mut self.drive_buses[b]) {
                            (Some(frame), Some(drives)) => drives.take(&frame, now_us),
                            (Some(frame), None) => self.take_reply(b as u8, &frame, n),
                            (None, _) => {}
                        }
                    }
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(_)) => {
                        self.buses[b].bus_errors += 1;
                        break;
                    }
                }
            }
        }
        for joint in 0..n {
            let Some(actuator) = self.actuators[joint] else {
                continue;
            };
            if !self.replied[joint] {
                self.buses[actuator.bus as usize].missed_replies += 1;
                let state = &mut self.states[joint];
                state.age_ticks = state.age_ticks.saturating_add(1);
                if state.age_ticks >= REPLY_TIMEOUT_TICKS {
                    state.faults = state.faults.union(MotorFaults::COMMS_LOST);
                }
            }
        }
        for (b, drives) in self.drive_buses.iter_mut().enumerate() {
            let Some(drives) = drives else { continue };
            let failures = &mut self.failures;
            let missed = drives.finish(&mut self.states[..n], |joint, why| {
                let _ = failures.push((joint, why));
            });
            self.buses[b].missed_replies += missed;
        }
        while let Some((joint, failure)) = self.failures.pop() {
            self.send(&BridgeMessage::DriveFailed { joint, failure }, serial)?;
        }
        let mut batch = StateBatch {
            seq: self.seq,
            bridge_time_us: now_us,
            state: self.state,
            ..StateBatch::default()
        };
        for state in &self.states[..n] {
            let _ = batch.joints.push(*state);
        }
        let bus_count = self.setup.as_ref().map_or(0, |s| s.buses.len());
        for stats in &self.buses[..bus_count] {
            let _ = batch.buses.push(*stats);
        }
        self.send(&BridgeMessage::Tick(batch), serial)
    }

    fn take_reply(&mut self, bus: u8, frame: &CanFrame, n: usize) {
        for joint in 0..n {
            let Some(actuator) = self.actuators[joint] else {
                continue;
            };
            if actuator.bus != bus {
                continue;
            }
            if let Ok(feedback) = actuator.codec.decode_feedback(frame) {
                self.states[joint] = actuator.joint_state(&feedback);
                self.replied[joint] = true;
                return;
            }
        }
    }

    fn status(&self, now_us: u64) -> BridgeStatus {
        let mut status = BridgeStatus {
            state: self.state,
            uptime_ms: now_us.saturating_sub(self.boot_us.unwrap_or(now_us)) / 1000,
            frames_ok: self.decoder.stats().ok,
            frames_bad: self.frames_bad,
            watchdog_trips: self.watchdog_trips,
            joints_configured: (0..self.joint_count())
                .filter(|&j| self.configured(j))
                .count() as u8,
            ..BridgeStatus::default()
        };
        let bus_count = self.setup.as_ref().map_or(0, |s| s.buses.len());
        for stats in &self.buses[..bus_count] {
            let _ = status.buses.push(*stats);
        }
        status
    }
}

/// What joint `joint`'s drive or servo gets in `state`: the loop's command while active,
/// held still while damping, off otherwise.
fn hold(state: BridgeState, commands: &[WireCommand; MAX_JOINTS], joint: u8) -> Hold {
    match state {
        BridgeState::Active => Hold::Command(commands[usize::from(joint)]),
        BridgeState::Damping => Hold::Still,
        _ => Hold::Off,
    }
}
