//! The onnxruntime engine against tract on the arm's packages (the reach network and the
//! recurrent GRU probe): the same graph inputs and outputs, and the same values within
//! 1e-5 on seeded random inputs and along a policy's carried recurrent state. The library
//! is `ORT_DYLIB_PATH`, else the peer venv's (`scripts/policy_venv.sh`); with neither the
//! tests say so and pass.

#![cfg(feature = "ort")]

use std::path::{Path, PathBuf};

use embody_hal::JointCommand;
use embody_model::robots;
use embody_policy::engine::Engine;
use embody_policy::observe::{Command, StepInput};
use embody_policy::{Package, Policy, ort_engine};

/// The largest difference allowed between the engines.
const TOLERANCE: f32 = 1e-5;

fn package_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name)
}

/// `ORT_DYLIB_PATH`, else `.venv-policy/lib/python3*/site-packages/onnxruntime/capi/
/// libonnxruntime.so*` at the workspace root.
fn library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ort_engine::LIBRARY_VAR).filter(|v| !v.is_empty()) {
        return Some(path.into());
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-policy/lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .filter(|python| python.file_name().to_string_lossy().starts_with("python3"))
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .filter_map(|capi| std::fs::read_dir(capi).ok())
        .flat_map(|files| files.flatten())
        .filter(|file| {
            file.file_name()
                .to_string_lossy()
                .starts_with("libonnxruntime.so")
        })
        .map(|file| file.path())
        .collect();
    found.sort();
    found.pop()
}

/// Opens the library; `false` (with a note) when there is none to open.
fn onnxruntime_here() -> bool {
    match library() {
        Some(path) => {
            ort_engine::init(Some(&path)).expect("the onnxruntime library loads");
            true
        }
        None => {
            eprintln!(
                "note: no onnxruntime library ({} unset, no .venv-policy: \
                 scripts/policy_venv.sh makes one); skipped",
                ort_engine::LIBRARY_VAR
            );
            false
        }
    }
}

/// splitmix64: seeded values in [-2, 2).
struct Values(u64);

impl Values {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
    }

    fn vector(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next()).collect()
    }
}

fn assert_close(what: &str, tract: &[f32], ort: &[f32]) {
    assert_eq!(tract.len(), ort.len(), "{what}: lengths");
    for (k, (t, o)) in tract.iter().zip(ort).enumerate() {
        assert!(
            (t - o).abs() <= TOLERANCE,
            "{what}[{k}]: tract {t}, onnxruntime {o}"
        );
    }
}

/// Both engines for the package `name`: the same inputs and outputs, and the same values
/// on seeded random inputs.
fn engines_agree(name: &str) {
    let model = robots::load("arm7", None).expect("arm7");
    let package = Package::load(&package_dir(name), &model).expect("package");
    let mut tract = package.tract().expect("tract");
    let mut ort = package.onnxruntime().expect("onnxruntime");
    assert_eq!(ort.name(), "onnxruntime");
    assert_eq!(ort.inputs(), tract.inputs(), "{name}: inputs");
    assert_eq!(ort.outputs(), tract.outputs(), "{name}: outputs");
    let sizes: Vec<usize> = tract
        .inputs()
        .iter()
        .map(|s| s.shape.iter().map(|d| d.expect("fixed")).product())
        .collect();
    let mut values = Values(16);
    for step in 0..8 {
        let inputs: Vec<Vec<f32>> = sizes.iter().map(|&n| values.vector(n)).collect();
        let (t, o) = (
            tract.run(&inputs).expect("tract runs"),
            ort.run(&inputs).expect("onnxruntime runs"),
        );
        assert_eq!(t.len(), o.len());
        for (spec, (t, o)) in tract.outputs().iter().zip(t.iter().zip(&o)) {
            assert_close(&format!("{name} step {step} {}", spec.name), t, o);
        }
    }
}

#[test]
fn the_reach_network_runs_the_same_on_both_engines() {
    if onnxruntime_here() {
        engines_agree("arm7_reach");
    }
}

#[test]
fn the_gru_probe_runs_the_same_on_both_engines() {
    if onnxruntime_here() {
        engines_agree("arm7_gru_probe");
    }
}

#[test]
fn a_policy_carries_the_same_recurrent_state_on_both_engines() {
    if !onnxruntime_here() {
        return;
    }
    let model = robots::load("arm7", None).expect("arm7");
    let package = Package::load(&package_dir("arm7_gru_probe"), &model).expect("package");
    let tract = package.tract().expect("tract");
    let ort = package.onnxruntime().expect("onnxruntime");
    let mut tract = Policy::new(package.clone(), Box::new(tract), &model).expect("policy");
    let mut ort = Policy::new(package, Box::new(ort), &model).expect("policy");
    assert_eq!(ort.engine(), "onnxruntime");
    let n = model.actuated_joints().count();
    let (zero, command) = (vec![0.0; n], Command::default());
    let mut values = Values(7);
    let mut targets = vec![JointCommand::Off; n];
    for step in 0..6 {
        let q: Vec<f64> = (0..n).map(|_| f64::from(values.next()) * 0.5).collect();
        let dq: Vec<f64> = (0..n).map(|_| f64::from(values.next())).collect();
        let state = StepInput {
            t_s: 0.02 * f64::from(step),
            q: &q,
            dq: &dq,
            tau: &zero,
            base_pose: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            base_velocity: [0.0; 6],
            command: &command,
            objects: &[],
            images: &[],
        };
        let a = tract
            .step(&model, &state, &mut targets)
            .expect("tract step");
        let b = ort.step(&model, &state, &mut targets).expect("ort step");
        for (k, (t, o)) in tract.feeds().iter().zip(ort.feeds()).enumerate() {
            assert_close(&format!("step {step} input {k}"), t, o);
        }
        for (k, (t, o)) in tract.outputs().iter().zip(ort.outputs()).enumerate() {
            assert_close(&format!("step {step} output {k}"), t, o);
        }
        for (t, o) in a.action.iter().zip(&b.action) {
            assert!((t - o).abs() <= f64::from(TOLERANCE), "step {step} action");
        }
    }
}
