//! `embody model bench`: median time per call of each algorithm, measured on a set of
//! valid states (seeded random, or read from a file so a peer library can be timed on the
//! very same states). Each sample times a batch of calls long enough to dwarf the clock's
//! resolution; the median over samples is robust to a noisy machine.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use embody_model::{
    Data, Model, aba, compute_joint_jacobians, crba, forward_kinematics, random_configuration, rnea,
};
use nalgebra::DVector;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::json;

use super::RobotArg;

/// Arguments of `embody model bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    robot: RobotArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Time on these states (the `eval` input format) instead of 64 seeded random ones.
    #[arg(long)]
    states: Option<PathBuf>,
    /// Number of timed samples per algorithm; the median is reported.
    #[arg(long, default_value_t = 101)]
    samples: usize,
}

struct State {
    q: DVector<f64>,
    v: DVector<f64>,
    a: DVector<f64>,
}

#[derive(Deserialize)]
struct StatesFile {
    states: Vec<StateIn>,
}

#[derive(Deserialize)]
struct StateIn {
    q: Vec<f64>,
    v: Vec<f64>,
    a: Vec<f64>,
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    let model = args.robot.load()?;
    let states = match &args.states {
        Some(path) => read_states(&model, path)?,
        None => random_states(&model, 64),
    };
    if states.is_empty() {
        return Err("no states to time on".into());
    }
    let samples = args.samples.max(1);
    let mut data = Data::new(&model);
    let m = &model;
    let s = &states;
    let results = [
        (
            "fk",
            time(samples, s.len(), |i| {
                forward_kinematics(m, &mut data, s[i].q.as_slice())
            }),
        ),
        (
            "jacobians",
            time(samples, s.len(), |i| {
                compute_joint_jacobians(m, &mut data, s[i].q.as_slice())
            }),
        ),
        (
            "rnea",
            time(samples, s.len(), |i| {
                black_box(rnea(
                    m,
                    &mut data,
                    s[i].q.as_slice(),
                    s[i].v.as_slice(),
                    s[i].a.as_slice(),
                ));
            }),
        ),
        (
            "aba",
            time(samples, s.len(), |i| {
                black_box(aba(
                    m,
                    &mut data,
                    s[i].q.as_slice(),
                    s[i].v.as_slice(),
                    s[i].a.as_slice(),
                ));
            }),
        ),
        (
            "crba",
            time(samples, s.len(), |i| {
                black_box(crba(m, &mut data, s[i].q.as_slice()));
            }),
        ),
    ];
    if args.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(name, t)| json!({"algorithm": name, "median_ns": t.median, "p10_ns": t.p10, "p90_ns": t.p90}))
            .collect();
        let out = json!({"robot": model.name, "nq": model.nq, "nv": model.nv, "states": states.len(), "samples": samples, "results": rows});
        println!("{out}");
    } else {
        println!(
            "{} (nq {}, nv {}): {} states, {} samples per algorithm",
            model.name,
            model.nq,
            model.nv,
            states.len(),
            samples
        );
        println!(
            "{:<10} {:>12} {:>10} {:>10}",
            "algorithm", "median ns", "p10 ns", "p90 ns"
        );
        for (name, t) in &results {
            println!(
                "{name:<10} {:>12.1} {:>10.1} {:>10.1}",
                t.median, t.p10, t.p90
            );
        }
    }
    Ok(())
}

struct Timing {
    median: f64,
    p10: f64,
    p90: f64,
}

/// Times `call(state_index)`: nanoseconds per call over `samples` batches.
fn time(samples: usize, n_states: usize, mut call: impl FnMut(usize)) -> Timing {
    let mut next = 0;
    let mut run = |count: usize| {
        let start = Instant::now();
        for _ in 0..count {
            call(next);
            next = (next + 1) % n_states;
        }
        start.elapsed().as_secs_f64()
    };
    // Warm up, then size batches to about 100 µs.
    run(n_states * 4);
    let mut batch = 1;
    while run(batch) < 100e-6 && batch < 1 << 24 {
        batch *= 2;
    }
    let mut per_call: Vec<f64> = (0..samples)
        .map(|_| run(batch) * 1e9 / batch as f64)
        .collect();
    per_call.sort_by(f64::total_cmp);
    let at = |p: f64| per_call[((per_call.len() - 1) as f64 * p).round() as usize];
    Timing {
        median: at(0.5),
        p10: at(0.1),
        p90: at(0.9),
    }
}

fn random_states(model: &Model, count: usize) -> Vec<State> {
    let mut rng = SmallRng::seed_from_u64(42);
    (0..count)
        .map(|_| State {
            q: random_configuration(model, &mut rng),
            v: DVector::from_fn(model.nv, |_, _| rng.random_range(-2.0..2.0)),
            a: DVector::from_fn(model.nv, |_, _| rng.random_range(-2.0..2.0)),
        })
        .collect()
}

fn read_states(model: &Model, path: &PathBuf) -> Result<Vec<State>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: StatesFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    file.states
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let check = |name: &str, x: &[f64], n: usize| {
                if x.len() == n {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: states[{i}].{name} has {} values, the model needs {n}",
                        path.display(),
                        x.len()
                    ))
                }
            };
            check("q", &s.q, model.nq)?;
            check("v", &s.v, model.nv)?;
            check("a", &s.a, model.nv)?;
            Ok(State {
                q: DVector::from_vec(s.q),
                v: DVector::from_vec(s.v),
                a: DVector::from_vec(s.a),
            })
        })
        .collect()
}
