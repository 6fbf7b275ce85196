//! `embody model bench`: median time per call of each algorithm
//! (`embody_runtime::bench::model`), on 64 seeded random states or on states read from a
//! file, so a peer library can be timed on the very same states.

use std::path::{Path, PathBuf};

use clap::Args;
use embody_model::Model;
use embody_runtime::bench::model::{self, State};
use nalgebra::DVector;
use serde::Deserialize;
use serde_json::json;

use super::RobotArg;
use crate::error::{CliError, Result};
use crate::numbers::count;

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
    #[arg(long, default_value_t = 101, value_parser = count::<usize>(1..=1_000_000))]
    samples: usize,
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

/// Runs `embody model bench`.
pub fn run(args: &BenchArgs) -> Result {
    let model = args.robot.load()?;
    let states = match &args.states {
        Some(path) => read_states(&model, path)?,
        None => model::random_states(&model, 64),
    };
    if states.is_empty() {
        return Err(CliError::Usage("no states to time on".into()));
    }
    let samples = args.samples.max(1);
    let results = model::run(&model, &states, samples);
    if args.json {
        let out = json!({"robot": model.name, "nq": model.nq, "nv": model.nv, "states": states.len(), "samples": samples, "results": results});
        println!("{out}");
        return Ok(());
    }
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
    for t in &results {
        println!(
            "{:<10} {:>12.1} {:>10.1} {:>10.1}",
            t.algorithm, t.median_ns, t.p10_ns, t.p90_ns
        );
    }
    Ok(())
}

fn read_states(model: &Model, path: &Path) -> Result<Vec<State>> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
    let file: StatesFile = serde_json::from_str(&text).map_err(|e| CliError::file(path, e))?;
    file.states
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            for (name, x, n) in [
                ("q", &s.q, model.nq),
                ("v", &s.v, model.nv),
                ("a", &s.a, model.nv),
            ] {
                if x.len() != n {
                    return Err(CliError::file(
                        path,
                        format!(
                            "states[{i}].{name} has {} values, the model needs {n}",
                            x.len()
                        ),
                    ));
                }
            }
            Ok(State {
                q: DVector::from_vec(s.q),
                v: DVector::from_vec(s.v),
                a: DVector::from_vec(s.a),
            })
        })
        .collect()
}
