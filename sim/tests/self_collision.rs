//! Self-collision: a three-link planar arm whose last link is swung by a torque into
//! its first. With `self_collision` on, the last link stops on the first — its centre
//! line never crosses the first link's; with it off, or with the pair disabled (as an
//! SRDF would), it swings through. The first two links, a joint's two sides, never
//! push each other apart.

use std::sync::Arc;

use embody_hal::JointCommand;
use embody_sim::{Environment, SimConfig, World};

/// Three 0.3 m links of 40 mm square section, each turning about z at the end of the
/// one before: a planar arm in the horizontal plane (gravity does not turn it).
const URDF: &str = r#"<robot name="folding">
  <link name="base"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="l1"/>
    <axis xyz="0 0 1"/><limit lower="-3" upper="3" effort="50" velocity="5"/></joint>
  <link name="l1">
    <inertial><origin xyz="0.15 0 0"/><mass value="0.5"/><inertia ixx="1e-4" iyy="4e-3" izz="4e-3" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0.15 0 0"/><geometry><box size="0.3 0.04 0.04"/></geometry></collision>
  </link>
  <joint name="j2" type="revolute"><parent link="l1"/><child link="l2"/>
    <origin xyz="0.3 0 0"/><axis xyz="0 0 1"/><limit lower="-3" upper="3" effort="50" velocity="5"/></joint>
  <link name="l2">
    <inertial><origin xyz="0.15 0 0"/><mass value="0.5"/><inertia ixx="1e-4" iyy="4e-3" izz="4e-3" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0.15 0 0"/><geometry><box size="0.3 0.04 0.04"/></geometry></collision>
  </link>
  <joint name="j3" type="revolute"><parent link="l2"/><child link="l3"/>
    <origin xyz="0.3 0 0"/><axis xyz="0 0 1"/><limit lower="-6" upper="6" effort="50" velocity="20"/></joint>
  <link name="l3">
    <inertial><origin xyz="0.15 0 0"/><mass value="0.5"/><inertia ixx="1e-4" iyy="4e-3" izz="4e-3" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0.15 0 0"/><geometry><box size="0.3 0.04 0.04"/></geometry></collision>
  </link>
</robot>"#;

/// The elbow's angle: the second link folds back over the first.
const Q2: f64 = 2.6;

/// Runs 1.5 s of the last link swung at 2 N·m from pointing down-left; whether its
/// centre line ever crossed the first link's, and the last angle of its joint.
fn swing(self_collision: bool, disabled: &[[&str; 2]]) -> (bool, f64) {
    let path = std::env::temp_dir().join(format!("embody-folding-{}.urdf", std::process::id()));
    std::fs::write(&path, URDF).expect("urdf");
    let model = embody_model::robots::load(path.to_str().expect("utf-8"), Some(false))
        .expect("the URDF loads");
    let mut config = SimConfig {
        dt_s: 0.001,
        ..SimConfig::ideal()
    };
    config.contact.enabled = false;
    config.contact.self_collision = self_collision;
    config.contact.disabled_pairs = (disabled.iter()).map(|p| p.map(String::from)).collect();
    let environment = Environment {
        ground: false,
        ..Environment::default()
    };
    let mut world = World::new(Arc::new(model), &environment, config);
    world.set_state(&[0.0, Q2, 1.2], &[0.0; 3]);
    let hold = |q: f64| JointCommand::Impedance {
        q,
        dq: 0.0,
        kp: 2000.0,
        kd: 40.0,
        tau_ff: 0.0,
    };
    world.set_commands(&[hold(0.0), hold(Q2), JointCommand::Torque { tau: 2.0 }]);
    let mut crossed = false;
    for _ in 0..1500 {
        world.step();
        let (q1, q2, q3) = (world.joint(0).0, world.joint(1).0, world.joint(2).0);
        // The last link's centre line from its joint, and where it meets the first
        // link's (the line at q1 through the origin), in the first link's frame.
        let (elbow, phi) = (q2, q2 + q3);
        let start = (0.3 + 0.3 * elbow.cos(), 0.3 * elbow.sin());
        let t = -start.1 / phi.sin();
        let x = start.0 + t * phi.cos();
        crossed |= (0.0..=0.3).contains(&t) && (0.0..=0.3).contains(&x);
        assert!(q1.abs() < 0.2, "the first link was knocked to {q1:.3} rad");
    }
    let _ = std::fs::remove_file(&path);
    (crossed, world.joint(2).0)
}

#[test]
fn a_link_stops_on_another_with_self_collision_and_passes_through_without() {
    let (crossed, stopped_at) = swing(true, &[]);
    assert!(
        !crossed,
        "with self-collision the last link crossed the first (its joint at {stopped_at:.3} rad)"
    );
    let (crossed, swung_to) = swing(false, &[]);
    eprintln!(
        "the last joint stopped at {stopped_at:.3} rad on the first link; without self-collision it swung to {swung_to:.3} rad"
    );
    assert!(crossed, "without self-collision it swings through");
    assert!(
        swung_to > stopped_at + 0.3,
        "{swung_to:.3} vs {stopped_at:.3} rad"
    );
    let (crossed, _) = swing(true, &[["l3", "l1"]]);
    assert!(crossed, "a disabled pair does not touch");
}

#[test]
fn a_scenario_names_its_disabled_pairs_or_its_srdf_and_bad_ones_are_refused() {
    let folder = std::env::temp_dir().join(format!("embody-srdf-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(
        folder.join("arm7.srdf"),
        r#"<robot name="arm7"><disable_collisions link1="link1" link2="link3" reason="Never"/></robot>"#,
    )
    .expect("srdf");
    let scenario = |contact: &str| {
        let text = format!(
            "robot = \"arm7\"\nduration_s = 1.0\n[sim.contact]\nself_collision = true\n{contact}\n"
        );
        embody_sim::Scenario::parse(&text, &folder.join("s.toml"))
    };
    let loaded =
        scenario("srdf = \"arm7.srdf\"\ndisabled_pairs = [[\"link2\", \"link7\"]]").expect("loads");
    let pairs = &loaded.scenario.sim.contact.disabled_pairs;
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(pairs[1], ["link1".to_owned(), "link3".to_owned()]);
    for (contact, key) in [
        (
            "disabled_pairs = [[\"link1\", \"elbow\"]]",
            "sim.contact.disabled_pairs[0]",
        ),
        ("srdf = \"missing.srdf\"", "sim.contact.srdf"),
    ] {
        let error = scenario(contact).expect_err("refused").to_string();
        assert!(error.contains(key), "{error}");
    }
    let _ = std::fs::remove_dir_all(&folder);
}
