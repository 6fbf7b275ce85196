//! The hostile-input harness: every entry point that takes a file — task, scenario,
//! URDF, unit configuration, calibration, firmware image, policy manifest — is fed arbitrary bytes and
//! good files mutated (bytes cut and spliced, a file truncated, one number replaced by
//! NaN, an infinity or an absurd value, deep nesting, a huge repetition). Each case must
//! end in a located error or a valid result — never a panic — within bounded time and
//! memory. A valid result is used, not just received: a scenario is simulated and must
//! stay finite or fault, a model's dynamics must be finite, a unit's bridge setup is
//! built, an image's signature is checked.
//!
//! `cargo test` runs `CASES` cases per entry point, each a mutation drawn at random;
//! `EMBODY_FUZZ_CASES=5000 cargo test -p embody-e2e --release --test hostile_input`
//! runs a longer search (`EMBODY_FUZZ_ONLY=urdf`: one entry point). Everything runs in one test, so the allocation counter below
//! sees one case at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use embody_fleet::Unit;
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_fwimage::{Header, Version, image_len, sign};
use embody_model::{Data, ModelOptions, aba, from_urdf_str, rnea, robots};
use embody_planner::{RobotInfo, Source, check};
use embody_runtime::{Backend, Drive, Quiet, Session};
use embody_sim::Scenario;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per entry point and mutation in `cargo test`.
const CASES: u32 = 40;
/// A case taking longer than this is a hang, not a slow machine.
const MAX_CASE: Duration = Duration::from_secs(30);
/// Memory a case may take above what it started with.
const MAX_CASE_BYTES: usize = 512 << 20;

/// Counts the bytes allocated now and the most since the last [`Counting::reset_peak`].
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)] // a global allocator is unsafe by signature; this one forwards to System
// SAFETY: every call forwards to `System` with the caller's layout; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as given.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded as given.
        unsafe { System.dealloc(p, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs one case: fails on a panic, a case past [`MAX_CASE`] or [`MAX_CASE_BYTES`], or
/// what `case` itself finds wrong.
fn bounded(case: impl FnOnce() -> Result<(), String>) -> Result<(), TestCaseError> {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(case));
    let (took, grew) = (
        start.elapsed(),
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    );
    match outcome {
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            return Err(TestCaseError::fail(format!("panicked: {what}")));
        }
        Ok(Err(why)) => return Err(TestCaseError::fail(why)),
        Ok(Ok(())) => {}
    }
    if took > MAX_CASE {
        return Err(TestCaseError::fail(format!("took {took:?}")));
    }
    if grew > MAX_CASE_BYTES {
        return Err(TestCaseError::fail(format!("allocated {} MiB", grew >> 20)));
    }
    Ok(())
}

/// An error a user can act on: it names `place` (the file) and says more than that,
/// and it is a sentence, not a Rust `Debug` dump.
fn located(message: &str, place: &str) -> Result<(), String> {
    if !message.contains(place) {
        return Err(format!("error does not name {place}: {message}"));
    }
    if message.trim_end().ends_with(':') || message.len() <= place.len() + 2 {
        return Err(format!("error gives no reason: {message}"));
    }
    if let Some(dump) = debug_dump(message) {
        return Err(format!("error reads as a Debug dump ({dump}): {message}"));
    }
    Ok(())
}

/// A piece of `text` that looks like Rust's `Debug` output of a struct or an enum
/// (`Name { field: `, `Some(`, `Err(`), if any.
fn debug_dump(text: &str) -> Option<&str> {
    for marker in ["Some(", "Ok(", "Err("] {
        if let Some(at) = text.find(marker) {
            return Some(&text[at..at + marker.len()]);
        }
    }
    text.match_indices(" { ").find_map(|(at, _)| {
        let name = text[..at].rsplit(|c: char| !c.is_alphanumeric()).next()?;
        let field = text[at + 3..].split(": ").next()?;
        let is_struct = name.starts_with(|c: char| c.is_ascii_uppercase())
            && !field.is_empty()
            && field.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        is_struct.then(|| &text[at - name.len()..(at + 3 + field.len() + 1).min(text.len())])
    })
}

/// Numbers a file's values are replaced with.
const EXTREMES: [&str; 12] = [
    "nan",
    "inf",
    "-inf",
    "1e300",
    "-1e300",
    "0",
    "-1",
    "1e-300",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "-0.0",
];

/// Byte ranges of the numbers in `text` (a digit, with what a number may contain).
fn numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while k < bytes.len() {
        let starts = bytes[k].is_ascii_digit()
            && (k == 0 || !(bytes[k - 1].is_ascii_alphanumeric() || bytes[k - 1] == b'_'));
        if starts {
            let begin = if k > 0 && bytes[k - 1] == b'-' {
                k - 1
            } else {
                k
            };
            let mut end = k;
            while end < bytes.len()
                && (bytes[end].is_ascii_digit() || b".eE_+-".contains(&bytes[end]))
            {
                end += 1;
            }
            out.push(begin..end);
            k = end;
        } else {
            k += 1;
        }
    }
    out
}

/// How a good file is damaged.
#[derive(Clone, Debug)]
enum Mutation {
    /// Arbitrary bytes instead of the file.
    Arbitrary(Vec<u8>),
    /// Bytes `at..at+len` replaced by `insert`.
    Splice {
        at: usize,
        len: usize,
        insert: Vec<u8>,
    },
    /// Cut off at `at`.
    Truncate(usize),
    /// The `k`-th number replaced by an extreme.
    Number { k: usize, extreme: usize },
    /// `depth` nested arrays or elements inserted at `at`.
    Nest { at: usize, depth: usize },
    /// The line at `at` repeated `times` times.
    Repeat { at: usize, times: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600).prop_map(Mutation::Arbitrary),
        (
            any::<usize>(),
            0usize..64,
            prop::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(at, len, insert)| Mutation::Splice { at, len, insert }),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..EXTREMES.len())
            .prop_map(|(k, extreme)| Mutation::Number { k, extreme }),
        (any::<usize>(), 1usize..5000).prop_map(|(at, depth)| Mutation::Nest { at, depth }),
        (any::<usize>(), 1usize..20_000).prop_map(|(at, times)| Mutation::Repeat { at, times }),
    ]
}

/// `seed` damaged by `m`; `xml` chooses what nesting looks like.
fn apply(seed: &[u8], m: &Mutation, xml: bool) -> Vec<u8> {
    let at = |i: usize| {
        if seed.is_empty() {
            0
        } else {
            i % (seed.len() + 1)
        }
    };
    let mut out = seed.to_vec();
    match m {
        Mutation::Arbitrary(bytes) => out.clone_from(bytes),
        Mutation::Splice { at: i, len, insert } => {
            let start = at(*i);
            let end = (start + len).min(out.len());
            out.splice(start..end, insert.iter().copied());
        }
        Mutation::Truncate(i) => out.truncate(at(*i)),
        Mutation::Number { k, extreme } => {
            let text = String::from_utf8_lossy(seed).into_owned();
            let found = numbers(&text);
            if !found.is_empty() {
                let range = found[k % found.len()].clone();
                let mut text = text;
                text.replace_range(range, EXTREMES[*extreme]);
                out = text.into_bytes();
            }
        }
        Mutation::Nest { at: i, depth } => {
            let (open, close) = if xml {
                ("<link name=\"n\">", "</link>")
            } else {
                ("x = [", "]")
            };
            let nest = format!("\n{}{}\n", open.repeat(*depth), close.repeat(*depth));
            let start = line_start(&out, at(*i));
            out.splice(start..start, nest.bytes());
        }
        Mutation::Repeat { at: i, times } => {
            let start = line_start(&out, at(*i));
            let end = out[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(out.len(), |n| start + n + 1);
            let line = out[start..end].to_vec();
            let repeated: Vec<u8> = line
                .iter()
                .copied()
                .cycle()
                .take(line.len() * times)
                .collect();
            out.splice(start..start, repeated);
        }
    }
    out
}

/// The start of the line holding byte `at`.
fn line_start(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |n| n + 1)
}

/// Runs `cases` mutations of `seed` through `case`; the failures, shrunk, as text.
fn search(
    name: &str,
    seed: &[u8],
    xml: bool,
    case: &dyn Fn(&[u8]) -> Result<(), String>,
) -> Result<u32, String> {
    let cases = std::env::var("EMBODY_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&mutation(), |m| {
            let bytes = apply(seed, &m, xml);
            bounded(|| case(&bytes))
        })
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(cases)
}

/// A task, checked against the arm at rest.
fn task_case(bytes: &[u8], robot: &RobotInfo, start: &[f64]) -> Result<(), String> {
    let source = Source::new("hostile-task.toml", String::from_utf8_lossy(bytes));
    let result = source
        .parse()
        .and_then(|raw| check(&source, &raw, robot, start));
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.line == 0 => Err(format!("error without a line: {e}")),
        Err(e) => located(&e.to_string(), "hostile-task.toml:"),
    }
}

/// A scenario, loaded and, when accepted, simulated for a short while: its state must
/// stay finite unless the loop faulted.
fn scenario_case(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let loaded = match Scenario::parse(&text, Path::new("hostile-scenario.toml")) {
        Ok(loaded) => loaded,
        Err(e) => return located(&e.to_string(), "hostile-scenario.toml: "),
    };
    let length = loaded.scenario.duration_s.min(0.2);
    let session = Session {
        stop_after_s: Some(length),
        ..Session::new(Backend::scenario(loaded), Drive::Hold)
    };
    let report = session
        .run(&mut Quiet)
        .map_err(|e| format!("an accepted scenario did not run: {e}"))?;
    for unit in &report.units {
        let s = &unit.snapshot;
        let finite = s.q[..s.n].iter().chain(&s.dq[..s.n]).all(|x| x.is_finite());
        if !finite && unit.fault_reports().is_empty() {
            return Err(format!(
                "non-finite state without a fault: {:?}",
                &s.q[..s.n]
            ));
        }
    }
    Ok(())
}

/// A URDF, built and, when accepted, its dynamics evaluated at rest: finite.
fn urdf_case(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let model = match from_urdf_str(&text, "hostile.urdf", &ModelOptions::default()) {
        Ok(model) => model,
        Err(e) => return located(&e.to_string(), "hostile.urdf: "),
    };
    let mut data = Data::new(&model);
    let q = model.neutral_configuration();
    let zero = vec![0.0; model.nv];
    let tau = rnea(&model, &mut data, q.as_slice(), &zero, &zero).clone_owned();
    let ddq = aba(&model, &mut data, q.as_slice(), &zero, &zero).clone_owned();
    if tau.iter().chain(ddq.iter()).all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(format!(
            "an accepted model's dynamics are not finite: {tau:?}"
        ))
    }
}

/// The example fleet copied to `dir`, with `file` (relative) replaced by `bytes`, loaded
/// as unit ARM-0001 and, when accepted, its bridge setup built.
fn fleet_case(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    copy_dir(&example_fleet(), dir).map_err(|e| format!("copy: {e}"))?;
    std::fs::write(dir.join(file), bytes).map_err(|e| format!("write: {e}"))?;
    match Unit::load(dir, "ARM-0001") {
        Ok(unit) => {
            let _ = unit.setup();
            Ok(())
        }
        Err(e) => located(&e.to_string(), ".toml"),
    }
}

/// A policy manifest beside the probe's network, loaded for the humanoid and, when
/// accepted, built and stepped: its targets must be finite.
fn policy_case(dir: &Path, bytes: &[u8], model: &embody_model::Model) -> Result<(), String> {
    use embody_hal::JointCommand;
    use embody_runtime::policy::observe::{Command, StepInput};
    use embody_runtime::policy::{Package, Policy};
    std::fs::write(dir.join("policy.toml"), bytes).map_err(|e| format!("write: {e}"))?;
    let refused = |e: &dyn std::fmt::Display| located(&e.to_string(), "policy.toml: ");
    let package = match Package::load(dir, model) {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    let engine = match package.tract() {
        Ok(engine) => engine,
        // The probe's network is fixed: a changed manifest may not fit it.
        Err(e) => return located(&e.to_string(), dir.to_str().unwrap_or_default()),
    };
    let mut policy = Policy::new(package, Box::new(engine), model).map_err(|e| e.to_string())?;
    let n = model.actuated_joints().count();
    let (q, zero) = (vec![0.1; n], vec![0.0; n]);
    let command = Command::default();
    let state = StepInput {
        t_s: 0.0,
        q: &q,
        dq: &zero,
        tau: &zero,
        base_pose: [0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 1.0],
        base_velocity: [0.0; 6],
        command: &command,
        objects: &[],
        images: &[],
    };
    let mut targets = vec![JointCommand::Off; n];
    match policy.step(model, &state, &mut targets) {
        Ok(_) if targets.iter().all(JointCommand::is_finite) => Ok(()),
        Ok(_) => Err(format!(
            "non-finite targets from an accepted policy: {targets:?}"
        )),
        Err(e) => located(&e.to_string(), "action"),
    }
}

/// A firmware image parsed and, when accepted, its signature checked.
fn image_case(bytes: &[u8], key: &SigningKey) -> Result<(), String> {
    match embody_fwimage::parse(bytes) {
        Ok(image) => {
            let _ = image.verify(&key.verifying_key());
            Ok(())
        }
        Err(e) if e.to_string().trim().is_empty() => Err("an empty error".into()),
        Err(_) => Ok(()),
    }
}

fn example_fleet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fleet")
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn read(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn signed_image(key: &SigningKey) -> Vec<u8> {
    let payload: Vec<u8> = (0..2048u32).map(|i| (i * 37 % 251) as u8).collect();
    let header = Header {
        version: Version {
            major: 1,
            minor: 2,
            patch: 3,
        },
        payload_len: payload.len() as u32,
        build_id: [7; 16],
    };
    let mut bytes = vec![0; image_len(payload.len())];
    sign(&payload, &header, 5, key, &mut bytes).expect("sign");
    bytes
}

#[test]
fn every_file_loader_survives_hostile_input() {
    let scratch = std::env::temp_dir().join(format!("embody-hostile-{}", std::process::id()));
    let arm = robots::load("arm7", None).expect("arm7");
    let start = vec![0.0; arm.actuated_joints().count()];
    let robot = RobotInfo::new(arm, Vec::new());
    let key = SigningKey::from_bytes(&[9; 32]);
    let image = signed_image(&key);
    let mut failures = Vec::new();
    let mut total = 0;
    let only = std::env::var("EMBODY_FUZZ_ONLY").unwrap_or_default();
    let mut run =
        |name: &str, seed: &[u8], xml: bool, case: &dyn Fn(&[u8]) -> Result<(), String>| {
            if !name.contains(only.as_str()) {
                return;
            }
            eprintln!("hostile input: {name}");
            match search(name, seed, xml, case) {
                Ok(n) => total += n,
                Err(failure) => failures.push(failure),
            }
        };
    run(
        "task",
        &read("examples/tasks/pick_and_place.toml"),
        false,
        &|b| task_case(b, &robot, &start),
    );
    run(
        "scenario",
        &read("examples/scenarios/arm_faults.toml"),
        false,
        &scenario_case,
    );
    run(
        "scenario (humanoid)",
        &read("examples/scenarios/humanoid_stand.toml"),
        false,
        &scenario_case,
    );
    run(
        "urdf",
        &read("crates/model/robots/arm7.urdf"),
        true,
        &urdf_case,
    );
    for (name, file) in [
        ("fleet defaults", "fleet.toml"),
        ("robot configuration", "robots/arm7.toml"),
        ("unit configuration", "units/ARM-0001.toml"),
        ("calibration", "calibration/ARM-0001.toml"),
    ] {
        let dir = scratch.join(name.replace(' ', "-"));
        let seed = read(&format!("examples/fleet/{file}"));
        run(name, &seed, false, &|b| fleet_case(&dir, file, b));
    }
    run("firmware image", &image, false, &|b| image_case(b, &key));
    let humanoid = robots::load("humanoid", None).expect("humanoid");
    let probe = scratch.join("policy");
    std::fs::create_dir_all(&probe).expect("scratch");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/policies/humanoid_probe/model.onnx"),
        probe.join("model.onnx"),
    )
    .expect("probe network");
    run(
        "policy manifest",
        &read("examples/policies/humanoid_probe/policy.toml"),
        false,
        &|b| policy_case(&probe, b, &humanoid),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    println!("hostile input: {total} cases, {} failures", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn debug_dumps_are_told_from_sentences() {
    assert_eq!(
        debug_dump("loop: Fault { cause: StaleSensors }"),
        Some("Fault { cause:")
    );
    assert_eq!(debug_dump("status Some(Running)"), Some("Some("));
    assert_eq!(
        debug_dump("x.toml:8: posture = { left = 1 }: unclosed"),
        None
    );
}

#[test]
fn the_number_finder_finds_the_numbers_a_mutation_replaces() {
    let text = "a = 1.5\nb = [-2, 3e-4]\nc = \"x9\"\nd = 1_000";
    let found: Vec<&str> = numbers(text).into_iter().map(|r| &text[r]).collect();
    assert_eq!(found, ["1.5", "-2", "3e-4", "1_000"]);
}
