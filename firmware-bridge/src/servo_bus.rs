//! The bridge's serial servo bus (Dynamixel protocol 2.0 or Feetech STS on a half-duplex
//! UART): the servos configured on it (joint, id, travel per turn, direction, offset),
//! and its cycle once the bridge's configuration is complete. Each cycle sends one sync
//! write of goal positions, one of torque enables when any changes (and once at the
//! start, so every servo begins off), and one sync read of every servo's present state;
//! a Dynamixel whose status has its alert bit set has its hardware error register read
//! in the next cycle. The answers, taken at the cycle's end, become joint states and
//! faults; a servo that did not answer ages, and is lost after [`REPLY_TIMEOUT_TICKS`].
//! The bridge decides what each joint gets ([`Hold`]); servos take positions only, so a
//! velocity or torque command holds the joint still. The UART is reached only through
//! `embedded_io`.

use embody_protocol::messages::{
    BusStats, MAX_JOINTS, ServoActuatorSetup, ServoBusSetup, SetupError, WireCommand,
    WireJointState,
};
use embody_protocol::mit::MotorFaults;
use embody_protocol::servo_master::{self, MAX_PACKET, ServoFamily, StatusReader};
use heapless::Vec;

use crate::bridge::REPLY_TIMEOUT_TICKS;
use crate::drive_bus::Hold;

/// What a Dynamixel's status says of its hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alert {
    /// No alert bit.
    Clear,
    /// The alert bit is set; its hardware error register is not read yet.
    Unread,
    /// The alert bit is set and the register said these faults.
    Read(MotorFaults),
}

/// One servo and what the bus last saw of it.
#[derive(Clone, Copy, Debug)]
struct Servo {
    setup: ServoActuatorSetup,
    /// Its torque as last written.
    torque: bool,
    /// It answered this cycle's sync read.
    replied: bool,
    /// Faults its last status said outright.
    faults: MotorFaults,
    alert: Alert,
}

/// The servos of the bridge's servo bus. See the module docs.
pub struct ServoBus {
    setup: ServoBusSetup,
    /// In joint order.
    servos: Vec<Servo, MAX_JOINTS>,
    reader: StatusReader,
    running: bool,
    /// The torques are written this cycle whatever they were (the bus just started, or
    /// the last torque write was not sent).
    torque_unknown: bool,
    /// Stopped with torque maybe on: every servo is to be told to let go.
    release: bool,
    /// The servo whose hardware error register this cycle reads.
    asking: Option<usize>,
    packet: [u8; MAX_PACKET],
    stats: BusStats,
}

impl ServoBus {
    /// A bus set up as `setup` says, no servos yet; refused without a baud rate.
    pub fn new(setup: ServoBusSetup) -> Result<ServoBus, SetupError> {
        if setup.baud == 0 {
            return Err(SetupError::BadBuses);
        }
        Ok(ServoBus {
            setup,
            servos: Vec::new(),
            reader: StatusReader::new(setup.family),
            running: false,
            torque_unknown: true,
            release: false,
            asking: None,
            packet: [0; MAX_PACKET],
            stats: BusStats::default(),
        })
    }

    /// Whether joint `joint` is on this bus.
    pub fn has(&self, joint: u8) -> bool {
        self.servos.iter().any(|s| s.setup.joint == joint)
    }

    /// The bus time of a cycle (µs), with `extra` more servos.
    pub fn cycle_us(&self, extra: usize) -> u32 {
        let n = self.servos.len() + extra;
        let us = self.setup.family.tick_us(n, self.setup.baud);
        let whole = us as u32;
        whole.saturating_add(u32::from(f64::from(whole) < us))
    }

    /// Counters: packets sent, good answers, bad packets read, answers missed.
    pub fn stats(&self) -> BusStats {
        BusStats {
            cycle_us: self.cycle_us(0),
            ..self.stats
        }
    }

    /// Puts `servo` on the bus (in place of what its joint had); refused when it cannot
    /// be right or another joint's servo has its id. The bus starts over.
    pub fn add(&mut self, servo: ServoActuatorSetup) -> Result<(), SetupError> {
        if !servo.is_valid(self.setup.family) {
            return Err(SetupError::BadActuator);
        }
        let clash =
            (self.servos.iter()).any(|s| s.setup.joint != servo.joint && s.setup.id == servo.id);
        if clash {
            return Err(SetupError::DuplicateId);
        }
        self.remove(servo.joint);
        let at = (self.servos.iter())
            .position(|s| s.setup.joint > servo.joint)
            .unwrap_or(self.servos.len());
        let entry = Servo {
            setup: servo,
            torque: false,
            replied: false,
            faults: MotorFaults::NONE,
            alert: Alert::Clear,
        };
        self.halt();
        self.servos
            .insert(at, entry)
            .map_err(|_| SetupError::TooManyJoints)
    }

    /// Takes joint `joint`'s servo off the bus, if it is on it.
    pub fn remove(&mut self, joint: u8) {
        if let Some(k) = self.servos.iter().position(|s| s.setup.joint == joint) {
            self.servos.remove(k);
            self.halt();
        }
    }

    /// Its family.
    pub fn family(&self) -> ServoFamily {
        self.setup.family
    }

    /// Stops cycling; the next cycle tells every servo to let go.
    fn halt(&mut self) {
        self.release |= self.running;
        self.running = false;
    }

    /// Starts cycling, unless it runs: every servo's torque is written off first.
    pub fn start(&mut self) {
        if !self.running {
            self.running = true;
            self.release = false;
            self.torque_unknown = true;
            for s in &mut self.servos {
                s.alert = Alert::Clear;
            }
        }
    }

    /// Stops cycling: the next cycle tells every servo to let go, and then the bus is
    /// quiet.
    pub fn stop(&mut self) {
        self.halt();
    }

    /// Starts a cycle: `hold(joint)` says what each joint gets, `states` are the joints
    /// as last reported; the packets go to `port`.
    pub fn cycle<W: embedded_io::Write>(
        &mut self,
        port: &mut W,
        states: &[WireJointState],
        hold: impl Fn(u8) -> Hold,
    ) -> Result<(), W::Error> {
        let family = self.setup.family;
        if !self.running || self.servos.is_empty() {
            if self.release {
                release(family, port, &mut self.packet)?;
                self.stats.frames_tx += 1;
                self.release = false;
            }
            return Ok(());
        }
        let mut goals: Vec<(u8, f64), MAX_JOINTS> = Vec::new();
        let mut torque_changes = self.torque_unknown;
        for s in &mut self.servos {
            let at = states.get(usize::from(s.setup.joint)).map_or(0.0, |j| j.q);
            let (on, q) = target(hold(s.setup.joint), at);
            let turns = f64::from(s.setup.direction) * f64::from(q - s.setup.offset_rad)
                / f64::from(s.setup.travel_per_turn);
            // As many as there are servos.
            let _ = goals.push((s.setup.id, turns));
            torque_changes |= on != s.torque;
            s.torque = on;
            s.replied = false;
        }
        self.reader.reset();
        // Until the torques are sent, they are written again each cycle.
        self.torque_unknown = torque_changes;
        let ids: Vec<u8, MAX_JOINTS> = self.servos.iter().map(|s| s.setup.id).collect();
        if let Ok(n) = servo_master::goal_write(family, goals.into_iter(), &mut self.packet) {
            self.stats.frames_tx += 1;
            port.write_all(&self.packet[..n])?;
        }
        if torque_changes {
            let torques = self.servos.iter().map(|s| (s.setup.id, s.torque));
            if let Ok(n) = servo_master::torque_write(family, torques, &mut self.packet) {
                self.stats.frames_tx += 1;
                port.write_all(&self.packet[..n])?;
                self.torque_unknown = false;
            }
        }
        if let Ok(n) = servo_master::state_read(family, &ids, &mut self.packet) {
            self.stats.frames_tx += 1;
            port.write_all(&self.packet[..n])?;
        }
        self.asking = self.servos.iter().position(|s| s.alert == Alert::Unread);
        if let Some(k) = self.asking
            && let Ok(n) =
                servo_master::hardware_error_read(self.servos[k].setup.id, &mut self.packet)
        {
            self.stats.frames_tx += 1;
            port.write_all(&self.packet[..n])?;
        }
        Ok(())
    }

    /// Ends a cycle: takes every byte waiting on `port`; each answer becomes its joint's
    /// state in `states`, a servo that did not answer ages. Returns the servos that did
    /// not answer.
    pub fn finish<R: embedded_io::Read + embedded_io::ReadReady>(
        &mut self,
        port: &mut R,
        states: &mut [WireJointState],
    ) -> u32 {
        if !self.running || self.servos.is_empty() {
            return 0;
        }
        let mut buf = [0u8; 64];
        loop {
            match port.read_ready() {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => {
                    self.stats.bus_errors += 1;
                    break;
                }
            }
            let n = match port.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => {
                    self.stats.bus_errors += 1;
                    break;
                }
            };
            for &byte in &buf[..n] {
                match self.reader.push(byte) {
                    Some(true) => self.take(states),
                    Some(false) => self.stats.bus_errors += 1,
                    None => {}
                }
            }
        }
        let mut missed = 0;
        for s in &mut self.servos {
            let Some(state) = states.get_mut(usize::from(s.setup.joint)) else {
                continue;
            };
            if !s.replied {
                missed += 1;
                state.age_ticks = state.age_ticks.saturating_add(1);
            }
            let alert = match s.alert {
                Alert::Clear => MotorFaults::NONE,
                // Not read yet: faulted all the same, its torque is off.
                Alert::Unread => MotorFaults::UNKNOWN,
                Alert::Read(faults) => faults,
            };
            let mut faults = s.faults.union(alert);
            if state.age_ticks >= REPLY_TIMEOUT_TICKS {
                faults = faults.union(MotorFaults::COMMS_LOST);
            }
            state.faults = faults;
        }
        self.stats.missed_replies += missed;
        missed
    }

    /// Takes the status packet just read.
    fn take(&mut self, states: &mut [WireJointState]) {
        let family = self.setup.family;
        let Some((id, error, data)) = self.reader.status() else {
            self.stats.bus_errors += 1;
            return;
        };
        let Some(k) = self.servos.iter().position(|s| s.setup.id == id) else {
            return;
        };
        self.stats.frames_rx += 1;
        let s = &mut self.servos[k];
        if self.asking == Some(k) && data.len() == 1 {
            // The hardware error register; a register naming no fault known here still
            // leaves the joint faulted, as overloaded (the commonest cause).
            let faults = servo_master::hardware_faults(data[0]);
            s.alert = match faults == MotorFaults::NONE {
                true => Alert::Read(MotorFaults::OVERLOAD),
                false => Alert::Read(faults),
            };
            return;
        }
        let Some(present) = servo_master::present(family, data) else {
            return;
        };
        s.alert = match (servo_master::alert(family, error), s.alert) {
            (false, _) => Alert::Clear,
            (true, Alert::Read(faults)) => Alert::Read(faults),
            (true, _) => Alert::Unread,
        };
        s.faults = servo_master::status_faults(family, error);
        s.replied = true;
        let Some(state) = states.get_mut(usize::from(s.setup.joint)) else {
            return;
        };
        let (dir, travel) = (
            f64::from(s.setup.direction),
            f64::from(s.setup.travel_per_turn),
        );
        state.q = (dir * present.turns * travel) as f32 + s.setup.offset_rad;
        state.dq = (dir * present.turns_per_s * travel) as f32;
        state.tau = (dir * present.effort_nm) as f32;
        state.age_ticks = 0;
    }
}

/// Tells every servo of `family` on `port` to let go (a broadcast torque off).
pub fn release<W: embedded_io::Write>(
    family: ServoFamily,
    port: &mut W,
    packet: &mut [u8],
) -> Result<(), W::Error> {
    match servo_master::torque_off_all(family, packet) {
        Ok(n) => port.write_all(&packet[..n]),
        Err(_) => Ok(()),
    }
}

/// Whether a servo's torque is on for `hold`, and its joint's goal; `at` is where the
/// joint is. A command a servo cannot follow, or one not finite, holds it still.
fn target(hold: Hold, at: f32) -> (bool, f32) {
    match hold {
        Hold::Off | Hold::Command(WireCommand::Off) => (false, at),
        Hold::Command(WireCommand::Position { q } | WireCommand::Impedance { q, .. })
            if q.is_finite() =>
        {
            (true, q)
        }
        Hold::Still | Hold::Command(_) => (true, at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servo(joint: u8, id: u8) -> ServoActuatorSetup {
        ServoActuatorSetup {
            joint,
            id,
            travel_per_turn: core::f32::consts::TAU,
            direction: -1,
            offset_rad: 0.5,
        }
    }

    #[test]
    fn a_bus_takes_servos_that_can_be_right_in_joint_order() {
        let setup = ServoBusSetup {
            family: ServoFamily::Feetech,
            baud: 1_000_000,
        };
        assert!(ServoBus::new(ServoBusSetup { baud: 0, ..setup }).is_err());
        let mut b = ServoBus::new(setup).expect("a baud rate");
        assert_eq!(b.add(servo(2, 3)), Ok(()));
        assert_eq!(b.add(servo(0, 1)), Ok(()));
        assert_eq!(b.add(servo(1, 3)), Err(SetupError::DuplicateId));
        assert_eq!(b.add(servo(1, 254)), Err(SetupError::BadActuator));
        let zero = ServoActuatorSetup {
            travel_per_turn: 0.0,
            ..servo(1, 2)
        };
        assert_eq!(b.add(zero), Err(SetupError::BadActuator));
        assert_eq!(b.add(servo(2, 4)), Ok(()));
        assert!(b.servos.iter().map(|s| s.setup.joint).eq([0, 2]));
        // Two STS servos at 1 Mbaud: (6+2+6) + (6+2+2) + 2·12 = 48 bytes, 480 µs.
        assert_eq!(b.cycle_us(0), 480);
    }

    #[test]
    fn commands_become_torque_and_goals() {
        let command = |c| Hold::Command(c);
        assert_eq!(target(Hold::Off, 0.25), (false, 0.25));
        assert_eq!(target(Hold::Still, 0.25), (true, 0.25));
        assert_eq!(
            target(command(WireCommand::Position { q: 1.0 }), 0.25),
            (true, 1.0)
        );
        assert_eq!(
            target(command(WireCommand::Velocity { dq: 1.0 }), 0.25),
            (true, 0.25)
        );
        assert_eq!(
            target(command(WireCommand::Position { q: f32::NAN }), 0.25),
            (true, 0.25)
        );
        assert_eq!(target(command(WireCommand::Off), 0.25), (false, 0.25));
    }
}
