//! The bridge's CANopen master for the CiA 402 drives on one of its buses, cycle by
//! cycle and never blocking: it finds and sets up each drive by SDO (device type,
//! supported modes and rated torque read; then [`cia402_master::configuration`]'s
//! writes), one request outstanding per drive and asked again after a timeout, then
//! starts it (NMT) and, each cycle, sends every running drive its RPDO, one SYNC and
//! the master's heartbeat when due. TPDOs, emergencies and heartbeats that come back
//! become each joint's position, velocity, torque and faults; a drive that boots again
//! (its boot-up message) is set up again. The master, the
//! configuration and the controlword's walk are [`cia402_master`]'s, shared with the
//! host's `Cia402Robot`. Time is the caller's (`now_us`).

use embody_protocol::CanFrame;
use embody_protocol::canopen::cia402::{self, Mode, State};
use embody_protocol::canopen::{
    self, Address, Message, NmtCommand, NmtState, SdoRequest, SdoResponse,
};
pub use embody_protocol::cia402_master::DriveFailure;
use embody_protocol::cia402_master::{
    self, CompactVelocity, PdoLayout, SdoWrite, Target, Tpdo1, Tpdo2,
};
use embody_protocol::messages::MAX_JOINTS;
use heapless::Vec;

/// How long an SDO answer may take before the request is sent again.
pub const SDO_TIMEOUT_US: u64 = 100_000;
/// How many times a request is sent before its drive is taken as missing.
pub const SDO_TRIES: u8 = 3;

/// How a drive's joint reads in the drive's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriveSetup {
    /// Its node id (1–127).
    pub node: u8,
    /// Encoder increments per joint unit (rad or m), gear included.
    pub counts_per_unit: f32,
}

/// What the drives of one bus are set up for.
#[derive(Clone, Debug, PartialEq)]
pub struct MasterSetup {
    /// One drive per joint, in joint order.
    pub drives: Vec<DriveSetup, MAX_JOINTS>,
    /// The cyclic mode every drive runs.
    pub mode: Mode,
    /// What the TPDOs carry.
    pub layout: PdoLayout,
    /// How often drives and master send heartbeats (ms); 0: none.
    pub heartbeat_ms: u16,
    /// The node id the master's heartbeat carries.
    pub host_node: u8,
}

/// Why a [`MasterSetup`] is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MasterSetupError {
    /// A node id outside 1–127.
    Node(u8),
    /// Two joints' drives on one node id.
    SameNode(u8),
    /// Joint `k`'s counts per unit are not a positive finite number.
    Counts(usize),
}

/// Where a drive is in its bring-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading its device type, modes and rated torque, then writing its configuration:
    /// at request `step`.
    Setting(u8),
    /// Started; its PDOs run each cycle.
    Running,
    /// Given up on.
    Failed(DriveFailure),
}

/// What the loop asks of a joint this cycle, in joint units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JointTarget {
    /// Not driven: the drive goes back to ready to switch on.
    Off,
    /// CSP: a position.
    Position(f32),
    /// CSV: a velocity.
    Velocity(f32),
    /// CST: a torque (N·m or N).
    Torque(f32),
}

/// A joint as its drive reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DriveState {
    /// Position, velocity, torque in joint units.
    pub q: f32,
    /// Velocity (the compact layout: from the last positions).
    pub dq: f32,
    /// Torque (the full layout only).
    pub tau: f32,
    /// Whether the drive is in fault (or fault reaction).
    pub fault: bool,
    /// The last error code it sent (EMCY or TPDO2).
    pub error_code: u16,
    /// Its heartbeat is overdue, or says it is not operational.
    pub heartbeat_lost: bool,
    /// TPDO1s taken since it was last set up (a fresh sample each time it moves on).
    pub samples: u32,
}

/// The reads before the configuration's writes.
const READS: [Address; 3] = [
    Address::new(0x1000, 0),
    cia402::SUPPORTED_DRIVE_MODES,
    cia402::MOTOR_RATED_TORQUE,
];

/// One drive as the master sees it.
#[derive(Clone, Debug)]
struct Drive {
    setup: DriveSetup,
    phase: Phase,
    /// When the outstanding request was sent, and how many times.
    asked: Option<(u64, u8)>,
    /// Rated torque (N·m), 1 until the drive says.
    rated: f32,
    state: State,
    controlword: u16,
    tripped: bool,
    report: DriveState,
    /// The compact layout's velocity.
    velocity: CompactVelocity,
    /// When its last heartbeat came, and in which state.
    heartbeat: Option<(u64, NmtState)>,
}

/// The CiA 402 drives of one bus. See the module docs.
#[derive(Clone, Debug)]
pub struct DriveMaster {
    setup: MasterSetup,
    drives: Vec<Drive, MAX_JOINTS>,
    started: bool,
    last_heartbeat_us: Option<u64>,
    period_s: f32,
    /// Frames that were not CANopen, or TPDOs too short.
    pub bad_frames: u32,
}

impl DriveMaster {
    /// The master of `setup`'s drives, none found yet; refused when a node id or a
    /// drive's counts cannot be right.
    pub fn new(setup: MasterSetup) -> Result<DriveMaster, MasterSetupError> {
        for (k, d) in setup.drives.iter().enumerate() {
            if !(1..=canopen::MAX_NODE).contains(&d.node) {
                return Err(MasterSetupError::Node(d.node));
            }
            if setup.drives[..k].iter().any(|e| e.node == d.node) {
                return Err(MasterSetupError::SameNode(d.node));
            }
            if !(d.counts_per_unit.is_finite() && d.counts_per_unit > 0.0) {
                return Err(MasterSetupError::Counts(k));
            }
        }
        let mut drives = Vec::new();
        for d in &setup.drives {
            // As many as `setup.drives` holds.
            let _ = drives.push(Drive {
                setup: *d,
                phase: Phase::Setting(0),
                asked: None,
                rated: 1.0,
                state: State::SwitchOnDisabled,
                controlword: cia402::DISABLE_VOLTAGE,
                tripped: false,
                report: DriveState::default(),
                velocity: CompactVelocity::default(),
                heartbeat: None,
            });
        }
        Ok(DriveMaster {
            setup,
            drives,
            started: false,
            last_heartbeat_us: None,
            period_s: 0.001,
            bad_frames: 0,
        })
    }

    /// Drive `k`'s phase.
    pub fn phase(&self, k: usize) -> Option<Phase> {
        self.drives.get(k).map(|d| d.phase)
    }

    /// Whether every drive runs.
    pub fn running(&self) -> bool {
        self.drives.iter().all(|d| d.phase == Phase::Running)
    }

    /// Joint `k` as its drive last said.
    pub fn state(&self, k: usize) -> Option<DriveState> {
        self.drives.get(k).map(|d| d.report)
    }

    /// One cycle at `now_us`, `period_s` after the last: the set-up requests due, and
    /// for every running drive its RPDO towards `targets[k]` (a joint past its end: off),
    /// then one SYNC and the master's heartbeat when due. Frames go to `send` in order.
    pub fn cycle(
        &mut self,
        now_us: u64,
        period_s: f32,
        targets: &[JointTarget],
        mut send: impl FnMut(CanFrame),
    ) {
        self.period_s = period_s;
        if !self.started {
            // Every drive to pre-operational, whatever it was left in.
            send(NmtCommand::EnterPreOperational.frame(0));
            self.started = true;
        }
        let mut any_running = false;
        for k in 0..self.drives.len() {
            match self.drives[k].phase {
                Phase::Setting(step) => self.set_up(k, step, now_us, &mut send),
                Phase::Running => {
                    any_running = true;
                    let target = targets.get(k).copied().unwrap_or(JointTarget::Off);
                    send(self.rpdo(k, target));
                }
                Phase::Failed(_) => {}
            }
        }
        if any_running {
            send(canopen::sync_frame());
        }
        let period = u64::from(self.setup.heartbeat_ms) * 1000;
        if period > 0
            && self
                .last_heartbeat_us
                .is_none_or(|t| now_us.saturating_sub(t) >= period)
        {
            send(NmtState::Operational.heartbeat(self.setup.host_node));
            self.last_heartbeat_us = Some(now_us);
        }
        for d in &mut self.drives {
            d.report.heartbeat_lost = d.phase == Phase::Running
                && period > 0
                && match d.heartbeat {
                    Some((at, NmtState::Operational)) => now_us.saturating_sub(at) > 3 * period,
                    // None yet: the first comes within a period of the start.
                    None => false,
                    Some(_) => true,
                };
        }
    }

    /// Drive `k`'s set-up request `step`, when none is outstanding or it timed out.
    fn set_up(&mut self, k: usize, step: u8, now_us: u64, send: &mut impl FnMut(CanFrame)) {
        let d = &mut self.drives[k];
        let tries = match d.asked {
            Some((at, _)) if now_us.saturating_sub(at) < SDO_TIMEOUT_US => return,
            Some((_, tries)) if tries >= SDO_TRIES => {
                d.phase = Phase::Failed(DriveFailure::Silent);
                return;
            }
            Some((_, tries)) => tries + 1,
            None => 1,
        };
        let node = d.setup.node;
        let request = match step_address(&self.setup, node, step) {
            Some((at, None)) => SdoRequest::UploadInitiate(at),
            Some((at, Some(w))) => SdoRequest::DownloadExpedited(at, w.value),
            None => {
                // All written: start it.
                send(NmtCommand::Start.frame(node));
                d.phase = Phase::Running;
                d.asked = None;
                return;
            }
        };
        send(request.frame(node));
        d.asked = Some((now_us, tries));
    }

    /// Drive `k`'s RPDO towards `target`.
    fn rpdo(&mut self, k: usize, target: JointTarget) -> CanFrame {
        let mode = self.setup.mode;
        let d = &mut self.drives[k];
        let commanded = target != JointTarget::Off;
        let (word, tripped) =
            cia402_master::controlword(d.state, d.controlword, commanded, d.tripped);
        (d.controlword, d.tripped) = (word, tripped);
        let counts = |v: f32| nearest(v * d.setup.counts_per_unit);
        let torque = |tau: f32| {
            let permille = nearest(tau / d.rated * 1000.0);
            Target::Torque(permille.clamp(-32768, 32767) as i16)
        };
        let target = match (mode, target) {
            (Mode::CyclicTorque, JointTarget::Torque(tau)) => torque(tau),
            (Mode::CyclicTorque, _) => torque(0.0),
            (Mode::CyclicVelocity, JointTarget::Velocity(dq)) => Target::Velocity(counts(dq)),
            (Mode::CyclicVelocity, _) => Target::Velocity(0),
            (_, JointTarget::Position(q)) => Target::Position(counts(q)),
            // Off, or a target of another mode: hold where it is.
            (_, _) => Target::Position(counts(d.report.q)),
        };
        cia402_master::rpdo1(d.setup.node, word, target)
    }

    /// Takes one frame off the bus at `now_us`.
    pub fn take(&mut self, frame: &CanFrame, now_us: u64) {
        let Ok(message) = Message::classify(frame) else {
            self.bad_frames += 1;
            return;
        };
        let find = |node: u8| self.drives.iter().position(|d| d.setup.node == node);
        match message {
            Message::SdoResponse { node, response } => {
                if let Some(k) = find(node) {
                    self.answered(k, response);
                }
            }
            Message::Tpdo { pdo, node, data } => {
                if let Some(k) = find(node)
                    && self.drives[k].phase == Phase::Running
                    && let Err(()) = self.take_tpdo(k, pdo, data)
                {
                    self.bad_frames += 1;
                }
            }
            Message::Emergency { node, emergency } => {
                if let Some(k) = find(node) {
                    self.drives[k].report.error_code = emergency.code;
                }
            }
            Message::Heartbeat { node, state } => {
                if let Some(k) = find(node) {
                    let d = &mut self.drives[k];
                    d.heartbeat = Some((now_us, state));
                    // Booted again (reset, or back on the bus): its configuration is
                    // gone, so it is set up again from the start.
                    if state == NmtState::BootUp && d.phase != Phase::Setting(0) {
                        d.phase = Phase::Setting(0);
                        (d.asked, d.heartbeat) = (None, None);
                        d.velocity = CompactVelocity::default();
                        d.state = State::SwitchOnDisabled;
                    }
                }
            }
            _ => {}
        }
    }

    /// Drive `k`'s answer to its outstanding set-up request.
    fn answered(&mut self, k: usize, response: SdoResponse) {
        let d = &mut self.drives[k];
        let (Phase::Setting(step), Some(_)) = (d.phase, d.asked) else {
            return;
        };
        let Some((asked, _)) = step_address(&self.setup, d.setup.node, step) else {
            return;
        };
        let next = Phase::Setting(step + 1);
        d.phase = match (step, response) {
            (0, SdoResponse::UploadExpedited(at, v)) if at == asked => match v.as_u32() & 0xFFFF {
                0x0192 => next,
                _ => Phase::Failed(DriveFailure::NotADrive(v.as_u32())),
            },
            (1, SdoResponse::UploadExpedited(at, v)) if at == asked => {
                match v.as_u32() & self.setup.mode.supported_bit() {
                    0 => Phase::Failed(DriveFailure::Mode(v.as_u32())),
                    _ => next,
                }
            }
            (2, SdoResponse::UploadExpedited(at, v)) if at == asked => {
                if v.as_u32() > 0 {
                    d.rated = v.as_u32() as f32 / 1000.0;
                }
                next
            }
            // A drive without a rated torque object: taken as 1 N·m per thousand.
            (2, SdoResponse::Abort(at, _)) if at == asked => next,
            (_, SdoResponse::DownloadInitiated(at)) if at == asked => next,
            (_, SdoResponse::Abort(at, code)) if at == asked => {
                Phase::Failed(DriveFailure::Refused(at, code))
            }
            // An answer to something else: the request stays outstanding.
            _ => return,
        };
        d.asked = None;
    }

    fn take_tpdo(&mut self, k: usize, pdo: u8, data: &[u8]) -> Result<(), ()> {
        let layout = self.setup.layout;
        let rate_hz = 1.0 / self.period_s.max(1e-6);
        let d = &mut self.drives[k];
        let counts = d.setup.counts_per_unit;
        match (pdo, layout) {
            (0, _) => {
                let tpdo = Tpdo1::decode(data, layout).map_err(|_| ())?;
                d.state = State::from_statusword(tpdo.statusword).unwrap_or(State::Fault);
                d.report.fault = matches!(d.state, State::Fault | State::FaultReactionActive);
                let q = tpdo.position as f32 / counts;
                match tpdo.torque {
                    Some(t) => d.report.tau = f32::from(t) * d.rated / 1000.0,
                    None => {
                        let rate = f64::from(rate_hz);
                        d.report.dq = (d.velocity.take(tpdo.position, rate) as f32) / counts;
                    }
                }
                d.report.q = q;
                d.report.samples = d.report.samples.wrapping_add(1);
            }
            (1, PdoLayout::Full) => {
                let tpdo = Tpdo2::decode(data).map_err(|_| ())?;
                d.report.dq = tpdo.velocity as f32 / counts;
                if tpdo.error_code != 0 {
                    d.report.error_code = tpdo.error_code;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// `v` to the nearest integer, halves away from zero (`f32::round` is std's, not
/// core's); past the range of `i32`, its end; NaN, 0.
fn nearest(v: f32) -> i32 {
    let half = if v < 0.0 { -0.5 } else { 0.5 };
    (v + half) as i32
}

/// The object of drive `node`'s set-up request `step` (one of [`READS`], then its
/// configuration's writes, worked out again rather than kept: RAM is short on an MCU),
/// with the write when it is one; none past the last.
fn step_address(setup: &MasterSetup, node: u8, step: u8) -> Option<(Address, Option<SdoWrite>)> {
    let step = usize::from(step);
    if let Some(at) = READS.get(step) {
        return Some((*at, None));
    }
    let writes = cia402_master::configuration(
        node,
        setup.mode,
        setup.layout,
        setup.heartbeat_ms,
        setup.host_node,
    );
    (writes.get(step - READS.len())).map(|w| (w.at, Some(*w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_protocol::CanId;
    use proptest::prelude::*;

    fn master() -> DriveMaster {
        let drives = (1..=3)
            .map(|node| DriveSetup {
                node,
                counts_per_unit: 20860.76,
            })
            .collect();
        DriveMaster::new(MasterSetup {
            drives,
            mode: Mode::CyclicPosition,
            layout: PdoLayout::Full,
            heartbeat_ms: 50,
            host_node: 0x7F,
        })
        .expect("a good setup")
    }

    #[test]
    fn setups_that_cannot_be_right_are_refused() {
        let one = |node, counts_per_unit| DriveSetup {
            node,
            counts_per_unit,
        };
        let setup = |drives: &[DriveSetup]| MasterSetup {
            drives: drives.iter().copied().collect(),
            ..master().setup
        };
        let refused = |drives: &[DriveSetup]| DriveMaster::new(setup(drives)).err();
        assert_eq!(refused(&[one(0, 1.0)]), Some(MasterSetupError::Node(0)));
        assert_eq!(refused(&[one(128, 1.0)]), Some(MasterSetupError::Node(128)));
        assert_eq!(
            refused(&[one(3, 1.0), one(3, 1.0)]),
            Some(MasterSetupError::SameNode(3))
        );
        assert_eq!(
            refused(&[one(1, 1.0), one(2, 0.0)]),
            Some(MasterSetupError::Counts(1))
        );
        assert_eq!(
            refused(&[one(1, f32::NAN)]),
            Some(MasterSetupError::Counts(0))
        );
        assert_eq!(refused(&[one(1, 1.0), one(127, 1e6)]), None);
    }

    #[test]
    fn targets_round_to_the_nearest_count() {
        assert_eq!(nearest(2.5), 3);
        assert_eq!(nearest(-2.5), -3);
        assert_eq!(nearest(2.49), 2);
        assert_eq!(nearest(-0.2), 0);
        assert_eq!(nearest(1e12), i32::MAX);
        assert_eq!(nearest(f32::NAN), 0);
    }

    proptest! {
        /// Any frames, in any phase: counted or taken, never a panic.
        #[test]
        fn any_frames_are_taken_without_a_panic(
            frames in proptest::collection::vec((0u16..0x800, proptest::collection::vec(any::<u8>(), 0..=8)), 0..200),
        ) {
            let mut m = master();
            for (k, (id, data)) in frames.iter().enumerate() {
                let now = k as u64 * 1000;
                m.cycle(now, 0.001, &[JointTarget::Position(0.1)], |_| {});
                if let Ok(frame) = CanFrame::new(CanId::Standard(*id), data) {
                    m.take(&frame, now);
                }
                for j in 0..3 {
                    let s = m.state(j).expect("a joint");
                    prop_assert!(s.q.is_finite() && s.dq.is_finite() && s.tau.is_finite());
                }
            }
        }
    }
}
