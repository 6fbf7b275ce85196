//! Proves the tick allocates nothing: a counting global allocator watches thousands of
//! ticks of the arm and the humanoid, with segments streaming in, a controller switch,
//! a link fault with its damping, a reset and a restart.

use embody_testkit::{Counting, allocations};
use std::sync::Arc;

use embody_control::{
    ControlConfig, ControllerKind, Interpolation, JointPoint, LoopCommand, LoopCore, Request,
    Segment,
};
use embody_hal::{MockRobot, Robot, Timestamp};
use embody_model::robots;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn exercise(name: &str, mut robot: MockRobot, floating: bool) {
    let model = Arc::new(robots::load(name, Some(floating)).expect("built-in robot"));
    let faults = robot.faults();
    let (mut core, client) =
        LoopCore::new(model, robot.capabilities(), ControlConfig::default()).expect("loop");
    let n = robot.capabilities().joints.len();
    let mut tick = 0u64;
    let mut run = |core: &mut LoopCore, robot: &mut MockRobot, ticks: u64| {
        for _ in 0..ticks {
            tick += 1;
            core.tick(robot, Timestamp::from_nanos(tick * 1_000_000));
        }
    };
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    // Warm-up outside the count (first-tick initialisation of the filters).
    run(&mut core, &mut robot, 10);
    let before = allocations();
    for k in 0..200 {
        let mut point = JointPoint::ZERO;
        point.q[0] = 0.1 * (k as f64 * 0.01).sin();
        client
            .send_segment(Segment {
                duration_s: 0.01,
                end: point,
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
        run(&mut core, &mut robot, 10);
        match k {
            50 => client
                .send(LoopCommand::SetController(ControllerKind::ComputedTorque))
                .expect("queue"),
            100 => client
                .send(LoopCommand::SetController(
                    ControllerKind::CartesianImpedance,
                ))
                .expect("queue"),
            150 => faults.set_link_down(true),
            160 => {
                faults.set_link_down(false);
                client.request(Request::Reset).expect("queue");
            }
            _ => {}
        }
    }
    run(&mut core, &mut robot, 1000);
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    run(&mut core, &mut robot, 100);
    let allocations = allocations() - before;
    assert_eq!(
        allocations, 0,
        "{name}: {allocations} allocations in 3100 ticks"
    );
    let events = client.drain_events();
    assert!(
        events.len() > 8,
        "{name}: the run went through its transitions: {events:?}"
    );
    assert_eq!(n, core.last_commands().joints.len());
}

#[test]
fn the_tick_never_allocates() {
    let arm = robots::load("arm7", None).expect("arm7");
    exercise("arm7", MockRobot::new(&arm), false);
    let humanoid = robots::load("humanoid", Some(false)).expect("humanoid");
    let robot = MockRobot::new(&humanoid)
        .with_imu("imu_link")
        .with_stance_sensors(&["left_sole", "right_sole"], 490.0);
    exercise("humanoid", robot, true);
}
