//! The bridge firmware as the master of a serial servo bus: a `Bridge` configured by host
//! messages with so101's six servos on its servo UART (ids 1–6, 1 Mbaud, 500 Hz), run
//! cycle by cycle in one process against the virtual MCU's simulated Feetech STS and
//! Dynamixel X servos on the line. Once configured the servos report with their torque
//! off; the loop's positions move the simulator's joints there; the watchdog holds them
//! still, then turns their torque off, as does a new configuration without them; an
//! overheating servo's fault is its joint's (a Dynamixel's read from its hardware error
//! register), a lost one is lost communication; garbage and dropped answers on the line
//! are counted and never stop the others; setups that cannot work are refused; and
//! arbitrary bytes on the line never panic.

mod host_link;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use embody_bridge::travel_per_turn;
use embody_firmware_bridge::{Bridge, FirmwareInfo};
use embody_model::robots;
use embody_protocol::MotorFaults;
use embody_protocol::messages::{
    BridgeMessage, BridgeSetup, BridgeState, BusSetup, HostMessage, ServoActuatorSetup,
    ServoBusSetup, SetupError, StateBatch, WireCommand,
};
use embody_protocol::servo_master::ServoFamily;
use embody_sim::{Environment, SimConfig, World};
use embody_vmcu::servos::with_position_loop;
use embody_vmcu::{DeviceFault, Servos, SimBus, SimServoLine};
use host_link::HostLink;
use proptest::prelude::*;

/// Goals for so101's joints (the last, the gripper's finger, in m).
const GOALS: [f32; 6] = [0.3, -0.4, 0.5, 0.3, -0.2, 0.01];
const PERIOD_US: u64 = 2000;
const FAMILIES: [ServoFamily; 2] = [ServoFamily::Feetech, ServoFamily::Dynamixel];

/// The servo line with trouble on it: every `drop_every`-th cycle's answers are lost,
/// and `garbage` goes on the line before the answers.
struct Noisy {
    line: SimServoLine,
    /// The bridge wrote since the answers were last taken.
    wrote: bool,
    cycle: usize,
    drop_every: usize,
    garbage: Vec<u8>,
    waiting: VecDeque<u8>,
}

impl embedded_io::ErrorType for Noisy {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Noisy {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.wrote = true;
        self.line.write(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io::ReadReady for Noisy {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        use embedded_io::Read;
        if std::mem::take(&mut self.wrote) {
            // What the servos answered this cycle, after the garbage; lost on some.
            self.cycle += 1;
            let lost = self.drop_every > 0 && self.cycle.is_multiple_of(self.drop_every);
            self.waiting.extend(&self.garbage);
            let mut buf = [0u8; 256];
            while self.line.read_ready()? {
                let n = self.line.read(&mut buf)?;
                if !lost {
                    self.waiting.extend(&buf[..n]);
                }
            }
        }
        Ok(!self.waiting.is_empty())
    }
}

impl embedded_io::Read for Noisy {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.waiting.len());
        for (slot, byte) in buf.iter_mut().zip(self.waiting.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

/// A bridge with a servo UART, so101's simulated servos on it, and the host's side of
/// the link.
struct Rig {
    family: ServoFamily,
    bridge: Bridge,
    servos: Rc<RefCell<Servos>>,
    line: Noisy,
    host: HostLink,
    now_us: u64,
    seq: u32,
    travel: Vec<f32>,
}

impl Rig {
    /// Servos of `family` with ids 1–6; the bridge (with a servo UART or not) not yet
    /// configured.
    fn new(family: ServoFamily, servo_bus: bool) -> Rig {
        let model = Arc::new(robots::load("so101", Some(false)).expect("so101"));
        let travel = travel_per_turn(&model).iter().map(|t| *t as f32).collect();
        let sim = with_position_loop(family, SimConfig::default());
        let world = World::new(model, &Environment::default(), sim);
        let servos = Rc::new(RefCell::new(Servos::new(world, family)));
        Rig {
            family,
            bridge: Bridge::new(FirmwareInfo {
                version: [1, 0, 0],
                buses: 1,
                servo_bus,
            }),
            line: Noisy {
                line: SimServoLine::new(servos.clone()),
                wrote: false,
                cycle: 0,
                drop_every: 0,
                garbage: Vec::new(),
                waiting: VecDeque::new(),
            },
            servos,
            host: HostLink::default(),
            now_us: 0,
            seq: 0,
            travel,
        }
    }

    /// Sends `message`; the bridge's answers and anything else it sent since.
    fn send(&mut self, message: &HostMessage) -> Vec<BridgeMessage> {
        self.host.send(&mut self.bridge, message, self.now_us)
    }

    /// The bridge setup at `period_us`, the servo bus at 1 Mbaud, then `servos`, one
    /// message each: the answer to the last.
    fn configure(&mut self, period_us: u32, servos: &[ServoActuatorSetup]) -> BridgeMessage {
        assert_eq!(
            self.send(&HostMessage::Setup(bridge_setup(period_us))),
            [BridgeMessage::SetupAccepted]
        );
        let bus = ServoBusSetup {
            family: self.family,
            baud: 1_000_000,
        };
        let answer = self.send(&HostMessage::ServoBus(bus)).remove(0);
        if answer != BridgeMessage::SetupAccepted {
            return answer;
        }
        let mut last = BridgeMessage::SetupAccepted;
        for s in servos {
            last = self.send(&HostMessage::Servo(*s)).remove(0);
        }
        last
    }

    /// so101's joints on servos 1–6.
    fn servo_setups(&self) -> Vec<ServoActuatorSetup> {
        (0..6)
            .map(|k| ServoActuatorSetup {
                joint: k as u8,
                id: k as u8 + 1,
                travel_per_turn: self.travel[k],
                direction: 1,
                offset_rad: 0.0,
            })
            .collect()
    }

    /// `cycles` cycles at 500 Hz, each with `command` sent first when there is one: the
    /// state batches.
    fn run(
        &mut self,
        cycles: usize,
        command: Option<&dyn Fn(usize) -> WireCommand>,
    ) -> Vec<StateBatch> {
        let mut batches = Vec::new();
        let mut no_buses: [SimBus; 0] = [];
        for _ in 0..cycles {
            if let Some(command) = command {
                self.seq += 1;
                let tick = host_link::tick(self.seq, self.now_us, 6, command);
                self.send(&tick);
            }
            self.bridge.start_cycle(self.now_us, &mut no_buses);
            self.bridge
                .start_servo_cycle(&mut self.line)
                .expect("infallible");
            self.servos.borrow_mut().advance(PERIOD_US as f64 * 1e-6);
            self.bridge.finish_servo_cycle(&mut self.line);
            self.bridge
                .finish_cycle(self.now_us, &mut no_buses, &mut self.host.serial)
                .expect("infallible");
            for message in self.host.received() {
                if let BridgeMessage::Tick(batch) = message {
                    batches.push(batch);
                }
            }
            self.now_us += PERIOD_US;
        }
        batches
    }

    fn joint(&self, k: usize) -> f64 {
        self.servos.borrow().world().joint(k).0
    }
}

/// so101's six joints at `period_us`, one CAN bus (unused), a 50 ms watchdog and 200 ms
/// of damping.
fn bridge_setup(period_us: u32) -> BridgeSetup {
    let mut buses = heapless::Vec::new();
    let _ = buses.push(BusSetup { bitrate: 1_000_000 });
    BridgeSetup {
        joints: 6,
        buses,
        period_us,
        watchdog_ms: 50,
        damping_ms: 200,
    }
}

fn to_goals(k: usize) -> WireCommand {
    WireCommand::Position { q: GOALS[k] }
}

/// Whether every joint in `batch` reported this cycle, without a fault.
fn all_fresh(batch: &StateBatch) -> bool {
    (batch.joints.iter()).all(|j| j.age_ticks == 0 && j.faults == MotorFaults::NONE)
}

/// A configured rig of `family` whose servos have reached the goals.
fn at_goals(family: ServoFamily) -> Rig {
    let mut rig = Rig::new(family, true);
    let servos = rig.servo_setups();
    assert_eq!(rig.configure(2000, &servos), BridgeMessage::SetupAccepted);
    rig.run(1500, Some(&to_goals));
    rig
}

#[test]
fn the_bridge_masters_its_servos_and_drives_them_to_the_loops_positions() {
    for family in FAMILIES {
        let mut rig = Rig::new(family, true);
        let servos = rig.servo_setups();
        assert_eq!(rig.configure(2000, &servos), BridgeMessage::SetupAccepted);
        // Configured and idle: the servos report at once, their torque off.
        let batches = rig.run(20, None);
        assert!(batches.iter().all(all_fresh), "{family:?}: {batches:?}");
        assert_eq!(batches.last().map(|b| b.state), Some(BridgeState::Idle));
        let batches = rig.run(1500, Some(&to_goals));
        let last = batches.last().expect("states");
        assert_eq!(last.state, BridgeState::Active);
        for (k, goal) in GOALS.iter().enumerate() {
            let q = rig.joint(k);
            let tolerance = if k == 5 { 0.002 } else { 0.03 };
            assert!(
                (q - f64::from(*goal)).abs() < tolerance,
                "{family:?} joint {k}: the simulator's at {q:.4}, goal {goal}"
            );
            // The servo's counts: 4096 a turn.
            let count = f64::from(rig.travel[k]) / 4096.0;
            let said = last.joints[k];
            assert!(
                (f64::from(said.q) - q).abs() < count + 1e-3,
                "{family:?} joint {k}: {said:?}"
            );
            assert!(said.age_ticks == 0 && said.faults == MotorFaults::NONE);
        }
        let stats = rig.bridge.servo_bus_stats().expect("a servo bus");
        assert_eq!((stats.bus_errors, stats.missed_replies), (0, 0));
        // Six servos' exchange at 1 Mbaud.
        let us = family.tick_us(6, 1_000_000).ceil() as u32;
        assert_eq!(stats.cycle_us, us);
    }
}

#[test]
fn the_watchdog_holds_the_servos_still_then_turns_their_torque_off() {
    let mut rig = at_goals(ServoFamily::Feetech);
    let held: Vec<f64> = (0..6).map(|k| rig.joint(k)).collect();
    // Commands stop: damping after 50 ms, for 200 ms; the joints stay where they were.
    let batches = rig.run(100, None);
    assert!(batches.iter().any(|b| b.state == BridgeState::Damping));
    for (k, q) in held.iter().enumerate().take(5) {
        assert!(
            (rig.joint(k) - q).abs() < 0.02,
            "joint {k} moved while held"
        );
    }
    let batches = rig.run(100, None);
    assert_eq!(batches.last().map(|b| b.state), Some(BridgeState::Disabled));
    // Torque off: the shoulder's lift falls under gravity.
    rig.run(200, None);
    assert!(
        (rig.joint(1) - held[1]).abs() > 0.05,
        "the shoulder held at {:.3} with its torque off",
        rig.joint(1)
    );
}

#[test]
fn servos_dropped_from_the_configuration_let_go() {
    for family in FAMILIES {
        let mut rig = at_goals(family);
        let held = rig.joint(1);
        // The host configures the bridge anew (as after a reconnection), without servos:
        // the servos it drove are told to let go, and the shoulder falls.
        assert_eq!(
            rig.send(&HostMessage::Setup(bridge_setup(2000))),
            [BridgeMessage::SetupAccepted]
        );
        rig.run(200, None);
        assert!(
            (rig.joint(1) - held).abs() > 0.05,
            "{family:?}: the shoulder held at {:.3} after its servo was dropped",
            rig.joint(1)
        );
    }
}

#[test]
fn an_overheating_servo_is_its_joints_fault_and_a_lost_one_lost_communication() {
    for family in FAMILIES {
        let mut rig = at_goals(family);
        rig.servos.borrow_mut().inject(2, DeviceFault::Overheat);
        rig.servos.borrow_mut().inject(4, DeviceFault::Lost);
        let batches = rig.run(20, Some(&to_goals));
        let last = batches.last().expect("states");
        assert!(
            last.joints[2]
                .faults
                .contains(MotorFaults::ROTOR_OVER_TEMPERATURE),
            "{family:?}: {:?}",
            last.joints[2]
        );
        assert!(last.joints[4].faults.contains(MotorFaults::COMMS_LOST));
        assert!(last.joints[4].age_ticks >= 10);
        for k in [0, 1, 3, 5] {
            let j = last.joints[k];
            assert!(
                j.age_ticks == 0 && j.faults == MotorFaults::NONE,
                "{k}: {j:?}"
            );
        }
        // The lost servo comes back: its joint reports again, without a fault.
        rig.servos.borrow_mut().clear(4);
        let batches = rig.run(5, Some(&to_goals));
        let back = batches.last().expect("states").joints[4];
        assert!(back.age_ticks == 0 && back.faults == MotorFaults::NONE);
    }
}

#[test]
fn garbage_and_dropped_answers_on_the_line_are_counted_and_the_servos_still_follow() {
    for family in FAMILIES {
        let mut rig = Rig::new(family, true);
        let servos = rig.servo_setups();
        assert_eq!(rig.configure(2000, &servos), BridgeMessage::SetupAccepted);
        rig.line.drop_every = 5;
        // Noise, then a status packet of servo 1 with a wrong checksum or CRC.
        rig.line.garbage = match family {
            ServoFamily::Feetech => vec![0x13, 0x37, 0xFF, 0xFF, 0x01, 0x02, 0x00, 0x55],
            ServoFamily::Dynamixel => vec![
                0x13, 0x37, 0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x04, 0x00, 0x55, 0x00, 0xAB, 0xCD,
            ],
        };
        let batches = rig.run(1500, Some(&to_goals));
        for (k, goal) in GOALS.iter().enumerate().take(5) {
            let q = rig.joint(k);
            assert!(
                (q - f64::from(*goal)).abs() < 0.03,
                "{family:?} joint {k}: {q}"
            );
        }
        // A fifth of the cycles heard nothing: those joints aged a tick, no more.
        assert!(
            batches
                .iter()
                .all(|b| b.joints.iter().all(|j| j.age_ticks <= 1))
        );
        let stats = rig.bridge.servo_bus_stats().expect("a servo bus");
        assert_eq!(stats.missed_replies, 6 * 1500 / 5, "{family:?}: {stats:?}");
        assert!(stats.bus_errors > 0, "{family:?}: {stats:?}");
    }
}

#[test]
fn servo_setups_that_cannot_work_are_refused() {
    let mut rig = Rig::new(ServoFamily::Feetech, false);
    let servos = rig.servo_setups();
    // No servo UART on this bridge.
    assert_eq!(
        rig.configure(2000, &servos),
        BridgeMessage::SetupRefused(SetupError::BadBus)
    );
    // A servo before its bus.
    assert_eq!(
        rig.send(&HostMessage::Servo(servos[0])),
        [BridgeMessage::SetupRefused(SetupError::BusKind)]
    );
    let mut rig = Rig::new(ServoFamily::Feetech, true);
    // Six STS servos need 1,120 µs of the bus: not at 1 kHz.
    let refused = rig.configure(1000, &servos);
    assert_eq!(
        refused,
        BridgeMessage::SetupRefused(SetupError::ServoBudget { cycle_us: 1120 })
    );
    let mut twice = servos.clone();
    twice[3].id = 2;
    assert_eq!(
        rig.configure(2000, &twice[..4]),
        BridgeMessage::SetupRefused(SetupError::DuplicateId)
    );
    let broadcast = ServoActuatorSetup {
        id: 254,
        ..servos[0]
    };
    assert_eq!(
        rig.send(&HostMessage::Servo(broadcast)),
        [BridgeMessage::SetupRefused(SetupError::BadActuator)]
    );
    // Until every joint has its servo, nothing runs.
    assert_eq!(
        rig.run(3, None).last().map(|b| b.state),
        Some(BridgeState::Unconfigured)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_on_the_line_never_panic_the_bridge(
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
        dynamixel in any::<bool>(),
    ) {
        let family = FAMILIES[usize::from(dynamixel)];
        let mut rig = Rig::new(family, true);
        let servos = rig.servo_setups();
        prop_assert_eq!(rig.configure(2000, &servos), BridgeMessage::SetupAccepted);
        rig.line.garbage = garbage;
        let batches = rig.run(4, Some(&to_goals));
        prop_assert_eq!(batches.len(), 4);
    }
}
