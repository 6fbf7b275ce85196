//! Bad robot descriptions are rejected with an error that names the element and the
//! reason, and no input, however mangled, makes the builder panic.

use embody_model::{ModelError, ModelOptions, from_urdf_file, from_urdf_str, robots};
use proptest::prelude::*;

fn build(body: &str) -> Result<embody_model::Model, ModelError> {
    from_urdf_str(
        &format!("<robot name=\"t\">{body}</robot>"),
        "test.urdf",
        &ModelOptions::default(),
    )
}

fn link(name: &str) -> String {
    format!(
        "<link name=\"{name}\"><inertial><mass value=\"1\"/>\
         <inertia ixx=\"0.1\" ixy=\"0\" ixz=\"0\" iyy=\"0.1\" iyz=\"0\" izz=\"0.1\"/></inertial></link>"
    )
}

fn joint(name: &str, kind: &str, parent: &str, child: &str) -> String {
    format!(
        "<joint name=\"{name}\" type=\"{kind}\"><parent link=\"{parent}\"/><child link=\"{child}\"/>\
         <axis xyz=\"0 0 1\"/><limit lower=\"-1\" upper=\"1\" effort=\"1\" velocity=\"1\"/></joint>"
    )
}

fn error_text(body: &str) -> String {
    match build(body) {
        Ok(_) => panic!("accepted an invalid description: {body}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_link_is_named() {
    let e = error_text(&format!(
        "{}{}",
        link("a"),
        joint("j", "revolute", "a", "ghost")
    ));
    assert!(
        e.contains("joint 'j'") && e.contains("child link 'ghost' does not exist"),
        "{e}"
    );
}

#[test]
fn cycle_is_reported() {
    let e = error_text(&format!(
        "{}{}{}{}{}",
        link("root"),
        link("a"),
        link("b"),
        joint("j1", "revolute", "a", "b"),
        joint("j2", "revolute", "b", "a")
    ));
    assert!(e.contains("cycle"), "{e}");
    let e = error_text(&format!(
        "{}{}{}",
        link("a"),
        link("b"),
        joint("j1", "revolute", "a", "b") + &joint("j2", "revolute", "b", "a")
    ));
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn two_parents_and_two_roots_are_reported() {
    let e = error_text(&format!(
        "{}{}{}{}{}",
        link("a"),
        link("b"),
        link("c"),
        joint("j1", "revolute", "a", "c"),
        joint("j2", "revolute", "b", "c")
    ));
    assert!(e.contains("link 'c' is the child of two joints"), "{e}");
    let e = error_text(&format!("{}{}", link("a"), link("b")));
    assert!(e.contains("several root links (a, b)"), "{e}");
}

#[test]
fn negative_mass_is_rejected() {
    let e = error_text(
        "<link name=\"heavy\"><inertial><mass value=\"-2\"/><inertia ixx=\"1\" ixy=\"0\" ixz=\"0\" iyy=\"1\" iyz=\"0\" izz=\"1\"/></inertial></link>",
    );
    assert!(
        e.contains("link 'heavy'")
            && e.contains("mass must be a finite number from 0 to 1e6 kg, not -2"),
        "{e}"
    );
}

#[test]
fn absurd_masses_origins_and_limits_are_rejected_with_the_value() {
    let inertia = "<inertia ixx=\"1\" ixy=\"0\" ixz=\"0\" iyy=\"1\" iyz=\"0\" izz=\"1\"/>";
    let e = error_text(&format!(
        "<link name=\"heavy\"><inertial><mass value=\"1e300\"/>{inertia}</inertial></link>"
    ));
    assert!(e.contains("link 'heavy'") && e.contains("not 1e300"), "{e}");
    let e = error_text(&format!(
        "<link name=\"far\"><inertial><origin xyz=\"0 1e9 0\"/><mass value=\"1\"/>{inertia}</inertial></link>"
    ));
    assert!(
        e.contains("link 'far'") && e.contains("origin xyz") && e.contains("not 1e9"),
        "{e}"
    );
}

#[test]
fn an_absurd_mimic_multiplier_is_rejected() {
    // Found by the hostile-input harness: a multiplier of 1e300 was accepted and made
    // the forward dynamics infinite.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/robots/arm7.urdf"))
        .expect("arm7")
        .replace("multiplier=\"1\"", "multiplier=\"1e300\"");
    let e = embody_model::from_urdf_str(&text, "mimic.urdf", &Default::default())
        .expect_err("absurd multiplier")
        .to_string();
    assert!(
        e.contains("mimic multiplier") && e.contains("not 1e300"),
        "{e}"
    );
}

#[test]
fn a_truncated_urdf_is_located_at_its_end() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/robots/arm7.urdf"))
        .expect("arm7");
    let cut = text.find("</robot>").expect("end");
    let e = embody_model::from_urdf_str(&text[..cut], "cut.urdf", &Default::default())
        .expect_err("truncated")
        .to_string();
    let lines = text[..cut].matches('\n').count() + 1;
    assert!(
        e.starts_with("cut.urdf: not a valid URDF: line ")
            && e.contains(&format!("line {lines}"))
            && e.contains("the file ends inside <robot>"),
        "{e}"
    );
}

#[test]
fn indefinite_inertia_is_rejected() {
    let e = error_text(
        "<link name=\"odd\"><inertial><mass value=\"1\"/><inertia ixx=\"1\" ixy=\"2\" ixz=\"0\" iyy=\"1\" iyz=\"0\" izz=\"1\"/></inertial></link>",
    );
    assert!(
        e.contains("link 'odd'") && e.contains("not positive semi-definite"),
        "{e}"
    );
}

#[test]
fn unsupported_and_unknown_joint_types_are_named() {
    let e = error_text(&format!(
        "{}{}{}",
        link("a"),
        link("b"),
        joint("ball", "floating", "a", "b")
    ));
    assert!(
        e.contains("joint 'ball'") && e.contains("'floating' is not supported"),
        "{e}"
    );
    let e = error_text(&format!(
        "{}{}{}",
        link("a"),
        link("b"),
        joint("weird", "helical", "a", "b")
    ));
    assert!(
        e.contains("not a valid URDF") && e.contains("helical"),
        "{e}"
    );
}

#[test]
fn bad_limits_axis_and_mimic_are_named() {
    let e = error_text(&format!(
        "{}{}<joint name=\"j\" type=\"revolute\"><parent link=\"a\"/><child link=\"b\"/><axis xyz=\"0 0 1\"/>\
         <limit lower=\"1\" upper=\"-1\" effort=\"1\" velocity=\"1\"/></joint>",
        link("a"),
        link("b")
    ));
    assert!(
        e.contains("joint 'j'") && e.contains("lower (1) is above upper (-1)"),
        "{e}"
    );
    let e = error_text(&format!(
        "{}{}<joint name=\"j\" type=\"revolute\"><parent link=\"a\"/><child link=\"b\"/><axis xyz=\"0 0 0\"/>\
         <limit lower=\"-1\" upper=\"1\" effort=\"1\" velocity=\"1\"/></joint>",
        link("a"),
        link("b")
    ));
    assert!(e.contains("axis must be a finite, non-zero vector"), "{e}");
    let e = error_text(&format!(
        "{}{}<joint name=\"j\" type=\"revolute\"><parent link=\"a\"/><child link=\"b\"/><axis xyz=\"0 0 1\"/>\
         <limit lower=\"-1\" upper=\"1\" effort=\"1\" velocity=\"1\"/><mimic joint=\"nobody\"/></joint>",
        link("a"),
        link("b")
    ));
    assert!(
        e.contains("mimics joint 'nobody', which does not exist"),
        "{e}"
    );
}

#[test]
fn unreadable_files_and_unknown_robots_are_reported() {
    let e = from_urdf_file(
        std::path::Path::new("/nonexistent/robot.urdf"),
        &ModelOptions::default(),
    )
    .expect_err("missing file");
    assert!(
        e.to_string()
            .contains("cannot read robot description /nonexistent/robot.urdf"),
        "{e}"
    );
    let e = robots::load("r2d2", None).expect_err("unknown robot");
    assert!(
        e.to_string().contains("unknown robot 'r2d2'") && e.to_string().contains("arm7, humanoid"),
        "{e}"
    );
    let e =
        from_urdf_str("not xml at all <", "junk.urdf", &ModelOptions::default()).expect_err("junk");
    assert!(
        e.to_string().starts_with("junk.urdf: not a valid URDF"),
        "{e}"
    );
}

#[test]
fn builtin_robots_have_the_documented_shape() {
    let arm = robots::load("arm7", None).expect("arm7");
    assert_eq!(
        (arm.nq, arm.nv),
        (8, 8),
        "7 arm joints and one gripper coordinate"
    );
    let humanoid = robots::load("humanoid", None).expect("humanoid");
    assert_eq!((humanoid.nq, humanoid.nv), (7 + 29, 6 + 29));
    assert!(humanoid.total_mass() > 40.0 && humanoid.total_mass() < 70.0);
    for model in [&arm, &humanoid] {
        for j in model.joints.iter().skip(1).filter(|j| j.kind.nv() == 1) {
            assert!(
                j.limits.effort.is_finite() && j.limits.velocity.is_finite(),
                "{} has ratings",
                j.name
            );
        }
        assert!(model.links.iter().any(|l| !l.collisions.is_empty()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text never panics the builder.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = from_urdf_str(&text, "fuzz.urdf", &ModelOptions::default());
    }

    /// A valid URDF with a byte range deleted or a number replaced is either accepted or
    /// rejected, never a panic.
    #[test]
    fn mangled_urdf_never_panics(cut in 0usize..20_000, len in 0usize..200, number in prop::sample::select(vec!["-1", "nan", "inf", "1e308", "0", "-0", "abc", ""])) {
        let text = robots::builtin("arm7").map(|r| r.urdf).unwrap_or_default();
        let cut = cut.min(text.len());
        let end = (cut + len).min(text.len());
        let deleted: String = text.char_indices().filter(|(i, _)| *i < cut || *i >= end).map(|(_, c)| c).collect();
        let _ = from_urdf_str(&deleted, "fuzz.urdf", &ModelOptions::default());
        let replaced = text.replacen("0.05", number, 1 + cut % 7);
        let _ = from_urdf_str(&replaced, "fuzz.urdf", &ModelOptions { floating_base: cut % 2 == 0, ..Default::default() });
    }
}

#[test]
fn tolerates_cad_rounding_and_empty_textures_as_urdfdom_does() {
    // A 1 µg part whose exported inertia has a -3.5e-8 kg·m² moment (as in TIAGo), and a
    // material with an empty <texture /> (as in iCub): both load.
    let model = build(
        "<material name=\"m\"><color rgba=\"1 0 0 1\"/><texture /></material>\
         <link name=\"antenna\"><inertial><mass value=\"1e-6\"/>\
         <inertia ixx=\"-4e-8\" ixy=\"0\" ixz=\"0\" iyy=\"4e-8\" iyz=\"0\" izz=\"9e-8\"/></inertial></link>",
    )
    .expect("loads");
    assert_eq!(model.links.len(), 1);
}
