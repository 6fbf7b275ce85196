//! The simulator is real-time safe: stepping the world (both integrators, with
//! contacts), and the robot's read and write under the loop, with faults switching,
//! allocate nothing.

mod common;

use embody_control::ControlConfig;
use embody_hal::FaultBits;
use embody_sim::{Integrator, SimConfig};
use embody_testkit::{Counting, allocations_during};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn stepping_and_the_robot_interface_never_allocate() {
    let mut control = ControlConfig::default();
    control.joint_pd.kp_per_effort = 20.0;
    control.joint_pd.kd_per_effort = 0.6;
    let mut rig = common::humanoid(SimConfig::default(), control);
    rig.arm_and_start();
    rig.run(10);
    let faults = rig.robot.faults();
    let rig = &mut rig.0;
    let (core, robot) = (&mut rig.core, &mut rig.robot);
    let mut tick = rig.tick;
    let count = allocations_during(|| {
        for k in 0..2000u64 {
            tick += 1;
            match k {
                500 => faults.set_extra_latency(4),
                700 => faults.set_imu_dropout(true),
                900 => faults.set_joint_faults(2, FaultBits::OVER_CURRENT),
                1100 => faults.set_stuck(5, true),
                1300 => faults.set_frozen(true),
                _ => {}
            }
            core.tick(robot, embody_hal::Timestamp::from_nanos(tick * 1_000_000));
        }
    });
    assert_eq!(count, 0, "the loop on the simulated humanoid allocated");

    for integrator in [Integrator::SemiImplicitEuler, Integrator::Rk4] {
        let config = SimConfig {
            integrator,
            ..SimConfig::default()
        };
        let mut rig = common::humanoid(config, ControlConfig::default());
        rig.robot.world_mut().step();
        let world = rig.robot.world_mut();
        let count = allocations_during(|| {
            for _ in 0..500 {
                world.step();
            }
        });
        assert_eq!(count, 0, "{integrator:?} step allocated");
    }
}

/// Boxes, spheres and cylinders at rest — on the ground, on each other, on a tilted box —
/// step without allocating: parry keeps a resting manifold and updates its points in
/// place. (A manifold parry recomputes from scratch, as objects land, roll or topple,
/// and capsules' manifolds may allocate in parry's narrow phase: a known limit, see
/// `embody_sim::objects`.)
#[test]
fn stepping_resting_objects_never_allocates() {
    use embody_sim::objects::{Object, ObjectShape};
    let shapes = [
        ObjectShape::Box { size: [0.1; 3] },
        ObjectShape::Sphere { radius: 0.05 },
        ObjectShape::Cylinder {
            radius: 0.04,
            length: 0.1,
        },
    ];
    let mut objects: Vec<Object> = (0..3)
        .map(|k| {
            Object::new(
                &format!("o{k}"),
                shapes[k].clone(),
                [3.0 + 0.3 * k as f64, 0.0, 0.06],
            )
        })
        .collect();
    // Two boxes stacked, one on a gentle slope.
    objects.push(Object::new("top", shapes[0].clone(), [3.0, 0.0, 0.16]));
    objects.push(Object::new("sloped", shapes[0].clone(), [3.0, 1.0, 0.16]));
    let environment = embody_sim::Environment {
        objects,
        boxes: vec![embody_sim::StaticBox {
            center: [3.0, 1.0, 0.05],
            size: [0.4, 0.4, 0.1],
            yaw_rad: 0.0,
            rpy_rad: Some([0.1, 0.0, 0.0]),
        }],
        ..embody_sim::Environment::default()
    };
    let model = std::sync::Arc::new(embody_model::robots::load("arm7", None).expect("arm7"));
    let mut world = embody_sim::World::new(model, &environment, SimConfig::default());
    for _ in 0..1500 {
        world.step();
    }
    let count = allocations_during(|| {
        for _ in 0..1000 {
            world.step();
        }
    });
    assert!(
        world.objects().touching() >= 8,
        "{}",
        world.objects().touching()
    );
    assert_eq!(count, 0, "stepping resting objects allocated");
}
