//! Dynamic objects against analytic physics (issue 17): a box on an incline sticks below
//! `atan μ` without creeping and slides above it at `g(sin θ − μ cos θ)`; a dropped
//! sphere and box come to rest at their height and stay; a stack of five boxes stands;
//! a ball with a restitution bounces back at that share of its speed; a ball rolls down a
//! slope as fast as its inertia (default or given) lets it; a mesh object collides as
//! its convex hull about its centre of mass, and a robot link's mesh as its hull; a fixed
//! object holds a box up and stops a link; a run is bit-identical for the same setup;
//! bad objects are refused by name.

use std::sync::Arc;

use embody_sim::objects::{Object, ObjectShape, Objects, ShapeKind};
use embody_sim::{Environment, SimConfig, StaticBox, World};

const G: f64 = 9.81;

fn cube(name: &str, side: f64, mass: f64, at: [f64; 3], friction: f64) -> Object {
    Object {
        mass_kg: Some(mass),
        friction,
        ..Object::new(name, ObjectShape::Box { size: [side; 3] }, at)
    }
}

/// A world of these objects, 3 m along x from the (fixed, limp) arm, out of its reach.
fn world(mut environment: Environment, friction: f64, dt_s: f64) -> World {
    for object in &mut environment.objects {
        object.position_m[0] += 3.0;
    }
    for b in &mut environment.boxes {
        b.center[0] += 3.0;
    }
    let model = embody_model::robots::load("arm7", Some(false)).expect("arm7");
    let mut config = SimConfig {
        dt_s,
        ..SimConfig::ideal()
    };
    config.contact.friction = friction;
    config.contact.enabled = false;
    World::new(Arc::new(model), &environment, config)
}

fn run(world: &mut World, seconds: f64) {
    let steps = (seconds / world.config().dt_s).round() as u64;
    for _ in 0..steps {
        world.step();
    }
}

fn position(world: &World, k: usize) -> nalgebra::Vector3<f64> {
    let p = world.objects().pose(k).expect("object");
    nalgebra::Vector3::new(p[0], p[1], p[2])
}

/// A box on a slope of `theta` (rad) with friction `mu` everywhere.
fn on_incline(theta: f64, mu: f64) -> World {
    let side = 0.1;
    // A 2 m × 2 m × 0.2 m slab pitched about y by theta: its top face passes over the
    // origin at height 1 m.
    let normal = nalgebra::Vector3::new(-theta.sin(), 0.0, theta.cos());
    let top = nalgebra::Vector3::new(0.0, 0.0, 1.0);
    let centre = top - 0.1 * normal;
    let slab = StaticBox {
        center: centre.into(),
        size: [2.0, 2.0, 0.2],
        yaw_rad: 0.0,
        rpy_rad: Some([0.0, -theta, 0.0]),
    };
    let mut object = cube(
        "box",
        side,
        1.0,
        (top + (0.5 * side + 1e-4) * normal).into(),
        mu,
    );
    object.rpy_rad = [0.0, -theta, 0.0];
    let environment = Environment {
        ground: false,
        boxes: vec![slab],
        objects: vec![object],
        ..Environment::default()
    };
    world(environment, mu, 0.001)
}

#[test]
fn a_box_on_an_incline_sticks_below_atan_mu_without_creep() {
    let mu = 0.5;
    for degrees in [10.0f64, 20.0, 25.0] {
        let mut w = on_incline(degrees.to_radians(), mu);
        run(&mut w, 0.5); // settle
        let settled = position(&w, 0);
        run(&mut w, 2.0);
        let moved = (position(&w, 0) - settled).norm();
        assert!(moved < 1e-4, "{degrees}°: crept {:.3} mm", moved * 1e3);
    }
}

#[test]
fn a_box_on_an_incline_slides_above_atan_mu_at_the_coulomb_acceleration() {
    let mu = 0.5;
    for degrees in [30.0f64, 35.0, 45.0] {
        let theta = degrees.to_radians();
        let mut w = on_incline(theta, mu);
        run(&mut w, 0.2);
        // Distance along the slope at three times; the acceleration from a quadratic fit.
        let start = position(&w, 0);
        let mut samples = Vec::new();
        for k in 1..=6 {
            run(&mut w, 0.1);
            let d = (position(&w, 0) - start).norm();
            samples.push((0.1 * k as f64, d));
        }
        let a = quadratic_acceleration(&samples);
        let want = G * (theta.sin() - mu * theta.cos());
        assert!(
            ((a - want) / want).abs() < 0.02,
            "{degrees}°: {a:.4} m/s² sliding, Coulomb says {want:.4}"
        );
    }
}

/// The second derivative of the least-squares parabola through `(t, x)`.
fn quadratic_acceleration(samples: &[(f64, f64)]) -> f64 {
    let mut ata = nalgebra::Matrix3::<f64>::zeros();
    let mut atb = nalgebra::Vector3::<f64>::zeros();
    for &(t, x) in samples {
        let row = nalgebra::Vector3::new(1.0, t, t * t);
        ata += row * row.transpose();
        atb += row * x;
    }
    let c = ata.lu().solve(&atb).expect("fit");
    2.0 * c[2]
}

#[test]
fn a_ball_bounces_back_at_its_restitution() {
    // Dropped from 0.3 m above contact, it meets the ground at √(2gh) and leaves at e of
    // that: it rises to e²·h, so √(rise/h) is the e it bounced with — within 10 %, as
    // gravity goes on pulling it through the ~10 ms the compliant contact lasts.
    // Without restitution it hardly bounces (under 2 % of the drop).
    let (radius, drop) = (0.05, 0.3);
    for e in [0.5, 0.7, 0.3, 0.0] {
        let ball = Object {
            mass_kg: Some(0.2),
            restitution: e,
            ..Object::new(
                "ball",
                ObjectShape::Sphere { radius },
                [0.0, 0.0, radius + drop],
            )
        };
        let environment = Environment {
            objects: vec![ball],
            ..Environment::default()
        };
        let mut w = world(environment, 0.8, 0.0005);
        // Falls for √(2h/g) ≈ 0.25 s, then the first bounce's top comes before 0.7 s.
        let mut landed = false;
        let mut top = f64::MIN;
        for _ in 0..1400 {
            w.step();
            let z = position(&w, 0).z - radius;
            landed |= z < 0.0;
            if landed {
                top = top.max(z);
            }
        }
        // The speed it left with, from the height it rose to.
        let bounced = (top.max(0.0) / drop).sqrt();
        eprintln!(
            "e {e}: rose {:.1} mm (e²·h {:.1} mm), e {bounced:.3}",
            top * 1e3,
            e * e * drop * 1e3
        );
        if e > 0.0 {
            assert!(
                (bounced / e - 1.0).abs() < 0.1,
                "e {e}: bounced back at {bounced:.3} of its speed (rose {:.1} mm)",
                top * 1e3
            );
        } else {
            assert!(
                top < 0.02 * drop,
                "without restitution it rose {:.1} mm",
                top * 1e3
            );
        }
    }
}

#[test]
fn a_ball_rolls_down_a_slope_as_fast_as_its_inertia_lets_it() {
    // Rolling without slipping, a ball of moment I accelerates at g·sin θ / (1 + I/(m·r²)):
    // 5/7 g·sin θ solid (the default, uniform density), 3/5 g·sin θ as a thin shell
    // (inertia_kgm2 given as 2/3·m·r²).
    let (theta, radius, mass): (f64, f64, f64) = (0.2, 0.05, 0.5);
    let normal = nalgebra::Vector3::new(-theta.sin(), 0.0, theta.cos());
    let top = nalgebra::Vector3::new(0.0, 0.0, 1.0);
    let slab = StaticBox {
        center: (top - 0.1 * normal).into(),
        size: [4.0, 2.0, 0.2],
        yaw_rad: 0.0,
        rpy_rad: Some([0.0, -theta, 0.0]),
    };
    let downhill = nalgebra::Vector3::new(-theta.cos(), 0.0, -theta.sin());
    for (inertia, share) in [(None, 5.0 / 7.0), (Some(2.0 / 3.0), 3.0 / 5.0)] {
        let ball = Object {
            mass_kg: Some(mass),
            inertia_kgm2: inertia.map(|k: f64| [k * mass * radius * radius; 3]),
            ..Object::new(
                "ball",
                ObjectShape::Sphere { radius },
                (top + (radius + 1e-5) * normal).into(),
            )
        };
        let environment = Environment {
            ground: false,
            boxes: vec![slab.clone()],
            objects: vec![ball],
            ..Environment::default()
        };
        let mut w = world(environment, 0.8, 0.001);
        let start = position(&w, 0);
        run(&mut w, 0.2);
        let (t0, x0) = (0.2, (position(&w, 0) - start).dot(&downhill));
        run(&mut w, 0.8);
        let (t1, x1) = (1.0, (position(&w, 0) - start).dot(&downhill));
        // x = a·t²/2 from rest: two samples give a.
        let a = 2.0 * (x1 - x0) / (t1 * t1 - t0 * t0);
        let want = share * G * theta.sin();
        assert!(
            (a / want - 1.0).abs() < 0.02,
            "I = {inertia:?}·m·r²: rolls at {a:.4} m/s², {want:.4} expected"
        );
    }
    // A moment no body can have is refused.
    let bad = Object {
        inertia_kgm2: Some([0.01, 0.01, 0.05]),
        ..Object::new("bad", ObjectShape::Sphere { radius: 0.1 }, [0.0; 3])
    };
    let environment = Environment {
        objects: vec![bad],
        ..Environment::default()
    };
    let error = Objects::check(&environment).expect_err("refused");
    assert!(error.to_string().contains("inertia_kgm2"), "{error}");
}

#[test]
fn a_mesh_tetrahedron_rests_on_a_face_with_its_centre_a_quarter_up() {
    // A regular tetrahedron of 0.1 m edges from an OBJ file (in millimetres, with a
    // vertex inside that the hull drops), dropped base down: its centre of mass rests
    // at a quarter of its height, h/4 = 0.1·√(2/3)/4 m, above the ground.
    let folder = std::env::temp_dir().join(format!("embody-tetra-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    let s3 = 3f64.sqrt();
    let corners = [
        [0.0, 0.0, 0.0],
        [100.0, 0.0, 0.0],
        [50.0, 50.0 * s3, 0.0],
        [50.0, 50.0 * s3 / 3.0, 100.0 * (2.0f64 / 3.0).sqrt()],
        [50.0, 20.0, 10.0],
    ];
    let text: String = corners
        .iter()
        .map(|c| format!("v {} {} {}\n", c[0], c[1], c[2]))
        .collect();
    let faces = "f 1 3 2\nf 1 2 4\nf 2 3 4\nf 3 1 4\nf 1 2 5\n";
    std::fs::write(folder.join("tetra.obj"), text + faces).expect("obj");
    // A mesh object as a scenario writes it: shape, file, scale.
    let tetra = Object {
        shape: ShapeKind::Mesh,
        radius: None,
        mesh: Some("tetra.obj".into()),
        scale: Some(0.001),
        density_kgpm3: Some(2000.0),
        ..Object::new(
            "tetra",
            ObjectShape::Sphere { radius: 1.0 },
            [0.0, 0.0, 0.2],
        )
    };
    let mut environment = Environment {
        objects: vec![tetra],
        ..Environment::default()
    };
    environment.load_meshes(&folder).expect("the mesh loads");
    let _ = std::fs::remove_dir_all(&folder);
    let mut w = world(environment, 0.8, 0.001);
    run(&mut w, 2.0);
    let rest = position(&w, 0).z;
    let want = 0.1 * (2.0f64 / 3.0).sqrt() / 4.0;
    assert!(
        (rest - want).abs() < 1e-3,
        "its centre rests at {rest:.5} m, h/4 = {want:.5} m"
    );
    run(&mut w, 5.0);
    assert!((position(&w, 0).z - rest).abs() < 1e-4, "it stays");
}

/// A folder holding `plate.obj`: a 300 × 300 × 20 mm plate centred on its origin, in
/// millimetres.
fn plate_obj(test: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("embody-plate-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    let mut obj = String::new();
    for z in [-10.0, 10.0] {
        for (x, y) in [
            (-150.0, -150.0),
            (150.0, -150.0),
            (150.0, 150.0),
            (-150.0, 150.0),
        ] {
            obj += &format!("v {x} {y} {z}\n");
        }
    }
    obj += "f 1 4 3 2\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n";
    std::fs::write(folder.join("plate.obj"), obj).expect("obj");
    folder
}

#[test]
fn a_body_whose_collision_is_a_mesh_stands_on_the_ground_on_its_hull() {
    // A floating-base body whose only collision shape is the plate mesh, dropped flat
    // from 5 cm: it lands on its hull's corners and rests 10 mm up (its half
    // thickness, less the contact's give), not falling through the ground.
    let folder = plate_obj("floor");
    let urdf = r#"<robot name="slab">
  <link name="slab">
    <inertial><mass value="2"/><inertia ixx="0.015" iyy="0.015" izz="0.03" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><geometry><mesh filename="plate.obj" scale="0.001 0.001 0.001"/></geometry></collision>
  </link>
</robot>"#;
    let path = folder.join("slab.urdf");
    std::fs::write(&path, urdf).expect("urdf");
    let model = embody_model::robots::load(path.to_str().expect("utf-8"), Some(true))
        .expect("the URDF loads");
    let config = SimConfig {
        dt_s: 0.001,
        ..SimConfig::ideal()
    };
    let mut w = World::new(Arc::new(model), &Environment::default(), config);
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!(w.contacts().probe_count(), 8, "the hull's eight corners");
    w.set_state(&[0.0, 0.0, 0.06, 0.0, 0.0, 0.0, 1.0], &[0.0; 6]);
    run(&mut w, 2.0);
    let z = w.q()[2];
    assert!(
        (z - 0.01).abs() < 5e-4,
        "the slab rests with its centre {z:.5} m up, 0.01 m on its hull"
    );
    assert_eq!(w.contacts().active().len(), 4, "on its four bottom corners");
}

#[test]
fn a_box_rests_on_a_robot_links_mesh_at_its_hulls_top() {
    // A turntable: one link spinning about z, its collision a 300 × 300 × 20 mm plate
    // mesh (OBJ, millimetres, scaled in the URDF) centred 0.5 m up. A 0.1 m box dropped
    // on its middle rests on the plate's top: 0.51 + 0.05 m.
    let folder = plate_obj("turntable");
    let urdf = r#"<robot name="turntable">
  <link name="base"/>
  <joint name="spin" type="revolute">
    <parent link="base"/><child link="plate"/>
    <origin xyz="0 0 0.5"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" effort="10" velocity="1"/>
  </joint>
  <link name="plate">
    <inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.02" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><geometry><mesh filename="plate.obj" scale="0.001 0.001 0.001"/></geometry></collision>
  </link>
</robot>"#;
    let path = folder.join("turntable.urdf");
    std::fs::write(&path, urdf).expect("urdf");
    let model = embody_model::robots::load(path.to_str().expect("utf-8"), Some(false))
        .expect("the URDF loads");
    let environment = Environment {
        objects: vec![cube("box", 0.1, 0.5, [0.0, 0.0, 0.7], 0.8)],
        ..Environment::default()
    };
    let mut config = SimConfig {
        dt_s: 0.001,
        ..SimConfig::ideal()
    };
    config.contact.enabled = false;
    let mut w = World::new(Arc::new(model), &environment, config);
    let _ = std::fs::remove_dir_all(&folder);
    run(&mut w, 2.0);
    let rest = position(&w, 0);
    assert!(
        (rest.z - 0.56).abs() < 1e-3 && rest.x.abs() < 1e-3,
        "the box rests at {rest:?}, on the plate's top it is at z 0.56 m"
    );
}

#[test]
fn a_dropped_sphere_and_box_rest_at_their_height_and_stay() {
    let sphere = Object {
        mass_kg: Some(0.5),
        ..Object::new(
            "ball",
            ObjectShape::Sphere { radius: 0.05 },
            [0.0, 0.0, 0.3],
        )
    };
    let block = cube("block", 0.1, 1.0, [0.5, 0.0, 0.3], 0.8);
    let environment = Environment {
        objects: vec![sphere, block],
        ..Environment::default()
    };
    let mut w = world(environment, 0.8, 0.001);
    run(&mut w, 2.0);
    let rest = [position(&w, 0), position(&w, 1)];
    for p in &rest {
        assert!((p.z - 0.05).abs() < 1e-3, "rests at {:.4} m", p.z);
    }
    run(&mut w, 10.0);
    for (k, p) in rest.iter().enumerate() {
        let drift = (position(&w, k) - p).norm();
        assert!(drift < 1e-4, "object {k} drifted {:.4} mm", drift * 1e3);
    }
}

#[test]
fn a_stack_of_five_boxes_stands() {
    let side = 0.1;
    let objects = (0..5)
        .map(|k| {
            cube(
                &format!("box{k}"),
                side,
                1.0,
                [0.0, 0.0, side * (k as f64 + 0.5) + 1e-4],
                0.8,
            )
        })
        .collect();
    let environment = Environment {
        objects,
        ..Environment::default()
    };
    let mut w = world(environment, 0.8, 0.002);
    run(&mut w, 1.0);
    let settled = position(&w, 4);
    assert!((settled.z - 0.45).abs() < 5e-3, "top at {:.4} m", settled.z);
    run(&mut w, 10.0);
    let moved = (position(&w, 4) - settled).norm();
    assert!(moved < 1e-3, "the top box moved {:.3} mm", moved * 1e3);
}

#[test]
fn runs_with_objects_are_bit_identical() {
    let make = || {
        let objects = (0..3)
            .map(|k| {
                let mut o = cube(
                    &format!("b{k}"),
                    0.08,
                    0.4,
                    [0.01 * k as f64, 0.0, 0.2 + 0.12 * k as f64],
                    0.6,
                );
                o.rpy_rad = [0.1 * k as f64, 0.2, 0.0];
                o
            })
            .collect();
        world(
            Environment {
                objects,
                ..Environment::default()
            },
            0.6,
            0.001,
        )
    };
    let (mut a, mut b) = (make(), make());
    run(&mut a, 2.0);
    run(&mut b, 2.0);
    for k in 0..3 {
        assert_eq!(a.objects().pose(k), b.objects().pose(k));
    }
}

#[test]
fn a_bad_object_is_refused_by_name() {
    let mut bad = cube("crate", 0.1, 1.0, [0.0, 0.0, 0.1], 0.8);
    bad.mass_kg = Some(f64::NAN);
    let environment = Environment {
        objects: vec![cube("ok", 0.1, 1.0, [0.0, 0.0, 0.1], 0.8), bad],
        ..Environment::default()
    };
    let e = Objects::check(&environment).expect_err("refused");
    assert_eq!((e.index, e.name.as_str()), (1, "crate"));
    assert!(e.to_string().contains("objects[1] (crate): mass_kg"), "{e}");
}

#[test]
fn a_scenario_places_objects_and_refuses_bad_ones_with_the_key() {
    let text = r#"
robot = "arm7"
duration_s = 1.0
[environment]
boxes = [{ center = [0.5, 0.0, 0.2], size = [0.4, 0.4, 0.4], rpy_rad = [0.0, -0.2, 0.0] }]
[[environment.objects]]
name = "mug"
shape = "cylinder"
radius = 0.04
length = 0.1
mass_kg = 0.3
position_m = [0.5, 0.0, 0.5]
[[environment.objects]]
name = "ball"
shape = "sphere"
radius = 0.03
density_kgpm3 = 500.0
position_m = [0.0, 0.5, 0.1]
"#;
    let path = std::path::Path::new("objects.toml");
    let loaded = embody_sim::Scenario::parse(text, path).expect("scenario");
    let objects = &loaded.scenario.environment.objects;
    assert_eq!(objects.len(), 2);
    assert_eq!(
        objects[0].geometry(),
        Ok(ObjectShape::Cylinder {
            radius: 0.04,
            length: 0.1
        })
    );
    for (bad, change, want) in [
        (
            "radius = 0.03",
            "radius = -0.03",
            "environment.objects[1]: ball: sizes must be finite, from 0.1 mm",
        ),
        (
            "density_kgpm3 = 500.0",
            "density_kgpm3 = 500.0\nmass_kg = 1.0",
            "environment.objects[1]: ball: give mass_kg or density_kgpm3, not both",
        ),
        (
            "radius = 0.03",
            "radius = 0.03\nlength = 2.0",
            "ball: a sphere does not take `length`",
        ),
        (
            "radius = 0.03",
            "radius = 0.03\nheight = 2.0",
            "unknown field `height`",
        ),
    ] {
        let text = text.replace(bad, change);
        let message = embody_sim::Scenario::parse(&text, path)
            .expect_err(change)
            .to_string();
        assert!(message.contains(want), "{change}: {message}");
    }
}

/// The arm held out horizontally (joint2 at 90°) with a 0.5 kg box dropped on its
/// forearm: the box comes to rest on the link (it does not fall through), and the
/// shoulder's holding torque grows by the box's weight times its lever about the
/// shoulder axis — the robot feels what it carries.
#[test]
fn a_box_resting_on_the_arm_loads_its_shoulder_by_weight_times_lever() {
    use embody_hal::JointCommand;
    let settle = |with_box: bool| {
        let box_at = [0.3, 0.0, 0.36];
        let objects = if with_box {
            vec![Object {
                mass_kg: Some(0.5),
                ..Object::new("load", ObjectShape::Box { size: [0.04; 3] }, box_at)
            }]
        } else {
            Vec::new()
        };
        let model = embody_model::robots::load("arm7", Some(false)).expect("arm7");
        let mut config = SimConfig::ideal();
        config.contact.friction = 1.0;
        let environment = Environment {
            objects,
            ..Environment::default()
        };
        let mut w = World::new(Arc::new(model), &environment, config);
        let mut q = w.q().clone();
        q[1] = std::f64::consts::FRAC_PI_2;
        let v = w.v().clone();
        w.set_state(q.as_slice(), v.as_slice());
        for k in 0..w.joint_count() {
            w.set_command(
                k,
                JointCommand::Impedance {
                    q: q[k],
                    dq: 0.0,
                    kp: 3000.0,
                    kd: 60.0,
                    tau_ff: 0.0,
                },
            );
        }
        // Settled, and before the balanced box starts to rock (see objects' docs).
        run(&mut w, 2.0);
        let shoulder = w.motor_torques()[1];
        let load = w.objects().pose(0).map(|p| [p[0], p[1], p[2]]);
        // The forearm's axis (joint3's z) where the box is, as the arm sags under PD.
        let x3 = &w.data().world_from_joint[3];
        let axis = x3.rotation * nalgebra::Vector3::z();
        let along = (load.map_or(0.3, |p| p[0]) - x3.translation.x) / axis.x;
        (shoulder, load, x3.translation.z + along * axis.z)
    };
    let (bare, _, _) = settle(false);
    let (loaded, at, axis_z) = settle(true);
    let at = at.expect("the box");
    // The forearm is 5 cm in radius: the 4 cm box rests 7 cm above its axis (less the
    // contact's 0.1 mm-scale give).
    assert!(
        (at[2] - (axis_z + 0.07)).abs() < 1e-3,
        "the box is at {at:?}, the forearm's axis at {axis_z:.4} m"
    );
    // Shoulder axis: y through (0, 0, 0.25).
    let want = 0.5 * G * at[0];
    let got = (loaded - bare).abs();
    assert!(
        ((got - want) / want).abs() < 0.02,
        "the shoulder carries {got:.4} N·m more, the box's weight × lever is {want:.4}"
    );
}

#[test]
fn a_fixed_post_holds_a_box_up_and_stays_put() {
    // A post 0.4 m tall (a cylinder standing on the ground) and a 0.1 m box dropped on
    // it: the box rests on its top, 0.45 m up, and the post never moves.
    let post = Object {
        fixed: true,
        mass_kg: Some(0.01), // plays no part
        ..Object::new(
            "post",
            ObjectShape::Cylinder {
                radius: 0.05,
                length: 0.4,
            },
            [0.0, 0.0, 0.2],
        )
    };
    let environment = Environment {
        objects: vec![post, cube("box", 0.1, 1.0, [0.0, 0.0, 0.6], 0.8)],
        ..Environment::default()
    };
    let mut w = world(environment, 0.8, 0.001);
    assert_eq!(w.objects().names(), ["post", "box"], "in the order written");
    let post_at = w.objects().pose(0).expect("the post");
    run(&mut w, 2.0);
    assert_eq!(w.objects().pose(0), Some(post_at), "the post moved");
    let rest = position(&w, 1);
    assert!(
        (rest.z - 0.45).abs() < 1e-3 && (rest.x - 3.0).abs() < 1e-3,
        "the box rests at {rest:?}; on the post's top it is at z 0.45 m"
    );
    // A fixed object cannot be given a velocity.
    let mut moving = Object {
        fixed: true,
        ..cube("crate", 0.1, 1.0, [0.0, 0.0, 0.05], 0.8)
    };
    moving.velocity_mps = [1.0, 0.0, 0.0];
    let e = Objects::check(&Environment {
        objects: vec![moving],
        ..Environment::default()
    })
    .expect_err("refused");
    assert!(
        e.to_string().contains("objects[0] (crate): a fixed object"),
        "{e}"
    );
}

#[test]
fn a_fixed_sphere_stops_a_swinging_link() {
    // A 0.5 m pendulum (a 4 cm square bar hanging from a pivot 1 m up, swinging about
    // y) let go at 1.2 rad. A fixed sphere (r 0.05 m) sits in its path on the far side,
    // its centre 0.447 m from the pivot at −0.464 rad: the bar stops against it near
    // −0.31 rad (the bar's half width and the radius over that distance), where without
    // it the bar swings through to about −1.2 rad.
    let urdf = r#"<robot name="pendulum">
  <link name="base"/>
  <joint name="swing" type="revolute">
    <parent link="base"/><child link="bar"/>
    <origin xyz="0 0 1"/><axis xyz="0 1 0"/>
    <limit lower="-3" upper="3" effort="10" velocity="10"/>
  </joint>
  <link name="bar">
    <inertial><origin xyz="0 0 -0.25"/><mass value="1"/>
      <inertia ixx="0.021" iyy="0.021" izz="0.0003" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0 0 -0.25"/><geometry><box size="0.04 0.04 0.5"/></geometry></collision>
  </link>
</robot>"#;
    let model = Arc::new(
        embody_model::from_urdf_str(urdf, "pendulum.urdf", &Default::default()).expect("urdf"),
    );
    let swing = |with_sphere: bool| {
        let objects = if with_sphere {
            vec![Object {
                fixed: true,
                ..Object::new(
                    "stop",
                    ObjectShape::Sphere { radius: 0.05 },
                    [0.2, 0.0, 0.6],
                )
            }]
        } else {
            Vec::new()
        };
        let mut config = SimConfig {
            dt_s: 0.001,
            ..SimConfig::ideal()
        };
        config.contact.enabled = false;
        let environment = Environment {
            objects,
            ground: false,
            ..Environment::default()
        };
        let mut w = World::new(model.clone(), &environment, config);
        w.set_state(&[1.2], &[0.0]);
        let mut lowest = f64::MAX;
        for _ in 0..1500 {
            w.step();
            lowest = lowest.min(w.q()[0]);
        }
        (lowest, w.objects().pose(0))
    };
    let (free_swing, _) = swing(false);
    assert!(
        free_swing < -1.0,
        "without the sphere it swings to {free_swing:.3} rad"
    );
    let (stopped, sphere) = swing(true);
    assert!(
        (stopped - -0.31).abs() < 0.02,
        "the bar stopped at {stopped:.3} rad, against the sphere at about -0.31"
    );
    assert_eq!(
        sphere,
        Some([0.2, 0.0, 0.6, 0.0, 0.0, 0.0, 1.0]),
        "the sphere moved"
    );
}
