//! The bridge firmware as the CANopen master of CiA 402 drives: a `Bridge` configured by
//! host messages with arm7's eight drives on two buses (nodes 1–4 and 5–8, CSP, compact
//! PDOs, 1 kHz), run cycle by cycle in one process against the virtual MCU's simulated
//! drives on its simulated buses. It sets the drives up on its own once configured, the
//! loop's positions move the simulator's joints there (each drive hearing only its own
//! bus, so one set up on the wrong bus is not found), the watchdog holds the drives
//! still and then switches them off, a drive's fault is its joint's, a node that never
//! answers is told to the host once, and setups that cannot work are refused; any setup
//! messages and any frames on its buses are taken without a panic.

mod host_link;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use embody_bridge::{DriveScale, travel_per_turn};
use embody_firmware_bridge::{Bridge, FirmwareInfo};
use embody_model::robots;
use embody_protocol::canopen::cia402::{Mode, State};
use embody_protocol::cia402_master::{DriveFailure, PdoLayout};
use embody_protocol::messages::{
    ActuatorSetup, BridgeMessage, BridgeSetup, BridgeState, BusSetup, DriveActuatorSetup,
    DriveBusSetup, HostMessage, SetupError, StateBatch, WireCommand,
};
use embody_protocol::{CanFrame, CanId, MitCodec, MitVariant, MotorFaults};
use embody_sim::{Environment, SimConfig, World};
use embody_vmcu::{CanDevices, DeviceFault, Drives, SimBus};
use host_link::HostLink;
use proptest::prelude::*;

const GOALS: [f32; 8] = [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, -0.1, 0.01];
const PERIOD_US: u64 = 1000;

/// A bridge, arm7's simulated drives on two simulated buses, and the host's side of
/// the link.
struct Rig {
    bridge: Bridge,
    drives: Rc<RefCell<Drives>>,
    buses: Vec<SimBus>,
    host: HostLink,
    now_us: u64,
    seq: u32,
    counts: Vec<f32>,
}

impl Rig {
    /// Drives on nodes `nodes` (joint order); the bridge not yet configured.
    fn new(nodes: &[u8]) -> Rig {
        let model = Arc::new(robots::load("arm7", Some(false)).expect("arm7"));
        let scale = DriveScale::default();
        let counts = travel_per_turn(&model)
            .iter()
            .map(|t| scale.counts(*t) as f32)
            .collect();
        let world = World::new(model, &Environment::default(), SimConfig::default());
        // Joints 0–3 on bus 0, 4–7 on bus 1: a drive hears only its own bus.
        let buses = [0, 0, 0, 0, 1, 1, 1, 1];
        let drives = Drives::with_nodes(world, &[scale], nodes).on_buses(&buses);
        let drives = Rc::new(RefCell::new(drives));
        let devices: Rc<RefCell<dyn CanDevices>> = drives.clone();
        Rig {
            bridge: Bridge::new(FirmwareInfo {
                version: [1, 0, 0],
                buses: 2,
                servo_bus: false,
            }),
            buses: (0..2).map(|b| SimBus::new(b, devices.clone())).collect(),
            drives,
            host: HostLink::default(),
            now_us: 0,
            seq: 0,
            counts,
        }
    }

    /// Sends `message`; the bridge's answers and anything else it sent since.
    fn send(&mut self, message: &HostMessage) -> Vec<BridgeMessage> {
        self.host.send(&mut self.bridge, message, self.now_us)
    }

    /// The bridge setup for 1 kHz, 2 buses at 1 Mbit/s, and the drive buses; `drives`
    /// then, one message each: the answer to the last.
    fn configure(&mut self, drives: &[DriveActuatorSetup]) -> BridgeMessage {
        let mut buses = heapless::Vec::new();
        for _ in 0..2 {
            let _ = buses.push(BusSetup { bitrate: 1_000_000 });
        }
        let setup = BridgeSetup {
            joints: 8,
            buses,
            period_us: PERIOD_US as u32,
            watchdog_ms: 50,
            damping_ms: 200,
        };
        assert_eq!(
            self.send(&HostMessage::Setup(setup)),
            [BridgeMessage::SetupAccepted]
        );
        for bus in 0..2 {
            let answer = self.send(&HostMessage::DriveBus(drive_bus(bus)));
            assert_eq!(answer, [BridgeMessage::SetupAccepted]);
        }
        let mut last = BridgeMessage::SetupAccepted;
        for d in drives {
            last = self.send(&HostMessage::Drive(*d)).remove(0);
        }
        last
    }

    /// Arm7's joints on their drives: joints 0–3 on bus 0, 4–7 on bus 1, nodes `k + 1`.
    fn drives(&self) -> Vec<DriveActuatorSetup> {
        (0..8)
            .map(|k| DriveActuatorSetup {
                joint: k as u8,
                bus: u8::from(k >= 4),
                node: k as u8 + 1,
                counts_per_unit: self.counts[k],
                direction: 1,
                offset_rad: 0.0,
            })
            .collect()
    }

    /// `cycles` cycles at 1 kHz, each with `command` sent first when there is one: the
    /// state batches, and everything else the bridge sent.
    fn run(
        &mut self,
        cycles: usize,
        command: Option<&dyn Fn(usize) -> WireCommand>,
    ) -> (Vec<StateBatch>, Vec<BridgeMessage>) {
        let (mut batches, mut others) = (Vec::new(), Vec::new());
        for _ in 0..cycles {
            if let Some(command) = command {
                self.seq += 1;
                let tick = host_link::tick(self.seq, self.now_us, 8, command);
                others.extend(self.send(&tick));
            }
            self.bridge.start_cycle(self.now_us, &mut self.buses);
            let mut sent = Vec::new();
            self.drives
                .borrow_mut()
                .advance_on_buses(PERIOD_US as f64 * 1e-6, &mut sent);
            SimBus::deliver_on(&mut self.buses, &sent);
            self.bridge
                .finish_cycle(self.now_us, &mut self.buses, &mut self.host.serial)
                .expect("infallible");
            for message in self.host.received() {
                match message {
                    BridgeMessage::Tick(batch) => batches.push(batch),
                    other => others.push(other),
                }
            }
            self.now_us += PERIOD_US;
        }
        (batches, others)
    }

    fn joint(&self, k: usize) -> f64 {
        self.drives.borrow().world().joint(k).0
    }
}

fn drive_bus(bus: u8) -> DriveBusSetup {
    DriveBusSetup {
        bus,
        mode: Mode::CyclicPosition,
        layout: PdoLayout::Compact,
        heartbeat_ms: 50,
    }
}

fn to_goals(k: usize) -> WireCommand {
    WireCommand::Position { q: GOALS[k] }
}

/// Whether every joint in `batch` reported this cycle, without a fault.
fn all_fresh(batch: &StateBatch) -> bool {
    batch
        .joints
        .iter()
        .all(|j| j.age_ticks == 0 && j.faults == MotorFaults::NONE)
}

#[test]
fn the_bridge_sets_up_its_drives_and_drives_them_to_the_loops_positions() {
    let mut rig = Rig::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let drives = rig.drives();
    assert_eq!(rig.configure(&drives), BridgeMessage::SetupAccepted);
    // Configured and idle: the bridge sets the drives up by itself, both buses side by
    // side, and they report before the first command.
    let (batches, others) = rig.run(200, None);
    assert!(others.is_empty(), "{others:?}");
    let first = batches
        .iter()
        .position(all_fresh)
        .expect("the drives report");
    assert!(first < 100, "reporting after {first} cycles");
    assert_eq!(batches.last().map(|b| b.state), Some(BridgeState::Idle));
    for k in 0..8 {
        assert_ne!(rig.drives.borrow().state(k), State::OperationEnabled);
    }
    let (batches, _) = rig.run(2500, Some(&to_goals));
    let last = batches.last().expect("states");
    assert_eq!(last.state, BridgeState::Active);
    for (k, goal) in GOALS.iter().enumerate() {
        let q = rig.joint(k);
        assert!(
            (q - f64::from(*goal)).abs() < 0.02,
            "joint {k}: the simulator's at {q:.4}, goal {goal}"
        );
        let said = last.joints[k];
        assert!((f64::from(said.q) - q).abs() < 1e-3, "joint {k}: {said:?}");
        assert!(said.age_ticks == 0 && said.faults == MotorFaults::NONE);
    }
    // Two buses of four compact drives at 1 Mbit/s: 975 µs each, as budgeted.
    for bus in &last.buses {
        assert_eq!(bus.cycle_us, 975);
        assert_eq!(bus.bus_errors, 0);
    }
    assert_eq!(rig.drives.borrow().bad_frames, 0);
}

#[test]
fn the_watchdog_holds_the_drives_still_then_switches_them_off() {
    let mut rig = Rig::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let drives = rig.drives();
    rig.configure(&drives);
    rig.run(200, None);
    rig.run(2000, Some(&to_goals));
    // Silence: after 50 ms the bridge damps, which for CSP drives is holding where they
    // are, still enabled.
    let (batches, _) = rig.run(150, None);
    assert_eq!(batches.last().map(|b| b.state), Some(BridgeState::Damping));
    for (k, goal) in GOALS.iter().enumerate() {
        assert_eq!(rig.drives.borrow().state(k), State::OperationEnabled);
        assert!((rig.joint(k) - f64::from(*goal)).abs() < 0.02, "joint {k}");
    }
    // After the damping time, off.
    let (batches, _) = rig.run(200, None);
    assert_eq!(batches.last().map(|b| b.state), Some(BridgeState::Disabled));
    for k in 0..8 {
        assert_ne!(rig.drives.borrow().state(k), State::OperationEnabled);
    }
    // Commands bring them back, to new goals (halfway home).
    rig.run(2500, Some(&|k| WireCommand::Position { q: GOALS[k] / 2.0 }));
    for (k, goal) in GOALS.iter().enumerate() {
        assert_eq!(rig.drives.borrow().state(k), State::OperationEnabled);
        let q = rig.joint(k);
        assert!(
            (q - f64::from(goal / 2.0)).abs() < 0.02,
            "joint {k} at {q:.4}"
        );
    }
}

#[test]
fn a_drive_fault_is_its_joints_and_a_silent_node_is_told_once() {
    // Node 9 is not on the bus: joint 7's drive never answers.
    let mut rig = Rig::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut drives = rig.drives();
    drives[7].node = 9;
    rig.configure(&drives);
    let (batches, others) = rig.run(1000, None);
    assert_eq!(
        others,
        [BridgeMessage::DriveFailed {
            joint: 7,
            failure: DriveFailure::Silent
        }]
    );
    let last = batches.last().expect("states");
    assert!(last.joints[7].faults.contains(MotorFaults::COMMS_LOST));
    assert!(
        last.joints[..7]
            .iter()
            .all(|j| j.faults == MotorFaults::NONE)
    );
    // The others run; an over-temperature on joint 2's drive is its joint's fault.
    rig.run(300, Some(&to_goals));
    let mut emergency = Vec::new();
    rig.drives
        .borrow_mut()
        .inject(2, DeviceFault::Overheat, &mut emergency);
    rig.buses[0].deliver(&emergency);
    let (batches, others) = rig.run(50, Some(&to_goals));
    assert!(others.is_empty(), "told once: {others:?}");
    let faults = batches.last().expect("states").joints[2].faults;
    assert!(
        faults.contains(MotorFaults::DRIVER_OVER_TEMPERATURE),
        "{faults:?}"
    );
}

#[test]
fn a_drive_set_up_on_another_bus_than_its_own_is_not_found() {
    // Joints 0 and 4 swapped in the host's setup: joint 0's drive is on bus 0, joint 4's
    // on bus 1, and the host says the other way round (four a bus either way).
    let mut rig = Rig::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut drives = rig.drives();
    (drives[0].bus, drives[4].bus) = (1, 0);
    assert_eq!(rig.configure(&drives), BridgeMessage::SetupAccepted);
    let (batches, mut others) = rig.run(1000, None);
    others.sort_by_key(|m| match m {
        BridgeMessage::DriveFailed { joint, .. } => *joint,
        _ => u8::MAX,
    });
    let silent = |joint| BridgeMessage::DriveFailed {
        joint,
        failure: DriveFailure::Silent,
    };
    assert_eq!(others, [silent(0), silent(4)]);
    let last = batches.last().expect("states");
    for (k, j) in last.joints.iter().enumerate() {
        let lost = j.faults.contains(MotorFaults::COMMS_LOST);
        assert_eq!(lost, k == 0 || k == 4, "joint {k}: {j:?}");
    }
}

#[test]
fn drive_setups_that_cannot_work_are_refused() {
    let mut rig = Rig::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let drives = rig.drives();
    let refused = |why| vec![BridgeMessage::SetupRefused(why)];
    // A drive before any setup.
    assert_eq!(
        rig.send(&HostMessage::Drive(drives[0])),
        refused(SetupError::NoSetup)
    );
    rig.configure(&drives[..4]);
    // Joint 0's node again for joint 1; a fifth drive on a bus that fits four at 1 kHz.
    let same_node = DriveActuatorSetup {
        joint: 1,
        ..drives[0]
    };
    assert_eq!(
        rig.send(&HostMessage::Drive(same_node)),
        refused(SetupError::DuplicateId)
    );
    let fifth = DriveActuatorSetup {
        bus: 0,
        ..drives[4]
    };
    assert_eq!(
        rig.send(&HostMessage::Drive(fifth)),
        refused(SetupError::OverBudget {
            bus: 0,
            cycle_us: 55 + 5 * 230
        })
    );
    let zero_counts = DriveActuatorSetup {
        counts_per_unit: 0.0,
        ..drives[4]
    };
    assert_eq!(
        rig.send(&HostMessage::Drive(zero_counts)),
        refused(SetupError::BadActuator)
    );
    // An MIT motor on a bus of drives; a drive bus in a mode that is not cyclic.
    let motor = ActuatorSetup {
        joint: 4,
        bus: 1,
        codec: MitCodec {
            variant: MitVariant::Classic,
            ranges: embody_protocol::MitRanges::CLASSIC,
            motor_id: 1,
            master_id: 0,
        },
        direction: 1,
        offset_rad: 0.0,
        damping_kd: 1.0,
        position_kp: 10.0,
        position_kd: 1.0,
        velocity_kd: 1.0,
    };
    assert_eq!(
        rig.send(&HostMessage::Actuator(motor)),
        refused(SetupError::BusKind)
    );
    let profile = DriveBusSetup {
        mode: Mode::ProfilePosition,
        ..drive_bus(1)
    };
    assert_eq!(
        rig.send(&HostMessage::DriveBus(profile)),
        refused(SetupError::DriveMode)
    );
    // What is left fits: the setup completes.
    for d in &drives[4..] {
        assert_eq!(
            rig.send(&HostMessage::Drive(*d)),
            [BridgeMessage::SetupAccepted]
        );
    }
    let (batches, _) = rig.run(200, None);
    assert!(batches.iter().any(all_fresh));
}

/// Any setup message a host might send about drives and buses.
fn setup_message() -> impl Strategy<Value = HostMessage> {
    let modes = [
        Mode::None,
        Mode::ProfilePosition,
        Mode::CyclicPosition,
        Mode::CyclicVelocity,
        Mode::CyclicTorque,
    ];
    prop_oneof![
        (0u8..10, 1usize..=3, 0u32..3000).prop_map(|(joints, buses, period_us)| {
            let mut setup = BridgeSetup {
                joints,
                buses: heapless::Vec::new(),
                period_us,
                watchdog_ms: 50,
                damping_ms: 100,
            };
            for _ in 0..buses {
                let _ = setup.buses.push(BusSetup { bitrate: 1_000_000 });
            }
            HostMessage::Setup(setup)
        }),
        (0u8..4, 0..modes.len(), any::<bool>(), any::<u16>()).prop_map(
            move |(bus, mode, full, heartbeat_ms)| {
                HostMessage::DriveBus(DriveBusSetup {
                    bus,
                    mode: modes[mode],
                    layout: if full {
                        PdoLayout::Full
                    } else {
                        PdoLayout::Compact
                    },
                    heartbeat_ms,
                })
            }
        ),
        (
            0u8..10,
            0u8..4,
            any::<u8>(),
            any::<f32>(),
            any::<i8>(),
            any::<f32>()
        )
            .prop_map(
                |(joint, bus, node, counts_per_unit, direction, offset_rad)| {
                    HostMessage::Drive(DriveActuatorSetup {
                        joint,
                        bus,
                        node,
                        counts_per_unit,
                        direction,
                        offset_rad,
                    })
                }
            ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any drive setups, then any frames on the buses among the drives' own: every setup
    /// message is answered, accepted or refused, and the bridge runs on without a panic,
    /// its joint states finite.
    #[test]
    fn any_drive_setups_and_bus_frames_are_taken_without_a_panic(
        messages in prop::collection::vec(setup_message(), 0..24),
        frames in prop::collection::vec((0u16..0x800, prop::collection::vec(any::<u8>(), 0..=8)), 0..150),
    ) {
        let mut rig = Rig::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
        for message in &messages {
            let answers = rig.send(message);
            let answered = matches!(
                answers.as_slice(),
                [BridgeMessage::SetupAccepted | BridgeMessage::SetupRefused(_)]
            );
            prop_assert!(answered, "{message:?}: {answers:?}");
        }
        for (k, (id, data)) in frames.iter().enumerate() {
            let frame = CanFrame::new(CanId::Standard(*id), data).expect("a standard frame");
            rig.buses[k % 2].deliver(&[frame]);
            let (batches, _) = rig.run(1, Some(&to_goals));
            for batch in &batches {
                for j in &batch.joints {
                    prop_assert!(j.q.is_finite() && j.dq.is_finite() && j.tau.is_finite());
                }
            }
        }
    }
}
