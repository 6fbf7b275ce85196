//! Shared by the integration tests: the robots they run on and seeded random states.

#![allow(dead_code)]

use std::path::PathBuf;

use embody_model::{MimicMode, Model, ModelOptions, from_urdf_file, random_configuration, robots};
use nalgebra::DVector;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Built-in robots (arm7 has a coupled mimic finger) and real robots from example-robot-data.
pub fn all_models() -> Vec<(String, Model)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/urdf");
    let mut models = vec![
        (
            "arm7".to_string(),
            robots::load("arm7", None).expect("arm7"),
        ),
        (
            "humanoid".to_string(),
            robots::load("humanoid", None).expect("humanoid"),
        ),
        (
            "arm7 independent mimic".to_string(),
            robots::load_with("arm7", None, MimicMode::Independent).expect("arm7"),
        ),
    ];
    for (file, floating_base) in [
        ("ur5_robot.urdf", false),
        ("panda.urdf", false),
        ("solo12.urdf", true),
        ("talos_full_v2.urdf", true),
    ] {
        let options = ModelOptions {
            floating_base,
            mimic: MimicMode::Coupled,
        };
        models.push((
            file.to_string(),
            from_urdf_file(&dir.join(file), &options).expect(file),
        ));
    }
    models
}

/// A seeded random state `(q, v, a)`.
pub fn random_state(
    model: &Model,
    rng: &mut SmallRng,
) -> (DVector<f64>, DVector<f64>, DVector<f64>) {
    let q = random_configuration(model, rng);
    let v = DVector::from_fn(model.nv, |_, _| rng.random_range(-2.0..2.0));
    let a = DVector::from_fn(model.nv, |_, _| rng.random_range(-2.0..2.0));
    (q, v, a)
}

/// The seeded generator of a test.
pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}
