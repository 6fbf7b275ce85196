//! A bus of CiA 402 drives as the bridge runs it: the drives configured on it (joint,
//! node, counts, direction, offset), the [`DriveMaster`] that sets them up and drives
//! them once the bridge's configuration is complete, the loop's commands as their
//! targets (joint frame to drive frame), and their reports as joint states and faults.
//! The bridge decides what each joint gets ([`Hold`]); this module turns it into frames.

use embody_protocol::CanFrame;
use embody_protocol::budget::drive_cycle_us;
use embody_protocol::canopen::cia402::Mode;
use embody_protocol::cia402_master::{self, DriveFailure, MASTER_NODE};
use embody_protocol::messages::{
    DriveActuatorSetup, DriveBusSetup, MAX_JOINTS, SetupError, WireCommand, WireJointState,
};
use embody_protocol::mit::MotorFaults;
use heapless::Vec;

use crate::bridge::REPLY_TIMEOUT_TICKS;
use crate::drive_master::{DriveMaster, DriveSetup, JointTarget, MasterSetup, Phase};

/// What the bridge asks of a drive this cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hold {
    /// Not driven (unconfigured, idle, or disabled by the watchdog).
    Off,
    /// The watchdog's damping: stand still where it is (CSP holds its position, CSV
    /// asks zero velocity; CST lets go, onto the drive's brake).
    Still,
    /// The loop's command.
    Command(WireCommand),
}

/// One drive and what the bus last saw of it.
#[derive(Clone, Copy, Debug)]
struct Drive {
    setup: DriveActuatorSetup,
    /// TPDO1 samples at the last cycle's end.
    seen: u32,
    /// Its failure has been told to the host.
    told: bool,
}

/// The drives of one bus. See the module docs.
pub struct DriveBus {
    setup: DriveBusSetup,
    /// In joint order.
    drives: Vec<Drive, MAX_JOINTS>,
    master: Option<DriveMaster>,
}

impl DriveBus {
    /// A bus set up as `setup` says, no drives yet; refused unless its mode is a cyclic
    /// one.
    pub fn new(setup: DriveBusSetup) -> Result<DriveBus, SetupError> {
        match setup.mode {
            Mode::CyclicPosition | Mode::CyclicVelocity | Mode::CyclicTorque => Ok(DriveBus {
                setup,
                drives: Vec::new(),
                master: None,
            }),
            _ => Err(SetupError::DriveMode),
        }
    }

    /// Whether joint `joint` is on this bus.
    pub fn has(&self, joint: u8) -> bool {
        self.drives.iter().any(|d| d.setup.joint == joint)
    }

    /// Worst-case bus time of a cycle (µs) at `bitrate`, with `extra` more drives.
    pub fn cycle_us(&self, bitrate: u32, extra: usize) -> u32 {
        let n = (self.drives.len() + extra) as u32;
        drive_cycle_us(self.setup.mode, self.setup.layout, n, bitrate)
    }

    /// Puts `drive` on the bus (in place of what its joint had); refused when it cannot
    /// be right or another joint's drive has its node id. The master starts over.
    pub fn add(&mut self, drive: DriveActuatorSetup) -> Result<(), SetupError> {
        if !drive.is_valid() {
            return Err(SetupError::BadActuator);
        }
        let clash = (self.drives.iter())
            .any(|d| d.setup.joint != drive.joint && d.setup.node == drive.node);
        if clash {
            return Err(SetupError::DuplicateId);
        }
        self.remove(drive.joint);
        let at = (self.drives.iter())
            .position(|d| d.setup.joint > drive.joint)
            .unwrap_or(self.drives.len());
        let entry = Drive {
            setup: drive,
            seen: 0,
            told: false,
        };
        self.drives
            .insert(at, entry)
            .map_err(|_| SetupError::TooManyJoints)
    }

    /// Takes joint `joint`'s drive off the bus, if it is on it.
    pub fn remove(&mut self, joint: u8) {
        if let Some(k) = self.drives.iter().position(|d| d.setup.joint == joint) {
            self.drives.remove(k);
            self.master = None;
        }
    }

    /// Starts the master, unless it runs: it finds and sets up every drive.
    pub fn start(&mut self) {
        if self.master.is_some() {
            return;
        }
        let drives = (self.drives.iter_mut())
            .map(|d| {
                (d.seen, d.told) = (0, false);
                DriveSetup {
                    node: d.setup.node,
                    counts_per_unit: d.setup.counts_per_unit,
                }
            })
            .collect();
        let setup = MasterSetup {
            drives,
            mode: self.setup.mode,
            layout: self.setup.layout,
            heartbeat_ms: self.setup.heartbeat_ms,
            host_node: MASTER_NODE,
        };
        // Every drive was checked as it came: the master takes them.
        self.master = DriveMaster::new(setup).ok();
    }

    /// Stops the master: the drives are left to their heartbeat watch.
    pub fn stop(&mut self) {
        self.master = None;
    }

    /// One cycle at `now_us`, `period_s` after the last: `hold(joint, state)` says what
    /// each joint gets, `states` are the joints as last reported; frames go to `send`.
    pub fn cycle(
        &mut self,
        now_us: u64,
        period_s: f32,
        states: &[WireJointState],
        hold: impl Fn(u8) -> Hold,
        send: impl FnMut(CanFrame),
    ) {
        let Some(master) = &mut self.master else {
            return;
        };
        let mode = self.setup.mode;
        let mut targets: Vec<JointTarget, MAX_JOINTS> = Vec::new();
        for d in &self.drives {
            let state = states.get(usize::from(d.setup.joint)).copied();
            let target = target(
                mode,
                &d.setup,
                hold(d.setup.joint),
                &state.unwrap_or_default(),
            );
            // As many as there are drives.
            let _ = targets.push(target);
        }
        master.cycle(now_us, period_s, &targets, send);
    }

    /// Takes one frame off the bus at `now_us`.
    pub fn take(&mut self, frame: &CanFrame, now_us: u64) {
        if let Some(master) = &mut self.master {
            master.take(frame, now_us);
        }
    }

    /// Ends a cycle: each drive's report becomes its joint's state in `states` (a drive
    /// that sent no sample ages, and is lost after [`REPLY_TIMEOUT_TICKS`]); a drive
    /// given up on goes to `failed` once. Returns the drives that sent no sample.
    pub fn finish(
        &mut self,
        states: &mut [WireJointState],
        mut failed: impl FnMut(u8, DriveFailure),
    ) -> u32 {
        let Some(master) = &self.master else {
            return 0;
        };
        let mut missed = 0;
        for (k, d) in self.drives.iter_mut().enumerate() {
            let (Some(report), Some(phase)) = (master.state(k), master.phase(k)) else {
                continue;
            };
            let Some(state) = states.get_mut(usize::from(d.setup.joint)) else {
                continue;
            };
            let fresh = phase == Phase::Running && report.samples != d.seen;
            d.seen = report.samples;
            if fresh {
                let dir = f32::from(d.setup.direction);
                state.q = dir * report.q + d.setup.offset_rad;
                state.dq = dir * report.dq;
                state.tau = dir * report.tau;
                state.age_ticks = 0;
            } else {
                missed += 1;
                state.age_ticks = state.age_ticks.saturating_add(1);
            }
            let mut faults = match (report.fault, report.error_code) {
                (false, _) => MotorFaults::NONE,
                (true, 0) => MotorFaults::UNKNOWN,
                (true, code) => cia402_master::motor_faults(code),
            };
            if let Phase::Failed(why) = phase {
                if !d.told {
                    d.told = true;
                    failed(d.setup.joint, why);
                }
                faults = faults.union(MotorFaults::COMMS_LOST);
            }
            if report.heartbeat_lost || state.age_ticks >= REPLY_TIMEOUT_TICKS {
                faults = faults.union(MotorFaults::COMMS_LOST);
            }
            state.faults = faults;
        }
        missed
    }
}

/// What drive `d` in `mode` is sent for `hold`, its joint at `state`: joint frame to
/// drive frame (`p = direction·(q − offset)`). A command of another mode, or one not
/// finite, holds the joint still; CST's impedance is worked out here, as an MIT motor
/// would.
fn target(mode: Mode, d: &DriveActuatorSetup, hold: Hold, state: &WireJointState) -> JointTarget {
    let dir = f32::from(d.direction);
    let position = |q: f32| JointTarget::Position(dir * (q - d.offset_rad));
    let still = match mode {
        Mode::CyclicVelocity => JointTarget::Velocity(0.0),
        Mode::CyclicTorque => JointTarget::Off,
        _ => position(state.q),
    };
    let command = match hold {
        Hold::Off => return JointTarget::Off,
        Hold::Still => return still,
        Hold::Command(command) => command,
    };
    let wanted = match (mode, command) {
        (_, WireCommand::Off) => JointTarget::Off,
        (Mode::CyclicPosition, WireCommand::Position { q } | WireCommand::Impedance { q, .. }) => {
            position(q)
        }
        (
            Mode::CyclicVelocity,
            WireCommand::Velocity { dq } | WireCommand::Impedance { dq, .. },
        ) => JointTarget::Velocity(dir * dq),
        (Mode::CyclicTorque, WireCommand::Torque { tau }) => JointTarget::Torque(dir * tau),
        (
            Mode::CyclicTorque,
            WireCommand::Impedance {
                q,
                dq,
                kp,
                kd,
                tau_ff,
            },
        ) => JointTarget::Torque(dir * (kp * (q - state.q) + kd * (dq - state.dq) + tau_ff)),
        _ => still,
    };
    let finite = match wanted {
        JointTarget::Off => true,
        JointTarget::Position(v) | JointTarget::Velocity(v) | JointTarget::Torque(v) => {
            v.is_finite()
        }
    };
    if finite { wanted } else { still }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(joint: u8, node: u8) -> DriveActuatorSetup {
        DriveActuatorSetup {
            joint,
            bus: 0,
            node,
            counts_per_unit: 1000.0,
            direction: -1,
            offset_rad: 0.5,
        }
    }

    fn bus(mode: Mode) -> DriveBus {
        DriveBus::new(DriveBusSetup {
            bus: 0,
            mode,
            layout: cia402_master::PdoLayout::Compact,
            heartbeat_ms: 50,
        })
        .expect("a cyclic mode")
    }

    #[test]
    fn a_bus_takes_drives_that_can_be_right_in_joint_order() {
        assert_eq!(
            DriveBus::new(DriveBusSetup {
                mode: Mode::ProfilePosition,
                ..bus(Mode::CyclicPosition).setup
            })
            .err(),
            Some(SetupError::DriveMode)
        );
        let mut b = bus(Mode::CyclicPosition);
        assert_eq!(b.add(drive(2, 3)), Ok(()));
        assert_eq!(b.add(drive(0, 1)), Ok(()));
        assert_eq!(b.add(drive(1, 3)), Err(SetupError::DuplicateId));
        assert_eq!(b.add(drive(1, 0)), Err(SetupError::BadActuator));
        let nan = DriveActuatorSetup {
            counts_per_unit: f32::NAN,
            ..drive(1, 2)
        };
        assert_eq!(b.add(nan), Err(SetupError::BadActuator));
        // The same joint again replaces its drive, node and all.
        assert_eq!(b.add(drive(2, 4)), Ok(()));
        assert!(b.drives.iter().map(|d| d.setup.joint).eq([0, 2]));
        assert_eq!(b.drives[1].setup.node, 4);
        b.remove(0);
        assert!(!b.has(0) && b.has(2) && b.drives.len() == 1);
    }

    #[test]
    fn commands_become_targets_in_the_drive_frame() {
        let d = drive(0, 1);
        let at = WireJointState {
            q: 0.25,
            dq: 0.125,
            ..WireJointState::default()
        };
        let csp = |hold| target(Mode::CyclicPosition, &d, hold, &at);
        let command = |c| Hold::Command(c);
        // p = −(q − 0.5), in values a float holds exactly.
        assert_eq!(
            csp(command(WireCommand::Position { q: 0.75 })),
            JointTarget::Position(-0.25)
        );
        assert_eq!(csp(Hold::Still), JointTarget::Position(0.25));
        assert_eq!(
            csp(command(WireCommand::Velocity { dq: 1.0 })),
            JointTarget::Position(0.25)
        );
        assert_eq!(
            csp(command(WireCommand::Position { q: f32::NAN })),
            JointTarget::Position(0.25)
        );
        assert_eq!(csp(Hold::Off), JointTarget::Off);
        assert_eq!(csp(command(WireCommand::Off)), JointTarget::Off);
        let csv = |hold| target(Mode::CyclicVelocity, &d, hold, &at);
        assert_eq!(
            csv(command(WireCommand::Velocity { dq: 2.0 })),
            JointTarget::Velocity(-2.0)
        );
        assert_eq!(csv(Hold::Still), JointTarget::Velocity(0.0));
        let cst = |hold| target(Mode::CyclicTorque, &d, hold, &at);
        // τ = 8·(0.375 − 0.25) + 2·(0 − 0.125) + 1 = 1.75, turned round.
        let impedance = WireCommand::Impedance {
            q: 0.375,
            dq: 0.0,
            kp: 8.0,
            kd: 2.0,
            tau_ff: 1.0,
        };
        assert_eq!(cst(command(impedance)), JointTarget::Torque(-1.75));
        assert_eq!(cst(Hold::Still), JointTarget::Off);
    }
}
