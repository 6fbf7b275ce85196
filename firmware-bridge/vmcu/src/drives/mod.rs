//! Simulated CiA 402 servo drives on a CAN bus: one per actuated joint of a simulated
//! robot, node ids 1, 2, … in joint order, each with its object dictionary
//! ([`dictionary`], described by the EDS [`Drives::eds`] writes). They speak CANopen as
//! drives do: NMT (boot-up, pre-operational, operational, stopped, resets), heartbeats
//! produced and consumed (a silent master faults the drive), an SDO server (expedited
//! and segmented, aborting with CiA 301's codes), four RPDOs and four TPDOs whose
//! communication and mapping parameters a master sets by SDO (synchronous ones on SYNC,
//! event-driven ones on change or timer), emergencies, and the CiA 402 state machine with
//! the cyclic synchronous position, velocity and torque modes moving the simulator's
//! joint; a drive not driving its joint holds it with its holding brake. Faults can be
//! injected: overheating and overload (emergency, fault state, torque off until cleared
//! and reset) or a lost node that says nothing.

pub mod dictionary;

use embody_bridge::DriveScale;
use embody_hal::JointCommand;
use embody_protocol::CanFrame;
use embody_protocol::canopen::cia402::{self, Mode, State};
use embody_protocol::canopen::{
    self, AbortCode, Address, Emergency, Expedited, Message, NmtCommand, NmtState, SdoRequest,
    SdoResponse, Segment, emcy, pdo,
};
use embody_sim::World;

use crate::fault::DeviceFault;
use dictionary::{Access, DeviceInfo, Dictionary, Entry, Kind};

/// Object indices the drive keeps besides CiA 402's.
mod objects {
    use embody_protocol::canopen::Address;
    pub const ERROR_REGISTER: Address = Address::new(0x1001, 0);
    pub const CONSUMER_HEARTBEAT: Address = Address::new(0x1016, 1);
    pub const PRODUCER_HEARTBEAT: Address = Address::new(0x1017, 0);
}

/// A manufacturer object: the drive's label, text of up to [`LABEL_MAX`] bytes an
/// integrator writes.
pub const LABEL: Address = Address::new(0x2000, 0);
/// The longest label.
pub const LABEL_MAX: usize = 32;

/// The drive's position loop, per N·m (or N) of rated torque: stiffness (N·m/rad per
/// N·m), damping (N·m·s/rad per N·m) and the integral's rate (1/s), integrated within
/// [`INTEGRAL_BAND`] of the target (no wind-up while a move saturates) and at most the
/// rated torque.
const KP_PER_NM: f64 = 20.0;
const KD_PER_NM: f64 = 1.0;
const KI: f64 = 5.0;
const INTEGRAL_BAND: f64 = 0.05;
/// How long the position loop's velocity feed-forward is smoothed over (s).
const FEED_FORWARD_S: f64 = 0.01;

/// How long a drive takes to boot after a reset (or its return to the bus).
pub const BOOT_TIME_S: f64 = 0.05;

/// The drives' vendor id (0x1018:1): none registered, so CiA's "unassigned" range's top.
pub const VENDOR_ID: u32 = 0x0000_0E3B;
/// The drives' product code (0x1018:2).
pub const PRODUCT_CODE: u32 = 0x0000_0402;

/// A segmented SDO transfer under way.
enum Transfer {
    Idle,
    Download {
        at: Address,
        size: Option<u32>,
        data: Vec<u8>,
        toggle: bool,
    },
    Upload {
        data: Vec<u8>,
        sent: usize,
        toggle: bool,
    },
}

/// A PDO's bytes waiting for the next SYNC, or last sent.
type PdoBytes = Option<Vec<u8>>;

/// One drive.
struct Drive {
    node: u8,
    /// The bus it is on (a bridge's; 0 behind an SLCAN adapter).
    bus: u8,
    od: Dictionary,
    nmt: NmtState,
    state: State,
    previous_controlword: u16,
    transfer: Transfer,
    /// Seconds to the next heartbeat.
    heartbeat_in: f64,
    /// Seconds since the consumed node's last heartbeat, once one came.
    consumer_silent: Option<f64>,
    /// SYNCs counted per TPDO.
    syncs: [u8; 4],
    /// RPDO data waiting for SYNC.
    pending: [PdoBytes; 4],
    /// Event-driven TPDOs: what was sent last, and seconds to its inhibit's and timer's end.
    sent: [PdoBytes; 4],
    inhibit_left: [f64; 4],
    timer_left: [f64; 4],
    fault: Option<DeviceFault>,
    /// Seconds until a reset drive has booted (and says so).
    booting: Option<f64>,
    /// The drive's own position reference (joint units): in CSP the target, followed at
    /// most at the drive's top speed; in velocity mode and during a quick stop its
    /// velocity loop's integral.
    reference: f64,
    /// The drive's top speed (0x6080's job: joint units a second), the joint's limit.
    max_speed: f64,
    /// The position loop's integral (N·m): no steady-state error under a load.
    integral: f64,
    /// Where the holding brake holds the joint while the drive does not drive it.
    brake: Option<f64>,
    /// The last position target, and the velocity the targets' moves say (the loop's
    /// feed-forward).
    last_target: f64,
    target_velocity: f64,
    /// Increments per joint unit (rad or m).
    counts: f64,
    /// Rated torque (N·m or N), which torques count thousandths of.
    rated: f64,
}

/// The drives of one simulated robot on one bus.
pub struct Drives {
    world: World,
    drives: Vec<Drive>,
    /// Frames taken as CANopen.
    pub frames: u64,
    /// Frames refused: not CANopen, or a PDO of the wrong length.
    pub bad_frames: u64,
}

impl Drives {
    /// A drive on each actuated joint of `world`, node ids 1, 2, … in joint order, each
    /// with encoder and gear `scale`, in pre-operational after booting.
    pub fn new(world: World, scale: DriveScale) -> Drives {
        let nodes: Vec<u8> = (1..=world.joint_count())
            .map(|k| k.min(usize::from(canopen::MAX_NODE)) as u8)
            .collect();
        Drives::with_nodes(world, &[scale], &nodes)
    }

    /// A drive on each actuated joint of `world`, node id `nodes[k]` and encoder and gear
    /// `scales[k]` on joint `k` (a joint past the lists' ends: its index + 1, and the
    /// last scale).
    pub fn with_nodes(world: World, scales: &[DriveScale], nodes: &[u8]) -> Drives {
        let travel = embody_bridge::travel_per_turn(world.model());
        let model = world.model().clone();
        let drives = model
            .actuated_joints()
            .enumerate()
            .map(|(k, j)| {
                let node = nodes
                    .get(k)
                    .copied()
                    .unwrap_or((k + 1).min(usize::from(canopen::MAX_NODE)) as u8);
                let scale = (scales.get(k).or(scales.last()).copied()).unwrap_or_default();
                // The joint's effort limit is the drive's rated torque (1 kN·m if none).
                let rated = model.joints[j.0].limits.effort.abs().clamp(1e-3, 1000.0);
                Drive {
                    node,
                    bus: 0,
                    od: dictionary(node, scale, rated),
                    nmt: NmtState::PreOperational,
                    state: State::SwitchOnDisabled,
                    previous_controlword: 0,
                    transfer: Transfer::Idle,
                    heartbeat_in: 0.0,
                    consumer_silent: None,
                    syncs: [0; 4],
                    pending: Default::default(),
                    sent: Default::default(),
                    inhibit_left: [0.0; 4],
                    timer_left: [0.0; 4],
                    fault: None,
                    booting: None,
                    reference: 0.0,
                    integral: 0.0,
                    brake: None,
                    last_target: 0.0,
                    target_velocity: 0.0,
                    max_speed: match model.joints[j.0].limits.velocity {
                        v if v.is_finite() && v > 0.0 => v,
                        _ => f64::INFINITY,
                    },
                    counts: scale.counts(travel[k]),
                    rated,
                }
            })
            .collect();
        let mut drives = Drives {
            world,
            drives,
            frames: 0,
            bad_frames: 0,
        };
        for k in 0..drives.drives.len() {
            drives.refresh(k);
        }
        drives
    }

    /// These drives on buses: drive `k` on `buses[k]` (past the list's end: bus 0). A
    /// drive hears and answers only frames of its own bus ([`Drives::on_bus_frame`]).
    pub fn on_buses(mut self, buses: &[u8]) -> Drives {
        for (k, d) in self.drives.iter_mut().enumerate() {
            d.bus = buses.get(k).copied().unwrap_or(0);
        }
        self
    }

    /// The bus drive `k` is on.
    pub fn bus(&self, k: usize) -> u8 {
        self.drives[k].bus
    }

    /// The EDS describing a drive with encoder and gear `scale`.
    pub fn eds(scale: DriveScale) -> String {
        dictionary(1, scale, 1.0).eds(&DeviceInfo {
            file: "embody_cia402_drive.eds",
            description: "embody's simulated CiA 402 servo drive (embody vmcu --drives cia402)",
            vendor: "embody",
            vendor_id: VENDOR_ID,
            product: "embody simulated CiA 402 drive",
            product_code: PRODUCT_CODE,
        })
    }

    /// The simulated world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Drive `k`'s CiA 402 state.
    pub fn state(&self, k: usize) -> State {
        self.drives[k].state
    }

    /// Drive `k`'s NMT state.
    pub fn nmt(&self, k: usize) -> NmtState {
        self.drives[k].nmt
    }

    /// Gives drive `k` a fault: overheating or overload fault it (an emergency, torque
    /// off) until [`Drives::clear`] and a fault reset; a lost drive says nothing.
    pub fn inject(&mut self, k: usize, fault: DeviceFault, out: &mut Vec<CanFrame>) {
        let Some(d) = self.drives.get_mut(k) else {
            return;
        };
        d.fault = Some(fault);
        let (code, register) = match fault {
            DeviceFault::Lost => return,
            DeviceFault::Overheat => (emcy::OVER_TEMPERATURE, emcy::REGISTER_TEMPERATURE),
            DeviceFault::Overload => (emcy::OVER_CURRENT, emcy::REGISTER_CURRENT),
        };
        d.enter_fault(code, register, out);
    }

    /// Takes drive `k`'s injected fault away; a lost drive boots again.
    pub fn clear(&mut self, k: usize) {
        if let Some(d) = self.drives.get_mut(k)
            && d.fault.take() == Some(DeviceFault::Lost)
        {
            d.reset(0x1000..=0xFFFF);
        }
    }

    /// Advances the simulation by `seconds` (whole steps), then runs the drives'
    /// timers: heartbeats, the consumed heartbeat's timeout, event-driven TPDOs.
    pub fn advance(&mut self, seconds: f64, out: &mut Vec<CanFrame>) {
        if let Some(elapsed) = self.step(seconds) {
            for k in 0..self.drives.len() {
                self.refresh(k);
                self.drives[k].tick(elapsed, out);
            }
        }
    }

    /// [`Drives::advance`], each frame sent with the bus of the drive that sent it.
    pub fn advance_on_buses(&mut self, seconds: f64, out: &mut Vec<(u8, CanFrame)>) {
        if let Some(elapsed) = self.step(seconds) {
            let mut sent = Vec::new();
            for k in 0..self.drives.len() {
                self.refresh(k);
                self.drives[k].tick(elapsed, &mut sent);
                let bus = self.drives[k].bus;
                out.extend(sent.drain(..).map(|f| (bus, f)));
            }
        }
    }

    /// Steps the simulation by `seconds` (whole steps), the drives' loops driving it: the
    /// time stepped, if any.
    fn step(&mut self, seconds: f64) -> Option<f64> {
        let steps = (seconds / self.world.config().dt_s).round() as usize;
        if steps == 0 {
            return None;
        }
        for k in 0..self.drives.len() {
            let d = &mut self.drives[k];
            if d.state == State::OperationEnabled && d.mode() == Mode::CyclicVelocity {
                d.reference += d.od.get(cia402::TARGET_VELOCITY) as f64 / d.counts * seconds;
            }
            let (q, _) = self.world.joint(k);
            d.follow_target(seconds);
            let kp = KP_PER_NM * d.rated;
            d.integral = match d.position_target() {
                Some(target) if (target - q).abs() < INTEGRAL_BAND => {
                    (d.integral + KI * kp * (target - q) * seconds).clamp(-d.rated, d.rated)
                }
                Some(_) => d.integral,
                None => 0.0,
            };
            // Not driving its joint, the drive's holding brake holds it where it was.
            let driving = d.position_target().is_some()
                || (d.state == State::OperationEnabled && d.mode() == Mode::CyclicTorque);
            d.brake = match (driving, d.brake) {
                (true, _) => None,
                (false, None) => Some(q),
                (false, held) => held,
            };
        }
        // Step by step: a CSP drive's reference follows its target at most at its top
        // speed (a target that jumped after the host stalled is not a kick).
        let dt = self.world.config().dt_s;
        for _ in 0..steps {
            for k in 0..self.drives.len() {
                let d = &mut self.drives[k];
                d.follow_reference(dt);
                self.world.set_command(k, d.command());
            }
            self.world.step();
        }
        Some(steps as f64 * self.world.config().dt_s)
    }

    /// Takes one frame off the bus, which every drive hears; what they answer goes to
    /// `out`.
    pub fn on_frame(&mut self, frame: &CanFrame, out: &mut Vec<CanFrame>) {
        self.take(None, frame, out);
    }

    /// Takes one frame off bus `bus`, which only the drives on it hear; what they answer
    /// (on that bus) goes to `out`.
    pub fn on_bus_frame(&mut self, bus: u8, frame: &CanFrame, out: &mut Vec<CanFrame>) {
        self.take(Some(bus), frame, out);
    }

    /// Takes one frame off `bus` (`None`: the one bus every drive is on).
    fn take(&mut self, bus: Option<u8>, frame: &CanFrame, out: &mut Vec<CanFrame>) {
        let on = |d: &Drive| bus.is_none_or(|b| d.bus == b);
        let message = match Message::classify(frame) {
            Ok(m) => m,
            Err(_) => {
                self.bad_frames += 1;
                return;
            }
        };
        self.frames += 1;
        match message {
            Message::Nmt { command, node } => {
                for d in (self.drives.iter_mut()).filter(|d| on(d) && (node == 0 || d.node == node))
                {
                    d.nmt_command(command);
                }
            }
            Message::Sync => {
                for k in 0..self.drives.len() {
                    if !on(&self.drives[k]) {
                        continue;
                    }
                    self.drives[k].take_pending(out);
                    self.refresh(k);
                    self.drives[k].sync(out);
                }
            }
            Message::SdoRequest { node, request } => {
                if let Some(d) = self.drive_mut(node).filter(|d| on(d)) {
                    let response = d.sdo(request, out);
                    if let Some(r) = response {
                        out.push(r.frame(node));
                    }
                }
            }
            Message::Rpdo { node, data, .. } => {
                if let Some(d) = self.drive_mut(node).filter(|d| on(d))
                    && d.nmt == NmtState::Operational
                    && let Err(()) = d.rpdo(frame, data, out)
                {
                    self.bad_frames += 1;
                }
            }
            Message::Heartbeat { node, .. } => {
                for d in self.drives.iter_mut().filter(|d| on(d)) {
                    d.heard(node);
                }
            }
            Message::Tpdo { .. } | Message::Emergency { .. } | Message::SdoResponse { .. } => {}
        }
    }

    fn drive_mut(&mut self, node: u8) -> Option<&mut Drive> {
        self.drives
            .iter_mut()
            .find(|d| d.node == node && d.present() && d.nmt != NmtState::Stopped)
    }

    /// Writes joint `k`'s state into its drive's dictionary.
    fn refresh(&mut self, k: usize) {
        let (q, dq) = self.world.joint(k);
        let torque = self.world.motor_torques().get(k).copied().unwrap_or(0.0);
        let d = &mut self.drives[k];
        d.od.set(cia402::POSITION_ACTUAL, (q * d.counts).round() as i64);
        d.od.set(cia402::VELOCITY_ACTUAL, (dq * d.counts).round() as i64);
        let permille = (torque / d.rated * 1000.0).round().clamp(-32768.0, 32767.0);
        d.od.set(cia402::TORQUE_ACTUAL, permille as i64);
        if d.state == State::QuickStopActive && dq.abs() < 0.01 {
            d.state = State::SwitchOnDisabled;
        }
        let target = d.od.get(cia402::TARGET_POSITION) as f64 / d.counts;
        let mut status = d.state.status_bits() | cia402::STATUS_REMOTE;
        if matches!(
            d.state,
            State::ReadyToSwitchOn
                | State::SwitchedOn
                | State::OperationEnabled
                | State::QuickStopActive
        ) {
            status |= cia402::STATUS_VOLTAGE_ENABLED;
        }
        if d.state == State::OperationEnabled {
            status |= cia402::STATUS_FOLLOWING;
            if (q - target).abs() < 0.01 || d.mode() != Mode::CyclicPosition {
                status |= cia402::STATUS_TARGET_REACHED;
            }
        }
        d.od.set(cia402::STATUSWORD, i64::from(status));
    }
}

impl Drive {
    fn mode(&self) -> Mode {
        Mode::from_i8(self.od.get(cia402::MODES_OF_OPERATION) as i8).unwrap_or(Mode::None)
    }

    /// Where the drive's position loop takes the joint, when it runs one: the target in
    /// CSP; in CSV and while stopping, its own reference (the velocity loop's integral).
    fn position_target(&self) -> Option<f64> {
        match (self.state, self.mode()) {
            (State::QuickStopActive, _) | (State::OperationEnabled, Mode::CyclicVelocity) => {
                Some(self.reference)
            }
            (State::OperationEnabled, Mode::CyclicPosition) => Some(self.reference),
            _ => None,
        }
    }

    /// Moves the CSP reference `dt` seconds on toward the target, at most at the top
    /// speed.
    fn follow_reference(&mut self, dt: f64) {
        if self.state == State::OperationEnabled && self.mode() == Mode::CyclicPosition {
            let target = self.od.get(cia402::TARGET_POSITION) as f64 / self.counts;
            let step = self.max_speed * dt;
            self.reference += (target - self.reference).clamp(-step, step);
        }
    }

    /// Follows the CSP target over the `seconds` just simulated: the velocity its moves
    /// say, smoothed over [`FEED_FORWARD_S`] (targets that come in bursts, two in one
    /// step after a stall, must not kick the joint).
    fn follow_target(&mut self, seconds: f64) {
        let target = self.od.get(cia402::TARGET_POSITION) as f64 / self.counts;
        let raw = (target - self.last_target) / seconds;
        self.last_target = target;
        let enabled = self.state == State::OperationEnabled && self.mode() == Mode::CyclicPosition;
        self.target_velocity = match enabled {
            true if raw.is_finite() => {
                self.target_velocity
                    + (raw - self.target_velocity) * seconds / (FEED_FORWARD_S + seconds)
            }
            _ => 0.0,
        };
    }

    /// What the drive makes its joint do: its position loop (stiffness, damping, the
    /// velocity feed-forward and the integral) toward the position target, or the torque.
    fn command(&self) -> JointCommand {
        let dq = match (self.state, self.mode()) {
            (State::OperationEnabled, Mode::CyclicPosition) => {
                self.target_velocity.clamp(-self.max_speed, self.max_speed)
            }
            (State::OperationEnabled, Mode::CyclicVelocity) => {
                self.od.get(cia402::TARGET_VELOCITY) as f64 / self.counts
            }
            _ => 0.0,
        };
        match (self.position_target(), self.state, self.mode()) {
            (Some(q), ..) => JointCommand::Impedance {
                q,
                dq,
                kp: KP_PER_NM * self.rated,
                kd: KD_PER_NM * self.rated,
                tau_ff: self.integral,
            },
            (None, State::OperationEnabled, Mode::CyclicTorque) => JointCommand::Torque {
                tau: self.od.get(cia402::TARGET_TORQUE) as f64 * self.rated / 1000.0,
            },
            _ => match self.brake {
                Some(q) => JointCommand::Impedance {
                    q,
                    dq: 0.0,
                    kp: KP_PER_NM * self.rated,
                    kd: KD_PER_NM * self.rated,
                    tau_ff: 0.0,
                },
                None => JointCommand::Off,
            },
        }
    }

    /// On the bus: not lost, not rebooting.
    fn present(&self) -> bool {
        self.fault != Some(DeviceFault::Lost) && self.booting.is_none()
    }

    /// Faults the drive: the error code and register set, an emergency sent.
    fn enter_fault(&mut self, code: u16, register: u8, out: &mut Vec<CanFrame>) {
        self.state = State::Fault;
        self.od.set(cia402::ERROR_CODE, i64::from(code));
        let register = register | emcy::REGISTER_GENERIC;
        self.od.set(objects::ERROR_REGISTER, i64::from(register));
        if self.present() && self.nmt != NmtState::Stopped {
            let e = Emergency {
                code,
                register,
                vendor: [0; 5],
            };
            out.push(e.frame(self.node));
        }
    }

    /// A heartbeat from `node`: the consumer's clock starts again.
    fn heard(&mut self, node: u8) {
        let consumed = self.od.get(objects::CONSUMER_HEARTBEAT) as u32;
        if (consumed >> 16) as u8 == node && consumed & 0xFFFF != 0 {
            self.consumer_silent = Some(0.0);
        }
    }

    /// The drive's timers after `elapsed` seconds.
    fn tick(&mut self, elapsed: f64, out: &mut Vec<CanFrame>) {
        if let Some(left) = &mut self.booting {
            *left -= elapsed;
            if *left <= 0.0 {
                self.booting = None;
                self.nmt = NmtState::PreOperational;
                out.push(NmtState::BootUp.heartbeat(self.node));
            }
        }
        if !self.present() {
            return;
        }
        let period = self.od.get(objects::PRODUCER_HEARTBEAT) as f64 * 1e-3;
        if period > 0.0 {
            self.heartbeat_in -= elapsed;
            if self.heartbeat_in <= 0.0 {
                out.push(self.nmt.heartbeat(self.node));
                self.heartbeat_in = period;
            }
        }
        let consumed = self.od.get(objects::CONSUMER_HEARTBEAT) as u32;
        let timeout = f64::from(consumed & 0xFFFF) * 1e-3;
        if let Some(silent) = &mut self.consumer_silent {
            *silent += elapsed;
            if timeout > 0.0 && *silent > timeout {
                self.consumer_silent = None;
                self.enter_fault(emcy::HEARTBEAT, emcy::REGISTER_COMMUNICATION, out);
            }
        }
        if self.nmt == NmtState::Operational {
            for n in 0..4 {
                self.event_tpdo(n, elapsed, out);
            }
        }
    }

    fn nmt_command(&mut self, command: NmtCommand) {
        if !self.present() {
            return;
        }
        match command {
            NmtCommand::Start => self.nmt = NmtState::Operational,
            NmtCommand::Stop => self.nmt = NmtState::Stopped,
            NmtCommand::EnterPreOperational => self.nmt = NmtState::PreOperational,
            NmtCommand::ResetNode => self.reset(0x1000..=0xFFFF),
            NmtCommand::ResetCommunication => self.reset(0x1000..=0x1FFF),
        }
    }

    /// A reset of the objects in `indices`: silent for [`BOOT_TIME_S`], then boot-up and
    /// pre-operational.
    fn reset(&mut self, indices: std::ops::RangeInclusive<u16>) {
        self.od.reset(indices);
        self.transfer = Transfer::Idle;
        self.consumer_silent = None;
        self.pending = Default::default();
        self.sent = Default::default();
        self.syncs = [0; 4];
        self.heartbeat_in = 0.0;
        if self.state != State::Fault {
            self.state = State::SwitchOnDisabled;
        }
        self.booting = Some(BOOT_TIME_S);
    }

    /// Answers an SDO request (none to an abort).
    fn sdo(&mut self, request: SdoRequest, out: &mut Vec<CanFrame>) -> Option<SdoResponse> {
        let transfer = std::mem::replace(&mut self.transfer, Transfer::Idle);
        Some(match (request, transfer) {
            (SdoRequest::Abort(..), _) => return None,
            (SdoRequest::UploadInitiate(at), _) => match self.od.entry(at) {
                Err(code) => SdoResponse::Abort(at, code),
                Ok(e) if (1..=4).contains(&e.value.len()) => {
                    SdoResponse::UploadExpedited(at, Expedited::new(&e.value))
                }
                Ok(e) => {
                    let data = e.value.clone();
                    let size = data.len() as u32;
                    self.transfer = Transfer::Upload {
                        data,
                        sent: 0,
                        toggle: false,
                    };
                    SdoResponse::UploadInitiated(at, Some(size))
                }
            },
            (
                SdoRequest::UploadSegment { toggle },
                Transfer::Upload {
                    data,
                    sent,
                    toggle: expected,
                },
            ) => {
                if toggle != expected {
                    return Some(SdoResponse::Abort(Address::new(0, 0), AbortCode::TOGGLE));
                }
                let end = (sent + 7).min(data.len());
                let last = end == data.len();
                let segment = Segment::new(toggle, last, &data[sent..end]);
                if !last {
                    self.transfer = Transfer::Upload {
                        data,
                        sent: end,
                        toggle: !toggle,
                    };
                }
                SdoResponse::UploadSegment(segment)
            }
            (SdoRequest::DownloadExpedited(at, data), _) => {
                match self.write(at, data.data(), out) {
                    Ok(()) => SdoResponse::DownloadInitiated(at),
                    Err(code) => SdoResponse::Abort(at, code),
                }
            }
            (SdoRequest::DownloadInitiate(at, size), _) => match self.writable(at) {
                Ok(()) => {
                    self.transfer = Transfer::Download {
                        at,
                        size,
                        data: Vec::new(),
                        toggle: false,
                    };
                    SdoResponse::DownloadInitiated(at)
                }
                Err(code) => SdoResponse::Abort(at, code),
            },
            (
                SdoRequest::DownloadSegment(segment),
                Transfer::Download {
                    at,
                    size,
                    mut data,
                    toggle,
                },
            ) => {
                if segment.toggle != toggle {
                    return Some(SdoResponse::Abort(at, AbortCode::TOGGLE));
                }
                data.extend_from_slice(segment.data());
                if data.len() > 1024 {
                    return Some(SdoResponse::Abort(at, AbortCode::LENGTH));
                }
                if !segment.last {
                    self.transfer = Transfer::Download {
                        at,
                        size,
                        data,
                        toggle: !toggle,
                    };
                } else if size.is_some_and(|n| n as usize != data.len()) {
                    return Some(SdoResponse::Abort(at, AbortCode::LENGTH));
                } else if let Err(code) = self.write(at, &data, out) {
                    return Some(SdoResponse::Abort(at, code));
                }
                SdoResponse::DownloadSegmentTaken { toggle }
            }
            (SdoRequest::UploadSegment { .. } | SdoRequest::DownloadSegment(_), _) => {
                SdoResponse::Abort(Address::new(0, 0), AbortCode::COMMAND)
            }
        })
    }

    /// Whether a master may write `at`.
    fn writable(&self, at: Address) -> Result<(), AbortCode> {
        match self.od.entry(at)?.access {
            Access::Rw => Ok(()),
            Access::Ro | Access::Const => Err(AbortCode::READ_ONLY),
        }
    }

    /// A master's write of `bytes` to `at`, checked as the drive checks it, and its
    /// effect.
    fn write(
        &mut self,
        at: Address,
        bytes: &[u8],
        out: &mut Vec<CanFrame>,
    ) -> Result<(), AbortCode> {
        self.writable(at)?;
        let entry = self.od.entry(at)?;
        let value = match entry.kind.size() {
            // An expedited write that did not say its size carries four bytes.
            Some(n)
                if bytes.len() == n || (bytes.len() > n && bytes[n..].iter().all(|b| *b == 0)) =>
            {
                bytes[..n].to_vec()
            }
            Some(_) => return Err(AbortCode::LENGTH),
            None => bytes.to_vec(),
        };
        let mut candidate = entry.clone();
        candidate.value.clone_from(&value);
        let number = candidate.as_i64();
        self.check(at, number, value.len())?;
        self.od.entry_mut(at)?.value = value;
        self.effect(at, number, out);
        Ok(())
    }

    /// CiA 301's and 402's rules on a value about to be written.
    fn check(&self, at: Address, value: i64, value_len: usize) -> Result<(), AbortCode> {
        let is = |base: u16| (base..base + 4).contains(&at.index);
        let cob_valid =
            |comm: u16| self.od.get(Address::new(comm, 1)) as u32 & pdo::COB_ID_INVALID == 0;
        if (is(pdo::RPDO_COMMUNICATION) || is(pdo::TPDO_COMMUNICATION)) && at.sub == 1 {
            let old = self.od.get(at) as u32;
            let new = value as u32;
            let both_valid = old & pdo::COB_ID_INVALID == 0 && new & pdo::COB_ID_INVALID == 0;
            if (both_valid && (old ^ new) & 0x7FF != 0) || new & 0x3FFF_F800 != 0 {
                return Err(AbortCode::INVALID_VALUE);
            }
        }
        if (is(pdo::RPDO_COMMUNICATION) || is(pdo::TPDO_COMMUNICATION))
            && at.sub == 2
            && (241..=253).contains(&value)
        {
            return Err(AbortCode::INVALID_VALUE);
        }
        let mapping_of = |base: u16, comm: u16| is(base).then(|| comm + (at.index - base));
        if let Some(comm) = mapping_of(pdo::RPDO_MAPPING, pdo::RPDO_COMMUNICATION)
            .or_else(|| mapping_of(pdo::TPDO_MAPPING, pdo::TPDO_COMMUNICATION))
        {
            if cob_valid(comm) {
                return Err(AbortCode::DEVICE_STATE);
            }
            if at.sub == 0 {
                if value as usize > pdo::MAX_ENTRIES {
                    return Err(AbortCode::INVALID_VALUE);
                }
                let mut bits = 0u32;
                for sub in 1..=value as u8 {
                    let entry = self.od.get(Address::new(at.index, sub)) as u32;
                    bits += u32::from(self.mapped_bits(entry)?);
                }
                if bits > 64 {
                    return Err(AbortCode::PDO_TOO_LONG);
                }
            } else {
                if self.od.get(Address::new(at.index, 0)) != 0 {
                    return Err(AbortCode::DEVICE_STATE);
                }
                if value != 0 {
                    self.mapped_bits(value as u32)?;
                }
            }
        }
        if at == LABEL && value_len > LABEL_MAX {
            return Err(AbortCode::LENGTH);
        }
        if at == cia402::MODES_OF_OPERATION
            && !matches!(
                Mode::from_i8(value as i8),
                Some(Mode::None | Mode::CyclicPosition | Mode::CyclicVelocity | Mode::CyclicTorque)
            )
        {
            return Err(AbortCode::INVALID_VALUE);
        }
        Ok(())
    }

    /// The length of mapping `entry`'s object, if it may be mapped as it says.
    fn mapped_bits(&self, entry: u32) -> Result<u8, AbortCode> {
        let (at, bits) = pdo::parse_entry(entry);
        let object = self.od.entry(at).map_err(|_| AbortCode::NOT_MAPPABLE)?;
        match object.kind.size() {
            Some(n) if object.mappable && n * 8 == usize::from(bits) => Ok(bits),
            _ => Err(AbortCode::NOT_MAPPABLE),
        }
    }

    /// What a written value does.
    fn effect(&mut self, at: Address, value: i64, out: &mut Vec<CanFrame>) {
        match at {
            cia402::CONTROLWORD => {
                let controlword = value as u16;
                let before = self.state;
                let after = cia402::transition(before, controlword, self.previous_controlword);
                self.previous_controlword = controlword;
                if before == State::Fault && after != State::Fault {
                    if self.fault.is_some() {
                        return; // the cause is still there
                    }
                    self.od.set(cia402::ERROR_CODE, 0);
                    self.od.set(objects::ERROR_REGISTER, 0);
                    let e = Emergency {
                        code: emcy::NO_ERROR,
                        register: 0,
                        vendor: [0; 5],
                    };
                    out.push(e.frame(self.node));
                }
                if after == State::OperationEnabled && before != State::OperationEnabled {
                    self.start_where_it_stands();
                    self.od.set(cia402::TARGET_VELOCITY, 0);
                    self.od.set(cia402::TARGET_TORQUE, 0);
                }
                if after == State::QuickStopActive {
                    self.start_where_it_stands();
                }
                self.state = after;
            }
            cia402::MODES_OF_OPERATION => {
                self.od.set(cia402::MODES_OF_OPERATION_DISPLAY, value);
                self.start_where_it_stands();
            }
            objects::PRODUCER_HEARTBEAT => self.heartbeat_in = 0.0,
            objects::CONSUMER_HEARTBEAT => self.consumer_silent = None,
            _ => {}
        }
    }

    /// The position target and reference at the joint's position: enabled, switched to
    /// another mode or stopping, the drive holds the joint where it is.
    fn start_where_it_stands(&mut self) {
        let position = self.od.get(cia402::POSITION_ACTUAL);
        self.od.set(cia402::TARGET_POSITION, position);
        self.reference = position as f64 / self.counts;
    }

    /// The objects PDO `base + n`'s mapping lists.
    fn mapping(&self, base: u16, n: usize) -> Vec<(Address, usize)> {
        let index = base + n as u16;
        let count = self.od.get(Address::new(index, 0)).clamp(0, 8) as u8;
        (1..=count)
            .map(|sub| {
                let (at, bits) = pdo::parse_entry(self.od.get(Address::new(index, sub)) as u32);
                (at, usize::from(bits / 8))
            })
            .collect()
    }

    /// An RPDO's data: applied now (event-driven) or at the next SYNC.
    fn rpdo(&mut self, frame: &CanFrame, data: &[u8], out: &mut Vec<CanFrame>) -> Result<(), ()> {
        let id = frame.id().raw();
        let Some(n) = (0..4).find(|&n| {
            let cob = self
                .od
                .get(Address::new(pdo::RPDO_COMMUNICATION + n as u16, 1))
                as u32;
            cob & pdo::COB_ID_INVALID == 0 && cob & 0x7FF == id
        }) else {
            return Ok(()); // not one of this drive's
        };
        let length: usize = self
            .mapping(pdo::RPDO_MAPPING, n)
            .iter()
            .map(|(_, l)| l)
            .sum();
        if data.len() < length {
            return Err(());
        }
        let kind = self
            .od
            .get(Address::new(pdo::RPDO_COMMUNICATION + n as u16, 2));
        if kind <= 240 {
            self.pending[n] = Some(data.to_vec());
        } else {
            self.apply_rpdo(n, data, out);
        }
        Ok(())
    }

    fn apply_rpdo(&mut self, n: usize, data: &[u8], out: &mut Vec<CanFrame>) {
        let mut at_byte = 0;
        for (at, len) in self.mapping(pdo::RPDO_MAPPING, n) {
            let bytes = data.get(at_byte..at_byte + len).unwrap_or(&[]).to_vec();
            at_byte += len;
            let _ = self.write(at, &bytes, out);
        }
    }

    /// A TPDO's bytes: its mapped objects' values in order.
    fn tpdo_bytes(&self, n: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8);
        for (at, len) in self.mapping(pdo::TPDO_MAPPING, n) {
            let value = self
                .od
                .entry(at)
                .map(|e| e.value.clone())
                .unwrap_or_default();
            bytes.extend(value.iter().copied().chain(std::iter::repeat(0)).take(len));
        }
        bytes.truncate(8);
        bytes
    }

    /// TPDO `n`'s COB-ID, if valid, and transmission type.
    fn tpdo_config(&self, n: usize) -> Option<(u16, i64)> {
        let comm = pdo::TPDO_COMMUNICATION + n as u16;
        let cob = self.od.get(Address::new(comm, 1)) as u32;
        (cob & pdo::COB_ID_INVALID == 0)
            .then(|| ((cob & 0x7FF) as u16, self.od.get(Address::new(comm, 2))))
    }

    /// SYNC, first: the RPDOs waiting for it are applied.
    fn take_pending(&mut self, out: &mut Vec<CanFrame>) {
        if !self.present() || self.nmt != NmtState::Operational {
            return;
        }
        for n in 0..4 {
            if let Some(data) = self.pending[n].take() {
                self.apply_rpdo(n, &data, out);
            }
        }
    }

    /// SYNC, then: the synchronous TPDOs due are sent.
    fn sync(&mut self, out: &mut Vec<CanFrame>) {
        if !self.present() || self.nmt != NmtState::Operational {
            return;
        }
        for n in 0..4 {
            let Some((cob, kind)) = self.tpdo_config(n) else {
                continue;
            };
            let send = match kind {
                0 => {
                    let bytes = self.tpdo_bytes(n);
                    let changed = self.sent[n].as_ref() != Some(&bytes);
                    self.sent[n] = Some(bytes);
                    changed
                }
                1..=240 => {
                    self.syncs[n] = self.syncs[n].saturating_add(1);
                    let due = i64::from(self.syncs[n]) >= kind;
                    if due {
                        self.syncs[n] = 0;
                    }
                    due
                }
                _ => false,
            };
            if send {
                out.push(pdo_frame(cob, &self.tpdo_bytes(n)));
            }
        }
    }

    /// An event-driven TPDO: sent when its bytes change (no sooner than its inhibit time
    /// after the last) or when its event timer runs out.
    fn event_tpdo(&mut self, n: usize, elapsed: f64, out: &mut Vec<CanFrame>) {
        let Some((cob, kind)) = self.tpdo_config(n) else {
            return;
        };
        if kind < 254 {
            return;
        }
        let comm = pdo::TPDO_COMMUNICATION + n as u16;
        let inhibit = self.od.get(Address::new(comm, 3)) as f64 * 1e-4;
        let timer = self.od.get(Address::new(comm, 5)) as f64 * 1e-3;
        self.inhibit_left[n] -= elapsed;
        self.timer_left[n] -= elapsed;
        let bytes = self.tpdo_bytes(n);
        let changed = self.sent[n].as_ref() != Some(&bytes);
        let timed_out = timer > 0.0 && self.timer_left[n] <= 0.0;
        if (changed && self.inhibit_left[n] <= 0.0) || timed_out {
            out.push(pdo_frame(cob, &bytes));
            self.sent[n] = Some(bytes);
            self.inhibit_left[n] = inhibit;
            self.timer_left[n] = timer;
        }
    }
}

fn pdo_frame(cob: u16, bytes: &[u8]) -> CanFrame {
    canopen::frame_to(cob & 0x780, (cob & 0x7F) as u8, bytes)
}

/// Drive `node`'s dictionary: CiA 301's communication objects, four RPDOs and TPDOs
/// mapped for the cyclic modes, CiA 402's objects.
fn dictionary(node: u8, setup: DriveScale, rated_nm: f64) -> Dictionary {
    use Access::{Const, Ro, Rw};
    use Kind::{I8, I16, I32, U8, U16, U32};
    let mut od = Dictionary::default();
    od.var(
        0x1000,
        Entry::number("Device type", U32, Const, cia402::DEVICE_TYPE_SERVO.into()),
    );
    od.var(
        0x1001,
        Entry::number("Error register", U8, Ro, 0).mappable(),
    );
    od.var(
        0x1008,
        Entry::text("Manufacturer device name", "embody simulated CiA 402 drive"),
    );
    od.var(
        0x100A,
        Entry::text("Manufacturer software version", env!("CARGO_PKG_VERSION")),
    );
    // Where an integrator writes which joint of which unit the drive turns.
    let mut label = Entry::text("Drive label", "");
    label.access = Access::Rw;
    od.var(LABEL.index, label);
    od.record(
        0x1016,
        "Consumer heartbeat time",
        Const,
        vec![(1, Entry::number("Consumer heartbeat time 1", U32, Rw, 0))],
    );
    od.var(0x1017, Entry::number("Producer heartbeat time", U16, Rw, 0));
    od.record(
        0x1018,
        "Identity object",
        Const,
        vec![
            (1, Entry::number("Vendor-ID", U32, Const, VENDOR_ID.into())),
            (
                2,
                Entry::number("Product code", U32, Const, PRODUCT_CODE.into()),
            ),
            (3, Entry::number("Revision number", U32, Const, 1)),
            (
                4,
                Entry::number("Serial number", U32, Const, i64::from(node)),
            ),
        ],
    );
    // Default mappings: RPDO n and TPDO n for the cyclic modes, the 4th for the mode.
    let rpdo_maps: [&[(Address, u8)]; 4] = [
        &[(cia402::CONTROLWORD, 16), (cia402::TARGET_POSITION, 32)],
        &[(cia402::CONTROLWORD, 16), (cia402::TARGET_VELOCITY, 32)],
        &[(cia402::CONTROLWORD, 16), (cia402::TARGET_TORQUE, 16)],
        &[(cia402::MODES_OF_OPERATION, 8)],
    ];
    let tpdo_maps: [&[(Address, u8)]; 4] = [
        &[
            (cia402::STATUSWORD, 16),
            (cia402::POSITION_ACTUAL, 32),
            (cia402::TORQUE_ACTUAL, 16),
        ],
        &[(cia402::VELOCITY_ACTUAL, 32), (cia402::ERROR_CODE, 16)],
        &[(cia402::STATUSWORD, 16), (cia402::VELOCITY_ACTUAL, 32)],
        &[(cia402::MODES_OF_OPERATION_DISPLAY, 8)],
    ];
    const RPDO_NAMES: [&str; 4] = [
        "RPDO1 communication",
        "RPDO2 communication",
        "RPDO3 communication",
        "RPDO4 communication",
    ];
    const RPDO_MAP_NAMES: [&str; 4] = [
        "RPDO1 mapping",
        "RPDO2 mapping",
        "RPDO3 mapping",
        "RPDO4 mapping",
    ];
    const TPDO_NAMES: [&str; 4] = [
        "TPDO1 communication",
        "TPDO2 communication",
        "TPDO3 communication",
        "TPDO4 communication",
    ];
    const TPDO_MAP_NAMES: [&str; 4] = [
        "TPDO1 mapping",
        "TPDO2 mapping",
        "TPDO3 mapping",
        "TPDO4 mapping",
    ];
    const ENTRY_NAMES: [&str; 8] = [
        "Mapped object 1",
        "Mapped object 2",
        "Mapped object 3",
        "Mapped object 4",
        "Mapped object 5",
        "Mapped object 6",
        "Mapped object 7",
        "Mapped object 8",
    ];
    for n in 0..4 {
        // Only the first of each valid by default.
        let off = if n == 0 { 0 } else { pdo::COB_ID_INVALID };
        od.record(
            pdo::RPDO_COMMUNICATION + n as u16,
            RPDO_NAMES[n],
            Const,
            vec![
                (
                    1,
                    Entry::number("COB-ID", U32, Rw, 0)
                        .plus_node(u32::from(canopen::RPDO_BASE[n]) | off, node),
                ),
                (2, Entry::number("Transmission type", U8, Rw, 1)),
            ],
        );
        od.record(
            pdo::TPDO_COMMUNICATION + n as u16,
            TPDO_NAMES[n],
            Const,
            vec![
                (
                    1,
                    Entry::number("COB-ID", U32, Rw, 0).plus_node(
                        u32::from(canopen::TPDO_BASE[n]) | off | pdo::COB_ID_NO_RTR,
                        node,
                    ),
                ),
                (2, Entry::number("Transmission type", U8, Rw, 1)),
                (3, Entry::number("Inhibit time", U16, Rw, 0)),
                (5, Entry::number("Event timer", U16, Rw, 0)),
            ],
        );
        for (base, names, maps) in [
            (pdo::RPDO_MAPPING, RPDO_MAP_NAMES, rpdo_maps),
            (pdo::TPDO_MAPPING, TPDO_MAP_NAMES, tpdo_maps),
        ] {
            let entries = (0..8)
                .map(|e| {
                    let value = maps[n].get(e).map_or(0, |&(at, bits)| pdo::entry(at, bits));
                    (
                        e as u8 + 1,
                        Entry::number(ENTRY_NAMES[e], U32, Rw, value.into()),
                    )
                })
                .collect();
            od.record(base + n as u16, names[n], Rw, entries);
            od.set(Address::new(base + n as u16, 0), maps[n].len() as i64);
            if let Ok(e) = od.entry_mut(Address::new(base + n as u16, 0)) {
                e.default.clone_from(&e.value);
            }
        }
    }
    od.var(0x603F, Entry::number("Error code", U16, Ro, 0).mappable());
    od.var(0x6040, Entry::number("Controlword", U16, Rw, 0).mappable());
    od.var(0x6041, Entry::number("Statusword", U16, Ro, 0).mappable());
    od.var(
        0x6060,
        Entry::number("Modes of operation", I8, Rw, 0).mappable(),
    );
    od.var(
        0x6061,
        Entry::number("Modes of operation display", I8, Ro, 0).mappable(),
    );
    od.var(
        0x6064,
        Entry::number("Position actual value", I32, Ro, 0).mappable(),
    );
    od.var(
        0x606C,
        Entry::number("Velocity actual value", I32, Ro, 0).mappable(),
    );
    od.var(
        0x6071,
        Entry::number("Target torque", I16, Rw, 0).mappable(),
    );
    od.var(
        0x6076,
        Entry::number(
            "Motor rated torque",
            U32,
            Const,
            (rated_nm * 1000.0).round() as i64,
        ),
    );
    od.var(
        0x6077,
        Entry::number("Torque actual value", I16, Ro, 0).mappable(),
    );
    od.var(
        0x607A,
        Entry::number("Target position", I32, Rw, 0).mappable(),
    );
    od.record(
        0x608F,
        "Position encoder resolution",
        Const,
        vec![
            (
                1,
                Entry::number(
                    "Encoder increments",
                    U32,
                    Const,
                    setup.increments_per_turn.into(),
                ),
            ),
            (2, Entry::number("Motor revolutions", U32, Const, 1)),
        ],
    );
    od.record(
        0x6091,
        "Gear ratio",
        Const,
        vec![
            (
                1,
                Entry::number("Motor revolutions", U32, Const, setup.gear.into()),
            ),
            (2, Entry::number("Shaft revolutions", U32, Const, 1)),
        ],
    );
    od.var(
        0x60FF,
        Entry::number("Target velocity", I32, Rw, 0).mappable(),
    );
    let modes = Mode::CyclicPosition.supported_bit()
        | Mode::CyclicVelocity.supported_bit()
        | Mode::CyclicTorque.supported_bit();
    od.var(
        0x6502,
        Entry::number("Supported drive modes", U32, Const, modes.into()),
    );
    od
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use embody_model::robots;
    use embody_protocol::CanId;
    use embody_sim::{Environment, SimConfig};
    use proptest::prelude::*;

    use super::*;

    fn drives() -> Drives {
        let model = robots::load("arm7", Some(false)).expect("arm7");
        let world = World::new(
            Arc::new(model),
            &Environment::default(),
            SimConfig::default(),
        );
        Drives::new(world, DriveScale::default())
    }

    fn send(drives: &mut Drives, frame: CanFrame) -> Vec<CanFrame> {
        let mut out = Vec::new();
        drives.on_frame(&frame, &mut out);
        out
    }

    /// Node `node`'s answer to an SDO request, if any.
    fn sdo(drives: &mut Drives, node: u8, request: SdoRequest) -> Option<SdoResponse> {
        send(drives, request.frame(node))
            .iter()
            .find_map(|f| match Message::classify(f) {
                Ok(Message::SdoResponse { node: n, response }) if n == node => Some(response),
                _ => None,
            })
    }

    fn write(drives: &mut Drives, node: u8, at: Address, bytes: &[u8]) -> SdoResponse {
        sdo(
            drives,
            node,
            SdoRequest::DownloadExpedited(at, Expedited::new(bytes)),
        )
        .expect("an answer")
    }

    fn read(drives: &mut Drives, node: u8, at: Address) -> u32 {
        match sdo(drives, node, SdoRequest::UploadInitiate(at)) {
            Some(SdoResponse::UploadExpedited(_, data)) => data.as_u32(),
            other => panic!("reading {at}: {other:?}"),
        }
    }

    fn advance(drives: &mut Drives, seconds: f64) -> Vec<CanFrame> {
        let mut out = Vec::new();
        drives.advance(seconds, &mut out);
        out
    }

    #[test]
    fn the_committed_eds_is_the_one_the_drives_describe() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/eds/embody_cia402_drive.eds"
        );
        let committed =
            std::fs::read_to_string(path).expect("examples/eds/embody_cia402_drive.eds");
        assert!(
            committed == Drives::eds(DriveScale::default()),
            "{path} is stale: `embody vmcu --drives cia402 --link L --eds {path}` writes it again"
        );
    }

    #[test]
    fn synchronous_rpdos_wait_for_sync_and_tpdos_answer_it() {
        let mut d = drives();
        send(&mut d, NmtCommand::Start.frame(0));
        // RPDO1 of node 1 (controlword, target position), synchronous by default.
        let rpdo = canopen::frame_to(canopen::RPDO_BASE[0], 1, &[0x06, 0, 0, 0, 0, 0]);
        assert!(send(&mut d, rpdo).is_empty());
        assert_eq!(d.state(0), State::SwitchOnDisabled, "applied before SYNC");
        let out = send(&mut d, canopen::sync_frame());
        assert_eq!(d.state(0), State::ReadyToSwitchOn);
        // Every node's TPDO1: statusword, position, torque.
        assert_eq!(out.len(), 8);
        assert_eq!(out[0].id(), CanId::Standard(0x181));
        assert_eq!(
            u16::from_le_bytes([out[0].data()[0], out[0].data()[1]]) & 0x6F,
            0x21
        );
        // A short RPDO is refused and counted.
        let short = canopen::frame_to(canopen::RPDO_BASE[0], 1, &[0x07]);
        send(&mut d, short);
        assert_eq!(d.bad_frames, 1);
    }

    #[test]
    fn an_overheated_drive_faults_until_cleared_and_reset() {
        let mut d = drives();
        send(&mut d, NmtCommand::Start.frame(0));
        for cw in [cia402::SHUTDOWN, cia402::ENABLE_OPERATION] {
            write(&mut d, 3, cia402::CONTROLWORD, &cw.to_le_bytes());
        }
        assert_eq!(d.state(2), State::OperationEnabled);
        let mut out = Vec::new();
        d.inject(2, DeviceFault::Overheat, &mut out);
        let Ok(Message::Emergency { node: 3, emergency }) = Message::classify(&out[0]) else {
            panic!("{out:?}");
        };
        assert_eq!(emergency.code, emcy::OVER_TEMPERATURE);
        assert_eq!(
            emergency.register,
            emcy::REGISTER_TEMPERATURE | emcy::REGISTER_GENERIC
        );
        assert_eq!(d.state(2), State::Fault);
        advance(&mut d, 0.01);
        assert_eq!(read(&mut d, 3, cia402::STATUSWORD) & 0x4F, 0x08);
        // A reset while it is still hot leaves it faulted.
        write(
            &mut d,
            3,
            cia402::CONTROLWORD,
            &cia402::FAULT_RESET.to_le_bytes(),
        );
        assert_eq!(d.state(2), State::Fault);
        d.clear(2);
        write(&mut d, 3, cia402::CONTROLWORD, &0u16.to_le_bytes());
        let out = send(
            &mut d,
            SdoRequest::DownloadExpedited(cia402::CONTROLWORD, Expedited::new(&[0x80, 0])).frame(3),
        );
        assert_eq!(d.state(2), State::SwitchOnDisabled);
        assert!(
            out.iter()
                .any(|f| f.id() == CanId::Standard(0x83) && f.data()[..3] == [0, 0, 0]),
            "error reset emergency: {out:?}"
        );
        assert_eq!(read(&mut d, 3, cia402::ERROR_CODE), 0);
    }

    #[test]
    fn a_lost_drive_is_silent_and_boots_when_back() {
        let mut d = drives();
        d.inject(4, DeviceFault::Lost, &mut Vec::new());
        assert_eq!(
            sdo(&mut d, 5, SdoRequest::UploadInitiate(cia402::STATUSWORD)),
            None
        );
        d.clear(4);
        assert!(advance(&mut d, 0.01).is_empty(), "still booting");
        let out = advance(&mut d, BOOT_TIME_S);
        assert_eq!(out, vec![NmtState::BootUp.heartbeat(5)]);
        assert_eq!(d.nmt(4), NmtState::PreOperational);
        assert_eq!(
            read(&mut d, 5, Address::new(0x1000, 0)),
            cia402::DEVICE_TYPE_SERVO
        );
    }

    #[test]
    fn mappings_follow_cia_301s_rules() {
        let mut d = drives();
        let abort = |r| match r {
            SdoResponse::Abort(_, code) => code,
            other => panic!("{other:?}"),
        };
        // Valid PDO: its mapping may not change.
        assert_eq!(
            abort(write(&mut d, 1, Address::new(0x1A00, 0), &[1])),
            AbortCode::DEVICE_STATE
        );
        write(
            &mut d,
            1,
            Address::new(0x1800, 1),
            &(0x8000_0181u32).to_le_bytes(),
        );
        // Entries only while sub 0 is 0; only mappable objects of their size.
        assert_eq!(
            abort(write(
                &mut d,
                1,
                Address::new(0x1A00, 1),
                &0x6041_0010u32.to_le_bytes()
            )),
            AbortCode::DEVICE_STATE
        );
        write(&mut d, 1, Address::new(0x1A00, 0), &[0]);
        assert_eq!(
            abort(write(
                &mut d,
                1,
                Address::new(0x1A00, 1),
                &0x1000_0020u32.to_le_bytes()
            )),
            AbortCode::NOT_MAPPABLE
        );
        assert_eq!(
            abort(write(
                &mut d,
                1,
                Address::new(0x1A00, 1),
                &0x6041_0020u32.to_le_bytes()
            )),
            AbortCode::NOT_MAPPABLE
        );
        for sub in 1..=3u8 {
            let r = write(
                &mut d,
                1,
                Address::new(0x1A00, sub),
                &0x6064_0020u32.to_le_bytes(),
            );
            assert_eq!(r, SdoResponse::DownloadInitiated(Address::new(0x1A00, sub)));
        }
        assert_eq!(
            abort(write(&mut d, 1, Address::new(0x1A00, 0), &[3])),
            AbortCode::PDO_TOO_LONG
        );
        write(&mut d, 1, Address::new(0x1A00, 0), &[2]);
        assert_eq!(read(&mut d, 1, Address::new(0x1A00, 0)), 2);
        // An extended or out-of-range COB-ID is refused.
        assert_eq!(
            abort(write(
                &mut d,
                1,
                Address::new(0x1800, 1),
                &(0x2000_0181u32).to_le_bytes()
            )),
            AbortCode::INVALID_VALUE
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn drives_take_any_frames(frames in prop::collection::vec(
            (0u16..0x800, prop::collection::vec(any::<u8>(), 0..=8)), 0..200)
        ) {
            let mut d = drives();
            let mut out = Vec::new();
            d.on_frame(&NmtCommand::Start.frame(0), &mut out);
            for (id, data) in frames {
                let frame = CanFrame::new(CanId::Standard(id), &data).expect("≤ 8 bytes");
                d.on_frame(&frame, &mut out);
                d.advance(0.001, &mut out);
            }
        }
    }
}
