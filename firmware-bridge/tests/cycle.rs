//! The firmware core driven tick by tick on the host, against fake CAN buses whose
//! motors speak the MIT protocol through the protocol crate's motor-side codec.

use std::collections::VecDeque;

use embedded_can::{ErrorKind, Frame, Id};
use embody_firmware_bridge::{Bridge, FirmwareInfo, REPLY_TIMEOUT_TICKS};
use embody_protocol::messages::{
    ActuatorSetup, BridgeMessage, BridgeSetup, BridgeState, BusSetup, CommandBatch, HostMessage,
    PROTOCOL_VERSION, SetupError, StateBatch, WireCommand,
};
use embody_protocol::{
    CanFrame, CanId, FrameDecoder, FrameEncoder, MAX_FRAME, MitCodec, MitFeedback, MitRanges,
    MitRequest, MitSpecial, MitVariant, MotorFaults,
};

/// A HAL frame type, as a CAN driver would have.
#[derive(Clone, Debug, PartialEq)]
struct HalFrame(CanFrame);

impl Frame for HalFrame {
    fn new(id: impl Into<Id>, data: &[u8]) -> Option<Self> {
        let id = match id.into() {
            Id::Standard(s) => CanId::Standard(s.as_raw()),
            Id::Extended(e) => CanId::Extended(e.as_raw()),
        };
        CanFrame::new(id, data).ok().map(HalFrame)
    }
    fn new_remote(id: impl Into<Id>, dlc: usize) -> Option<Self> {
        let id = match id.into() {
            Id::Standard(s) => CanId::Standard(s.as_raw()),
            Id::Extended(e) => CanId::Extended(e.as_raw()),
        };
        CanFrame::remote(id, dlc as u8).ok().map(HalFrame)
    }
    fn is_extended(&self) -> bool {
        matches!(self.0.id(), CanId::Extended(_))
    }
    fn is_remote_frame(&self) -> bool {
        self.0.is_remote()
    }
    fn id(&self) -> Id {
        match self.0.id() {
            CanId::Standard(id) => embedded_can::StandardId::new(id).expect("valid").into(),
            CanId::Extended(id) => embedded_can::ExtendedId::new(id).expect("valid").into(),
        }
    }
    fn dlc(&self) -> usize {
        self.0.len() as usize
    }
    fn data(&self) -> &[u8] {
        self.0.data()
    }
}

#[derive(Debug)]
struct BusError;

impl embedded_can::Error for BusError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// A motor that answers every frame with its state; torque follows the MIT law.
#[derive(Clone, Debug)]
struct Motor {
    codec: MitCodec,
    p: f32,
    enabled: bool,
    present: bool,
    last: Option<MitRequest>,
}

#[derive(Default)]
struct Bus {
    motors: Vec<Motor>,
    rx: VecDeque<HalFrame>,
    sent: Vec<CanFrame>,
}

impl embedded_can::nb::Can for Bus {
    type Frame = HalFrame;
    type Error = BusError;

    fn transmit(&mut self, frame: &HalFrame) -> nb::Result<Option<HalFrame>, BusError> {
        self.sent.push(frame.0);
        for motor in &mut self.motors {
            let Ok(request) = motor.codec.decode_request(&frame.0) else {
                continue;
            };
            if !motor.present {
                continue;
            }
            motor.last = Some(request);
            let t = match request {
                MitRequest::Special(MitSpecial::EnterMotorMode) => {
                    motor.enabled = true;
                    0.0
                }
                MitRequest::Special(MitSpecial::ExitMotorMode) => {
                    motor.enabled = false;
                    0.0
                }
                MitRequest::Special(_) => 0.0,
                MitRequest::Command(c) if motor.enabled => c.kp * (c.p - motor.p) + c.t_ff,
                MitRequest::Command(_) => 0.0,
            };
            let reply = motor
                .codec
                .feedback_frame(&MitFeedback {
                    motor_id: motor.codec.motor_id,
                    p: motor.p,
                    v: 0.0,
                    t,
                    enabled: motor.enabled,
                    rotor_temperature_c: Some(35.0),
                    ..MitFeedback::default()
                })
                .expect("reply");
            self.rx.push_back(HalFrame(reply));
        }
        Ok(None)
    }

    fn receive(&mut self) -> nb::Result<HalFrame, BusError> {
        self.rx.pop_front().ok_or(nb::Error::WouldBlock)
    }
}

/// The serial link's host end.
#[derive(Default)]
struct Serial {
    bytes: Vec<u8>,
}

impl embedded_io::ErrorType for Serial {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Serial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

struct Rig {
    bridge: Bridge,
    buses: Vec<Bus>,
    serial: Serial,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    now_us: u64,
}

fn codec(variant: MitVariant, id: u8) -> MitCodec {
    MitCodec {
        variant,
        ranges: MitRanges::CLASSIC,
        motor_id: id,
        master_id: 0,
    }
}

fn actuator(joint: u8, bus: u8, id: u8, variant: MitVariant) -> ActuatorSetup {
    ActuatorSetup {
        joint,
        bus,
        codec: codec(variant, id),
        direction: if joint.is_multiple_of(2) { 1 } else { -1 },
        offset_rad: 0.1 * joint as f32,
        damping_kd: 2.0,
        position_kp: 40.0,
        position_kd: 1.0,
        velocity_kd: 1.0,
    }
}

impl Rig {
    fn new(buses: usize) -> Rig {
        Rig {
            bridge: Bridge::new(FirmwareInfo {
                version: [0, 1, 0],
                buses: 4,
                servo_bus: false,
            }),
            buses: (0..buses).map(|_| Bus::default()).collect(),
            serial: Serial::default(),
            encoder: FrameEncoder::default(),
            decoder: FrameDecoder::default(),
            now_us: 0,
        }
    }

    fn send(&mut self, message: &HostMessage) -> Vec<BridgeMessage> {
        let mut out = [0u8; MAX_FRAME];
        let n = self.encoder.encode(message, &mut out).expect("fits");
        self.bridge
            .handle_serial(&out[..n], self.now_us, &mut self.serial)
            .expect("infallible");
        self.replies()
    }

    fn replies(&mut self) -> Vec<BridgeMessage> {
        let bytes = std::mem::take(&mut self.serial.bytes);
        let mut out = Vec::new();
        for b in bytes {
            if let Some(Ok(_)) = self.decoder.push(b) {
                out.push(
                    self.decoder
                        .message::<BridgeMessage>()
                        .expect("valid message"),
                );
            }
        }
        out
    }

    /// One 1 kHz cycle; returns the state batch.
    fn cycle(&mut self) -> StateBatch {
        self.now_us += 1000;
        self.bridge.start_cycle(self.now_us, &mut self.buses);
        self.bridge
            .finish_cycle(self.now_us, &mut self.buses, &mut self.serial)
            .expect("infallible");
        match self.replies().pop() {
            Some(BridgeMessage::Tick(batch)) => batch,
            other => panic!("expected a state batch, got {other:?}"),
        }
    }

    fn configure(&mut self, actuators: &[ActuatorSetup], buses: usize) {
        let mut setup = BridgeSetup {
            joints: actuators.len() as u8,
            buses: heapless::Vec::new(),
            period_us: 1000,
            watchdog_ms: 20,
            damping_ms: 50,
        };
        for _ in 0..buses {
            setup
                .buses
                .push(BusSetup { bitrate: 1_000_000 })
                .expect("≤ 4 buses");
        }
        assert_eq!(
            self.send(&HostMessage::Setup(setup)),
            vec![BridgeMessage::SetupAccepted]
        );
        for a in actuators {
            assert_eq!(
                self.send(&HostMessage::Actuator(*a)),
                vec![BridgeMessage::SetupAccepted]
            );
            self.buses[a.bus as usize].motors.push(Motor {
                codec: a.codec,
                p: 0.5,
                enabled: false,
                present: true,
                last: None,
            });
        }
    }

    fn tick(&mut self, seq: u32, commands: &[WireCommand]) {
        let mut batch = CommandBatch {
            seq,
            host_time_us: self.now_us,
            ..CommandBatch::default()
        };
        for c in commands {
            batch.commands.push(*c).expect("≤ 64");
        }
        assert!(self.send(&HostMessage::Tick(batch)).is_empty());
    }
}

fn four_classic() -> Vec<ActuatorSetup> {
    (0..4)
        .map(|j| actuator(j, 0, j + 1, MitVariant::Classic))
        .collect()
}

#[test]
fn the_handshake_checks_the_version() {
    let mut rig = Rig::new(1);
    let welcome = rig.send(&HostMessage::Hello {
        version: PROTOCOL_VERSION,
    });
    assert!(matches!(
        welcome[..],
        [BridgeMessage::Welcome {
            version: PROTOCOL_VERSION,
            max_buses: 4,
            ..
        }]
    ));
    let refused = rig.send(&HostMessage::Hello { version: 99 });
    assert_eq!(
        refused,
        vec![BridgeMessage::VersionMismatch {
            version: PROTOCOL_VERSION
        }]
    );
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let mut rig = Rig::new(1);
    let a = actuator(0, 0, 1, MitVariant::Classic);
    assert_eq!(
        rig.send(&HostMessage::Actuator(a)),
        vec![BridgeMessage::SetupRefused(SetupError::NoSetup)]
    );
    let mut five = four_classic();
    five.push(actuator(4, 0, 5, MitVariant::Classic));
    let mut setup = BridgeSetup {
        joints: 5,
        buses: heapless::Vec::new(),
        period_us: 1000,
        watchdog_ms: 20,
        damping_ms: 50,
    };
    setup
        .buses
        .push(BusSetup { bitrate: 1_000_000 })
        .expect("room");
    assert_eq!(
        rig.send(&HostMessage::Setup(setup)),
        vec![BridgeMessage::SetupAccepted]
    );
    for a in &five[..4] {
        assert_eq!(
            rig.send(&HostMessage::Actuator(*a)),
            vec![BridgeMessage::SetupAccepted]
        );
    }
    // A fifth command-and-reply pair does not fit in 1 ms of a 1 Mbit/s bus.
    assert_eq!(
        rig.send(&HostMessage::Actuator(five[4])),
        vec![BridgeMessage::SetupRefused(SetupError::OverBudget {
            bus: 0,
            cycle_us: 1250
        })]
    );
    let dup = actuator(4, 0, 2, MitVariant::Classic);
    assert_eq!(
        rig.send(&HostMessage::Actuator(dup)),
        vec![BridgeMessage::SetupRefused(SetupError::DuplicateId)]
    );
    let bad_joint = actuator(9, 0, 9, MitVariant::Classic);
    assert_eq!(
        rig.send(&HostMessage::Actuator(bad_joint)),
        vec![BridgeMessage::SetupRefused(SetupError::BadJoint)]
    );
    let mut bad = actuator(4, 0, 7, MitVariant::Classic);
    bad.direction = 0;
    assert_eq!(
        rig.send(&HostMessage::Actuator(bad)),
        vec![BridgeMessage::SetupRefused(SetupError::BadActuator)]
    );
    assert_eq!(rig.bridge.state(), BridgeState::Unconfigured);
}

#[test]
fn motors_stay_off_until_the_first_command_but_report_their_state() {
    let mut rig = Rig::new(1);
    rig.configure(&four_classic(), 1);
    let batch = rig.cycle();
    assert_eq!(batch.state, BridgeState::Idle);
    assert!(rig.buses[0].motors.iter().all(|m| !m.enabled));
    // Joint 1 runs backwards with offset 0.1: q = −p + 0.1.
    assert!((batch.joints[1].q - (-0.5 + 0.1)).abs() < 1e-3);
    assert!((batch.joints[0].q - 0.5).abs() < 1e-3);
    assert!(batch.joints.iter().all(|j| j.age_ticks == 0));
}

#[test]
fn commands_enable_the_motors_then_drive_them_with_direction_and_offset() {
    let mut rig = Rig::new(1);
    rig.configure(&four_classic(), 1);
    let hold = [WireCommand::Impedance {
        q: 0.4,
        dq: 0.0,
        kp: 10.0,
        kd: 0.5,
        tau_ff: 1.0,
    }; 4];
    rig.tick(1, &hold);
    let batch = rig.cycle();
    assert_eq!(batch.state, BridgeState::Active);
    assert!(rig.buses[0].motors.iter().all(|m| m.enabled));
    rig.tick(2, &hold);
    let batch = rig.cycle();
    assert_eq!(batch.seq, 2);
    // Joint 1: motor target p = −(0.4 − 0.1) = −0.3, t_ff = −1.
    let Some(MitRequest::Command(c)) = rig.buses[0].motors[1].last else {
        panic!("no command reached motor 2");
    };
    assert!((c.p + 0.3).abs() < 1e-3 && (c.t_ff + 1.0).abs() < 0.01);
    // Its reported torque comes back in joint direction.
    let expected = -(10.0 * (-0.3 - 0.5) - 1.0);
    // Within the quantisation of kp (12 bits over 0–500: 0.12 N·m/rad).
    assert!(
        (batch.joints[1].tau - expected).abs() < 0.15,
        "{}",
        batch.joints[1].tau
    );
    assert_eq!(batch.buses[0].frames_tx, 4 * 2);
}

#[test]
fn silence_means_damping_then_disabled_and_commands_bring_it_back() {
    let mut rig = Rig::new(1);
    rig.configure(&four_classic(), 1);
    rig.tick(1, &[WireCommand::Torque { tau: 2.0 }; 4]);
    rig.cycle();
    let mut states = Vec::new();
    let mut damping_request = None;
    for k in 0..100 {
        states.push(rig.cycle().state);
        if k == 25 {
            damping_request = rig.buses[0].motors[0].last;
        }
    }
    // 20 ms watchdog, then 50 ms of damping, then disabled.
    assert_eq!(states[15], BridgeState::Active);
    assert_eq!(states[25], BridgeState::Damping);
    let Some(MitRequest::Command(c)) = damping_request else {
        panic!("no damping command")
    };
    // Zero stiffness and (to within one 12-bit step of ±18 N·m) zero torque.
    assert_eq!(c.kp, 0.0);
    assert!(c.t_ff.abs() < 0.01);
    assert!((c.kd - 2.0).abs() < 0.01);
    assert_eq!(states[99], BridgeState::Disabled);
    assert!(rig.buses[0].motors.iter().all(|m| !m.enabled));
    rig.tick(2, &[WireCommand::Off; 4]);
    rig.cycle();
    assert_eq!(rig.cycle().state, BridgeState::Active);
    assert!(rig.buses[0].motors.iter().all(|m| m.enabled));
}

#[test]
fn a_silent_motor_ages_then_reports_comms_lost() {
    let mut rig = Rig::new(1);
    rig.configure(&four_classic(), 1);
    rig.buses[0].motors[2].present = false;
    let mut batch = rig.cycle();
    for _ in 1..REPLY_TIMEOUT_TICKS {
        batch = rig.cycle();
    }
    assert_eq!(batch.joints[2].age_ticks, REPLY_TIMEOUT_TICKS);
    assert!(batch.joints[2].faults.contains(MotorFaults::COMMS_LOST));
    assert_eq!(batch.joints[1].age_ticks, 0);
    assert_eq!(batch.buses[0].missed_replies, REPLY_TIMEOUT_TICKS as u32);
}

#[test]
fn garbage_on_the_serial_link_is_counted_and_survived() {
    let mut rig = Rig::new(1);
    rig.bridge
        .handle_serial(&[0x12, 0x00, 0xFF, 0xFE, 0x00, 0x00], 0, &mut rig.serial)
        .expect("infallible");
    assert_eq!(rig.bridge.frames_bad(), 2);
    let welcome = rig.send(&HostMessage::Hello {
        version: PROTOCOL_VERSION,
    });
    assert_eq!(welcome.len(), 1);
}

#[test]
fn two_buses_carry_four_actuators_each_at_one_kilohertz() {
    let mut rig = Rig::new(2);
    let actuators: Vec<ActuatorSetup> = (0..8)
        .map(|j| actuator(j, j / 4, j % 4 + 1, MitVariant::Classic))
        .collect();
    rig.configure(&actuators, 2);
    rig.tick(1, &[WireCommand::Off; 8]);
    let batch = rig.cycle();
    assert_eq!(batch.joints.len(), 8);
    assert_eq!(batch.buses.len(), 2);
    assert!(batch.buses.iter().all(|b| b.cycle_us == 1000));
    assert!(batch.joints.iter().all(|j| j.age_ticks == 0));
}

#[test]
fn damiao_and_robstride_motors_work_alike() {
    for variant in [MitVariant::DaMiao, MitVariant::Robstride] {
        let mut rig = Rig::new(1);
        let actuators: Vec<ActuatorSetup> =
            (0..3).map(|j| actuator(j, 0, j + 1, variant)).collect();
        rig.configure(&actuators, 1);
        rig.tick(1, &[WireCommand::Position { q: 0.2 }; 3]);
        rig.cycle();
        rig.tick(2, &[WireCommand::Position { q: 0.2 }; 3]);
        let batch = rig.cycle();
        assert!(rig.buses[0].motors.iter().all(|m| m.enabled), "{variant:?}");
        assert!((batch.joints[0].q - 0.5).abs() < 1e-3, "{variant:?}");
        assert!(
            (batch.joints[0].tau - 40.0 * (0.2 - 0.5)).abs() < 0.05,
            "{variant:?}: {}",
            batch.joints[0].tau
        );
    }
}
