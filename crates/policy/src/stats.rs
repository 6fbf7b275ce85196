//! Normalisation by LeRobot-style statistics (`stats.json`: per feature key, `mean`,
//! `std`, `min`, `max` as nested lists, flattened here): an observation is normalised on
//! its way into the network, an action un-normalised on its way out, as LeRobot does —
//! `MEAN_STD`: `(x − mean)/(std + 1e-8)`, back `y·std + mean`; `MIN_MAX`:
//! `2(x − min)/(max − min) − 1`, back `(y + 1)/2·(max − min) + min`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::Problem;
use crate::manifest::{NormMode, Normalize};

/// What LeRobot adds to a standard deviation before dividing by it.
const EPS: f64 = 1e-8;

/// Every feature's statistics, flattened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats(BTreeMap<String, BTreeMap<String, Vec<f64>>>);

/// A normaliser for one vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalizer {
    mode: NormMode,
    /// `mean` or `min`.
    low: Vec<f64>,
    /// `std` or `max`.
    high: Vec<f64>,
}

impl Stats {
    /// Parses `stats.json` text; `file` names it in problems.
    pub fn parse(text: &str, file: &Path) -> Result<Stats, Problem> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Problem::new(file, format!("line {}", e.line()), e.to_string()))?;
        let Value::Object(features) = value else {
            return Err(Problem::new(file, "", "must be an object of features"));
        };
        let mut stats = BTreeMap::new();
        for (key, feature) in features {
            let Value::Object(fields) = feature else {
                return Err(Problem::new(file, key, "must be an object of statistics"));
            };
            let mut flat = BTreeMap::new();
            for (name, v) in fields {
                let mut out = Vec::new();
                flatten(&v, &mut out, 0)
                    .map_err(|why| Problem::new(file, format!("{key}.{name}"), why))?;
                flat.insert(name, out);
            }
            stats.insert(key, flat);
        }
        Ok(Stats(stats))
    }

    /// The normaliser `spec` names, for vectors of `size` values.
    pub fn normalizer(
        &self,
        spec: &Normalize,
        size: usize,
        file: &Path,
    ) -> Result<Normalizer, Problem> {
        let feature = self
            .0
            .get(&spec.key)
            .ok_or_else(|| Problem::new(file, &spec.key, "no such feature in the statistics"))?;
        let (low, high) = match spec.mode {
            NormMode::MeanStd => ("mean", "std"),
            NormMode::MinMax => ("min", "max"),
        };
        let get = |name: &str| {
            let values = feature
                .get(name)
                .ok_or_else(|| Problem::new(file, format!("{}.{name}", spec.key), "missing"))?;
            if values.len() != size {
                return Err(Problem::new(
                    file,
                    format!("{}.{name}", spec.key),
                    format!("has {} values where the vector has {size}", values.len()),
                ));
            }
            Ok(values.clone())
        };
        let (low, high) = (get(low)?, get(high)?);
        if spec.mode == NormMode::MeanStd && high.iter().any(|s| *s < 0.0) {
            return Err(Problem::new(
                file,
                format!("{}.std", spec.key),
                "is negative",
            ));
        }
        Ok(Normalizer {
            mode: spec.mode,
            low,
            high,
        })
    }
}

/// Appends the numbers of `v` (a number or nested lists of them) to `out`.
fn flatten(v: &Value, out: &mut Vec<f64>, depth: usize) -> Result<(), String> {
    match v {
        Value::Number(n) => {
            let x = n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or("a number is not finite")?;
            out.push(x);
            Ok(())
        }
        Value::Array(items) if depth < 8 => {
            items.iter().try_for_each(|i| flatten(i, out, depth + 1))
        }
        Value::Array(_) => Err("nested deeper than 8 lists".into()),
        _ => Err("must be a number or a list of numbers".into()),
    }
}

impl Normalizer {
    /// Normalises `x` in place (an observation going in).
    pub fn normalize(&self, x: &mut [f64]) {
        for ((x, lo), hi) in x.iter_mut().zip(&self.low).zip(&self.high) {
            *x = match self.mode {
                NormMode::MeanStd => (*x - lo) / (hi + EPS),
                NormMode::MinMax => 2.0 * (*x - lo) / range(*lo, *hi) - 1.0,
            };
        }
    }

    /// Un-normalises `y` in place (an action coming out).
    pub fn denormalize(&self, y: &mut [f64]) {
        for ((y, lo), hi) in y.iter_mut().zip(&self.low).zip(&self.high) {
            *y = match self.mode {
                NormMode::MeanStd => *y * hi + lo,
                NormMode::MinMax => (*y + 1.0) / 2.0 * range(*lo, *hi) + lo,
            };
        }
    }
}

/// `max − min`, or eps for a feature that never varied.
fn range(lo: f64, hi: f64) -> f64 {
    let r = hi - lo;
    if r == 0.0 { EPS } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = r#"{
        "observation.state": {"mean": [1.0, -2.0], "std": [0.5, 2.0], "min": [[0.0], [-4.0]], "max": [[2.0], [0.0]], "count": [10]},
        "action": {"mean": [0.0], "std": [3.0], "min": [-1.0], "max": [1.0]}
    }"#;

    fn spec(key: &str, mode: NormMode) -> Normalize {
        Normalize {
            key: key.into(),
            mode,
        }
    }

    #[test]
    fn mean_std_and_min_max_follow_lerobot_and_invert() {
        let stats = Stats::parse(STATS, Path::new("stats.json")).expect("stats");
        let file = Path::new("stats.json");
        let n = stats
            .normalizer(&spec("observation.state", NormMode::MeanStd), 2, file)
            .expect("mean_std");
        let mut x = [2.0, 2.0];
        n.normalize(&mut x);
        assert!(
            (x[0] - 1.0 / (0.5 + EPS)).abs() < 1e-12 && (x[1] - 4.0 / (2.0 + EPS)).abs() < 1e-12
        );
        let m = stats
            .normalizer(&spec("observation.state", NormMode::MinMax), 2, file)
            .expect("min_max");
        let mut x = [2.0, -2.0];
        m.normalize(&mut x);
        assert_eq!(x, [1.0, 0.0]);
        m.denormalize(&mut x);
        assert_eq!(x, [2.0, -2.0]);
        let a = stats
            .normalizer(&spec("action", NormMode::MeanStd), 1, file)
            .expect("action");
        let mut y = [0.5];
        a.denormalize(&mut y);
        assert_eq!(y, [1.5]);
    }

    #[test]
    fn missing_features_and_wrong_sizes_are_located() {
        let stats = Stats::parse(STATS, Path::new("stats.json")).expect("stats");
        let file = Path::new("stats.json");
        let e = stats
            .normalizer(&spec("nope", NormMode::MeanStd), 2, file)
            .expect_err("nope");
        assert_eq!(
            e.to_string(),
            "stats.json: nope: no such feature in the statistics"
        );
        let e = stats
            .normalizer(&spec("observation.state", NormMode::MeanStd), 3, file)
            .expect_err("size");
        assert_eq!(
            e.to_string(),
            "stats.json: observation.state.mean: has 2 values where the vector has 3"
        );
        let e = Stats::parse(r#"{"a": {"mean": ["x"]}}"#, file).expect_err("text");
        assert!(
            e.to_string()
                .starts_with("stats.json: a.mean: must be a number"),
            "{e}"
        );
    }
}
