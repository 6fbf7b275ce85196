//! The simulator against physics with known answers: a pendulum's period, energy
//! conservation without damping, free fall, a box resting on the ground.

use std::sync::Arc;

use embody_model::{MimicMode, Model, ModelOptions, from_urdf_str};
use embody_sim::{ContactConfig, Environment, Integrator, SimConfig, World};

const G: f64 = 9.81;

fn model(urdf: &str, floating_base: bool) -> Arc<Model> {
    let options = ModelOptions {
        floating_base,
        mimic: MimicMode::Coupled,
    };
    Arc::new(from_urdf_str(urdf, "test.urdf", &options).expect("valid URDF"))
}

/// A rod of mass `m`, length `l` hanging from a revolute joint about y at the origin,
/// no damping, no friction, limits far away.
fn pendulum_urdf(m: f64, l: f64, links: usize) -> String {
    let i = m * l * l / 12.0;
    let mut s = String::from(r#"<robot name="pendulum"><link name="base"/>"#);
    let mut parent = "base".to_owned();
    for k in 0..links {
        let z = if k == 0 { 0.0 } else { -l };
        s += &format!(
            r#"<joint name="j{k}" type="revolute"><parent link="{parent}"/><child link="l{k}"/>
            <origin xyz="0 0 {z}"/><axis xyz="0 1 0"/>
            <limit lower="-100" upper="100" effort="100" velocity="100"/></joint>
            <link name="l{k}"><inertial><origin xyz="0 0 {c}"/><mass value="{m}"/>
            <inertia ixx="{i}" iyy="{i}" izz="1e-6" ixy="0" ixz="0" iyz="0"/></inertial></link>"#,
            c = -l / 2.0
        );
        parent = format!("l{k}");
    }
    s + "</robot>"
}

fn no_ground(integrator: Integrator, dt_s: f64) -> (Environment, SimConfig) {
    let environment = Environment {
        ground: false,
        ..Environment::default()
    };
    let config = SimConfig {
        dt_s,
        integrator,
        ..SimConfig::ideal()
    };
    (environment, config)
}

/// Times between successive upward zero crossings of joint 0's angle.
fn period(world: &mut World, seconds: f64) -> f64 {
    let mut crossings = Vec::new();
    let mut previous = world.joint(0).0;
    let steps = (seconds / world.config().dt_s) as usize;
    for _ in 0..steps {
        world.step();
        let now = world.joint(0).0;
        if previous < 0.0 && now >= 0.0 {
            // Linear interpolation of the crossing time.
            let t = world.time_s() - world.config().dt_s * now / (now - previous);
            crossings.push(t);
        }
        previous = now;
    }
    let n = crossings.len() - 1;
    (crossings[n] - crossings[0]) / n as f64
}

#[test]
fn a_pendulum_swings_with_the_analytic_period() {
    let (m, l, theta0) = (2.0, 0.8, 0.05_f64);
    // Physical pendulum: T0 = 2π √(I_pivot / (m g d)), with the amplitude correction
    // T = T0 (1 + θ0²/16 + 11 θ0⁴/3072).
    let i_pivot = m * l * l / 3.0;
    let t0 = std::f64::consts::TAU * (i_pivot / (m * G * l / 2.0)).sqrt();
    let expected = t0 * (1.0 + theta0.powi(2) / 16.0 + 11.0 * theta0.powi(4) / 3072.0);
    for integrator in [Integrator::SemiImplicitEuler, Integrator::Rk4] {
        let (environment, config) = no_ground(integrator, 0.001);
        let mut world = World::new(model(&pendulum_urdf(m, l, 1), false), &environment, config);
        world.set_state(&[theta0], &[0.0]);
        let measured = period(&mut world, 20.0);
        let error = (measured - expected).abs() / expected;
        assert!(
            error < 1e-5,
            "{integrator:?}: period {measured:.6} s, analytic {expected:.6} s ({error:.2e})"
        );
    }
}

#[test]
fn energy_is_conserved_without_damping() {
    let urdf = pendulum_urdf(1.0, 0.5, 3);
    let start = [1.2, -0.7, 0.4];
    let mut drift = Vec::new();
    for integrator in [Integrator::Rk4, Integrator::SemiImplicitEuler] {
        let (environment, config) = no_ground(integrator, 0.001);
        let mut world = World::new(model(&urdf, false), &environment, config);
        world.set_state(&start, &[0.0; 3]);
        let e0 = world.energy();
        let mut worst = 0.0_f64;
        for _ in 0..10 {
            for _ in 0..1000 {
                world.step();
            }
            worst = worst.max((world.energy() - e0).abs());
        }
        // Relative to the energy the chain can trade (its potential swing).
        drift.push(worst / (3.0 * 1.0 * G * 1.5));
    }
    // A chaotic triple pendulum for 10 s at 1 kHz.
    assert!(
        drift[0] < 1e-8,
        "RK4 relative energy drift {:.2e}",
        drift[0]
    );
    assert!(
        drift[1] < 2e-2,
        "semi-implicit Euler energy error {:.2e} (symplectic: bounded)",
        drift[1]
    );
}

const BOX_URDF: &str = r#"<robot name="box"><link name="box">
  <inertial><mass value="2"/><inertia ixx="0.0083" iyy="0.0108" izz="0.0142" ixy="0" ixz="0" iyz="0"/></inertial>
  <collision><geometry><box size="0.2 0.15 0.1"/></geometry></collision></link></robot>"#;

#[test]
fn a_free_body_falls_as_gravity_says() {
    let dt = 0.001;
    for integrator in [Integrator::Rk4, Integrator::SemiImplicitEuler] {
        let (environment, config) = no_ground(integrator, dt);
        let mut world = World::new(model(BOX_URDF, true), &environment, config);
        let q0 = [0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 1.0];
        world.set_state(&q0, &[0.3, 0.0, 2.0, 0.0, 0.0, 0.0]);
        for _ in 0..1000 {
            world.step();
        }
        let t = world.time_s();
        let z = 10.0 + 2.0 * t - 0.5 * G * t * t;
        let x = 0.3 * t;
        let q = world.q();
        // Semi-implicit Euler is first order: its error is ½·g·dt·t.
        let tolerance = match integrator {
            Integrator::Rk4 => 1e-9,
            Integrator::SemiImplicitEuler => 0.5 * G * dt * t * 1.01,
        };
        assert!(
            (q[2] - z).abs() < tolerance,
            "{integrator:?}: z {} vs {z}",
            q[2]
        );
        assert!((q[0] - x).abs() < 1e-9, "{integrator:?}: x {} vs {x}", q[0]);
    }
}

#[test]
fn a_box_rests_on_the_ground_without_drift() {
    let config = SimConfig {
        contact: ContactConfig::default(),
        ..SimConfig::ideal()
    };
    let k = config.contact.stiffness_npm;
    let mut world = World::new(model(BOX_URDF, true), &Environment::default(), config);
    // Dropped from 2 cm with a slight tilt.
    let tilt = 0.02_f64;
    world.set_state(
        &[
            0.1,
            -0.2,
            0.07,
            (tilt / 2.0).sin(),
            0.0,
            0.0,
            (tilt / 2.0).cos(),
        ],
        &[0.0; 6],
    );
    for _ in 0..3000 {
        world.step();
    }
    let settled = world.q().clone();
    for _ in 0..5000 {
        world.step();
    }
    let q = world.q();
    // Four bottom corners share the weight: each sinks m·g / (4 k).
    let sink = 2.0 * G / (4.0 * k);
    assert!(
        (q[2] - (0.05 - sink)).abs() < 0.1 * sink,
        "resting height {} vs {}",
        q[2],
        0.05 - sink
    );
    let drift = ((q[0] - settled[0]).powi(2) + (q[1] - settled[1]).powi(2)).sqrt();
    assert!(drift < 1e-6, "slid {drift:e} m in 5 s at rest");
    assert!(world.v().amax() < 1e-4, "still moving: {}", world.v());
    assert_eq!(world.contacts().active().len(), 4);
}

/// A box lifted off the ground and set down elsewhere stays where it is put: the
/// stiction anchors of where it stood were let go when its corners went out of reach.
#[test]
fn a_box_set_down_elsewhere_keeps_no_grip_on_where_it_stood() {
    let config = SimConfig {
        contact: ContactConfig::default(),
        ..SimConfig::ideal()
    };
    let mut world = World::new(model(BOX_URDF, true), &Environment::default(), config);
    let at = |x: f64, z: f64| [x, 0.0, z, 0.0, 0.0, 0.0, 1.0];
    world.set_state(&at(0.0, 0.0499), &[0.0; 6]);
    for _ in 0..2000 {
        world.step();
    }
    assert_eq!(world.contacts().active().len(), 4, "it stands");
    // Lifted 0.3 m for a step, then put down 0.4 m along, touching.
    world.set_state(&at(0.0, 0.35), &[0.0; 6]);
    world.step();
    world.set_state(&at(0.4, 0.0499), &[0.0; 6]);
    for _ in 0..2000 {
        world.step();
    }
    let q = world.q();
    assert_eq!(world.contacts().active().len(), 4, "it stands again");
    assert!(
        (q[0] - 0.4).abs() < 1e-6 && q[1].abs() < 1e-6,
        "it stands at ({:.5}, {:.5}), not where it was put (0.4, 0)",
        q[0],
        q[1]
    );
}

/// A light link swinging into its stop under RK4 (an explicit integrator): the limit
/// spring must not blow up, as stiff stops once did on the panda's wrist.
#[test]
fn a_light_joint_hitting_its_stop_stays_stable_under_rk4() {
    let urdf = r#"<robot name="flap"><link name="base"/>
      <joint name="hinge" type="revolute"><parent link="base"/><child link="flap"/>
        <axis xyz="0 1 0"/><limit lower="-0.5" upper="0.5" effort="12" velocity="3"/></joint>
      <link name="flap"><inertial><origin xyz="0.05 0 0"/><mass value="0.1"/>
        <inertia ixx="1e-5" iyy="1e-5" izz="1e-5" ixy="0" ixz="0" iyz="0"/></inertial></link></robot>"#;
    for integrator in [Integrator::Rk4, Integrator::SemiImplicitEuler] {
        let (environment, config) = no_ground(integrator, 0.001);
        let mut world = World::new(model(urdf, false), &environment, config);
        world.set_state(&[0.0], &[8.0]);
        let mut worst = 0.0_f64;
        for _ in 0..2000 {
            world.step();
            worst = worst.max(world.joint(0).0.abs());
        }
        let (q, v) = world.joint(0);
        assert!(q.is_finite() && v.is_finite(), "{integrator:?} diverged");
        assert!(
            worst < 0.7,
            "{integrator:?} went {worst:.3} rad past a 0.5 rad stop"
        );
        assert!(v.abs() < 0.1, "{integrator:?} still moving at {v} rad/s");
    }
}

/// An object on a table: a free box dropped onto a static box comes to rest on its top
/// face, off the ground, without sliding.
#[test]
fn a_box_rests_on_a_table() {
    let environment = Environment {
        ground: true,
        ground_height_m: 0.0,
        boxes: vec![embody_sim::StaticBox {
            center: [0.5, 0.0, 0.35],
            size: [0.8, 0.6, 0.7],
            yaw_rad: 0.3,
            rpy_rad: None,
        }],
        ..Environment::default()
    };
    let config = SimConfig::ideal();
    let k = config.contact.stiffness_npm;
    let mut world = World::new(model(BOX_URDF, true), &environment, config);
    world.set_state(&[0.45, 0.05, 0.78, 0.0, 0.0, 0.0, 1.0], &[0.0; 6]);
    for _ in 0..3000 {
        world.step();
    }
    let settled = world.q().clone();
    for _ in 0..3000 {
        world.step();
    }
    let q = world.q();
    let sink = 2.0 * G / (4.0 * k);
    assert!(
        (q[2] - (0.7 + 0.05 - sink)).abs() < 0.1 * sink,
        "resting at {} on a 0.7 m table",
        q[2]
    );
    let drift = ((q[0] - settled[0]).powi(2) + (q[1] - settled[1]).powi(2)).sqrt();
    assert!(drift < 1e-6, "slid {drift:e} m");
    assert_eq!(world.contacts().active().len(), 4);
}
