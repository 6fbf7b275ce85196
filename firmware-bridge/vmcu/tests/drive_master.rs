//! The bridge firmware's CANopen master (`embody_firmware_bridge::drive_master`) against
//! the virtual MCU's simulated CiA 402 drives, in one process and cycle by cycle as the
//! firmware runs it: it sets every drive up by SDO without blocking, starts them, and
//! drives arm7's joints in CSP to goals the simulator's joints reach; a drive's fault
//! (its emergency and fault state) is its joint's until commanded off and on, a node
//! that never answers is given up on while the others run, and a drive whose heartbeat
//! stops is lost, then set up again when it boots.

use std::sync::Arc;

use embody_bridge::{DriveScale, travel_per_turn};
use embody_firmware_bridge::drive_master::{
    DriveFailure, DriveMaster, DriveSetup, DriveState, JointTarget, MasterSetup, Phase,
};
use embody_model::robots;
use embody_protocol::CanFrame;
use embody_protocol::canopen::cia402::Mode;
use embody_protocol::cia402_master::PdoLayout;
use embody_sim::{Environment, SimConfig, World};
use embody_vmcu::{DeviceFault, Drives};

const GOALS: [f64; 7] = [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, -0.1];
const PERIOD_S: f64 = 0.001;

/// arm7's drives on one bus, and a master set up for `nodes` of them in `layout`.
struct Bench {
    drives: Drives,
    master: DriveMaster,
    now_us: u64,
}

impl Bench {
    fn new(layout: PdoLayout, nodes: &[u8]) -> Bench {
        let model = Arc::new(robots::load("arm7", Some(false)).expect("arm7"));
        let travel = travel_per_turn(&model);
        let world = World::new(model, &Environment::default(), SimConfig::default());
        let scale = DriveScale::default();
        let drives = Drives::new(world, scale);
        let setup = MasterSetup {
            drives: (nodes.iter().zip(&travel))
                .map(|(&node, &travel)| DriveSetup {
                    node,
                    counts_per_unit: scale.counts(travel) as f32,
                })
                .collect(),
            mode: Mode::CyclicPosition,
            layout,
            heartbeat_ms: 50,
            host_node: 0x7F,
        };
        Bench {
            drives,
            master: DriveMaster::new(setup).expect("a setup the master takes"),
            now_us: 0,
        }
    }

    /// `cycles` cycles towards `target(k)`: the master's frames go to the drives, the
    /// simulation advances a period, the drives' answers go back.
    fn run(&mut self, cycles: usize, target: impl Fn(usize) -> JointTarget) {
        let targets: Vec<JointTarget> = (0..8).map(target).collect();
        for _ in 0..cycles {
            let mut sent: Vec<CanFrame> = Vec::new();
            self.master
                .cycle(self.now_us, PERIOD_S as f32, &targets, |f| sent.push(f));
            let mut answers = Vec::new();
            for frame in &sent {
                self.drives.on_frame(frame, &mut answers);
            }
            self.drives.advance(PERIOD_S, &mut answers);
            for frame in &answers {
                self.master.take(frame, self.now_us);
            }
            self.now_us += (PERIOD_S * 1e6) as u64;
        }
    }

    fn state(&self, k: usize) -> DriveState {
        self.master.state(k).expect("a joint")
    }
}

fn to_goals(k: usize) -> JointTarget {
    JointTarget::Position(GOALS.get(k).copied().unwrap_or(0.0) as f32)
}

#[test]
fn the_firmware_master_sets_up_and_drives_the_simulated_drives_in_csp() {
    for layout in [PdoLayout::Full, PdoLayout::Compact] {
        let mut bench = Bench::new(layout, &[1, 2, 3, 4, 5, 6, 7, 8]);
        // 3 reads and 31 (or 25) writes a drive, the drives side by side: in well under
        // 100 cycles, while the joints are not commanded.
        bench.run(100, |_| JointTarget::Off);
        assert!(
            bench.master.running(),
            "{layout:?}: {:?}",
            bench.master.phase(0)
        );
        bench.run(2500, to_goals);
        for (k, goal) in GOALS.iter().enumerate() {
            let (q, _) = bench.drives.world().joint(k);
            assert!(
                (q - goal).abs() < 0.02,
                "{layout:?} joint {k}: the simulator's at {q:.4}, goal {goal}"
            );
            let said = bench.state(k);
            // What the TPDO said at the last SYNC: within the last period's motion.
            assert!(
                (f64::from(said.q) - q).abs() < 1e-3,
                "{layout:?} joint {k}: {said:?}"
            );
            assert!(
                !said.fault && !said.heartbeat_lost,
                "{layout:?} joint {k}: {said:?}"
            );
        }
        assert_eq!(bench.master.bad_frames, 0);
        assert_eq!(
            bench.drives.bad_frames, 0,
            "{layout:?}: the drives took every frame"
        );
    }
}

#[test]
fn a_drive_fault_is_its_joints_until_commanded_off_and_on() {
    let mut bench = Bench::new(PdoLayout::Full, &[1, 2, 3, 4, 5, 6, 7, 8]);
    bench.run(100, |_| JointTarget::Off);
    bench.run(500, to_goals);
    let mut emergency = Vec::new();
    bench
        .drives
        .inject(2, DeviceFault::Overheat, &mut emergency);
    for frame in &emergency {
        bench.master.take(frame, bench.now_us);
    }
    bench.run(50, to_goals);
    let faulted = bench.state(2);
    assert!(faulted.fault, "{faulted:?}");
    assert_eq!(faulted.error_code, 0x4210, "over-temperature");
    assert!(!bench.state(1).fault && !bench.state(3).fault);
    // Cleared at the drive, but still commanded: the master does not reset it into
    // motion behind the loop's back.
    bench.drives.clear(2);
    bench.run(50, to_goals);
    assert!(bench.state(2).fault, "held off while commanded");
    // Off, then on again: reset, enabled, and it follows.
    bench.run(20, |_| JointTarget::Off);
    bench.run(1500, to_goals);
    let (q, _) = bench.drives.world().joint(2);
    assert!(
        !bench.state(2).fault && (q - GOALS[2]).abs() < 0.02,
        "at {q:.4}"
    );
}

#[test]
fn a_node_that_never_answers_is_given_up_on_while_the_others_run() {
    // Node 9 is on no drive: its requests time out three times.
    let mut bench = Bench::new(PdoLayout::Compact, &[1, 2, 9]);
    bench.run(500, |k| if k < 2 { to_goals(k) } else { JointTarget::Off });
    assert_eq!(bench.master.phase(0), Some(Phase::Running));
    assert_eq!(bench.master.phase(1), Some(Phase::Running));
    assert_eq!(
        bench.master.phase(2),
        Some(Phase::Failed(DriveFailure::Silent))
    );
    let (q, _) = bench.drives.world().joint(0);
    assert!((q - GOALS[0]).abs() < 0.05, "joint 0 moves: at {q:.4}");
}

#[test]
fn a_drive_that_stops_its_heartbeat_is_lost_and_set_up_again_when_it_boots() {
    let mut bench = Bench::new(PdoLayout::Full, &[1, 2, 3, 4, 5, 6, 7, 8]);
    bench.run(300, to_goals);
    let mut nothing = Vec::new();
    bench.drives.inject(4, DeviceFault::Lost, &mut nothing);
    bench.run(200, to_goals);
    assert!(bench.state(4).heartbeat_lost, "{:?}", bench.state(4));
    assert!(!bench.state(3).heartbeat_lost);
    // Back on the bus it boots: the master sets it up again and it drives once more.
    bench.drives.clear(4);
    bench.run(2000, to_goals);
    assert_eq!(bench.master.phase(4), Some(Phase::Running));
    let (q, _) = bench.drives.world().joint(4);
    assert!(
        !bench.state(4).heartbeat_lost && (q - GOALS[4]).abs() < 0.02,
        "at {q:.4}"
    );
}
