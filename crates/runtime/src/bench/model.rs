//! Median time per call of each rigid-body algorithm (FK, all joint Jacobians, RNEA,
//! ABA, CRBA), measured on a set of valid states — seeded random, or given, so a peer
//! library can be timed on the very same states. Each sample times a batch of calls
//! long enough to dwarf the clock's resolution; the median over samples is robust to a
//! noisy machine.

use std::hint::black_box;
use std::time::Instant;

use embody_model::{
    Data, Model, aba, compute_joint_jacobians, crba, forward_kinematics, random_configuration, rnea,
};
use nalgebra::DVector;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// A state to time on.
#[derive(Clone, Debug)]
pub struct State {
    /// Configuration.
    pub q: DVector<f64>,
    /// Velocity.
    pub v: DVector<f64>,
    /// Acceleration.
    pub a: DVector<f64>,
}

/// One algorithm's time per call (ns).
#[derive(Clone, Debug, Serialize)]
pub struct AlgorithmTiming {
    /// `fk`, `jacobians`, `rnea`, `aba` or `crba`.
    pub algorithm: &'static str,
    /// Median.
    pub median_ns: f64,
    /// 10th percentile.
    pub p10_ns: f64,
    /// 90th percentile.
    pub p90_ns: f64,
}

/// `count` seeded random valid states of `model`.
pub fn random_states(model: &Model, count: usize) -> Vec<State> {
    let mut rng = SmallRng::seed_from_u64(42);
    (0..count)
        .map(|_| State {
            q: random_configuration(model, &mut rng),
            v: DVector::from_fn(model.nv, |_, _| rng.random_range(-2.0..2.0)),
            a: DVector::from_fn(model.nv, |_, _| rng.random_range(-2.0..2.0)),
        })
        .collect()
}

/// Times every algorithm on `states` of `model` (sized to it, at least one), `samples`
/// batches each.
pub fn run(model: &Model, states: &[State], samples: usize) -> Vec<AlgorithmTiming> {
    let samples = samples.max(1);
    let mut data = Data::new(model);
    let (m, s, n) = (model, states, states.len().max(1));
    let mut out = Vec::new();
    out.push(time("fk", samples, n, |i| {
        forward_kinematics(m, &mut data, s[i].q.as_slice())
    }));
    out.push(time("jacobians", samples, n, |i| {
        compute_joint_jacobians(m, &mut data, s[i].q.as_slice())
    }));
    out.push(time("rnea", samples, n, |i| {
        black_box(rnea(
            m,
            &mut data,
            s[i].q.as_slice(),
            s[i].v.as_slice(),
            s[i].a.as_slice(),
        ));
    }));
    out.push(time("aba", samples, n, |i| {
        black_box(aba(
            m,
            &mut data,
            s[i].q.as_slice(),
            s[i].v.as_slice(),
            s[i].a.as_slice(),
        ));
    }));
    out.push(time("crba", samples, n, |i| {
        black_box(crba(m, &mut data, s[i].q.as_slice()));
    }));
    out
}

/// Times `call(state_index)`: nanoseconds per call over `samples` batches.
fn time(
    algorithm: &'static str,
    samples: usize,
    n_states: usize,
    mut call: impl FnMut(usize),
) -> AlgorithmTiming {
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
    AlgorithmTiming {
        algorithm,
        median_ns: at(0.5),
        p10_ns: at(0.1),
        p90_ns: at(0.9),
    }
}
