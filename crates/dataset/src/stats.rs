//! `meta/stats.json`: each feature's statistics over all frames, as LeRobot normalises
//! with them — `min`, `max`, `mean`, `std`, `count` and the quantiles `q01` … `q99`, per
//! element of a vector, per channel of a video (pixel / 255, shaped `[3][1][1]`, `count`
//! the frames sampled).

use serde_json::{Value, json};

/// The quantiles LeRobot keeps.
const QUANTILES: [(&str, f64); 5] = [
    ("q01", 0.01),
    ("q10", 0.10),
    ("q50", 0.50),
    ("q90", 0.90),
    ("q99", 0.99),
];

/// Statistics of a vector (or scalar) feature: every value kept, for exact quantiles.
#[derive(Clone, Debug, Default)]
pub struct VectorStats {
    /// Values of each element, over frames.
    elements: Vec<Vec<f64>>,
}

impl VectorStats {
    /// Adds one frame's values.
    pub fn add(&mut self, values: &[f64]) {
        if self.elements.len() < values.len() {
            self.elements.resize(values.len(), Vec::new());
        }
        for (element, &v) in self.elements.iter_mut().zip(values) {
            element.push(v);
        }
    }

    /// The stats.json entry.
    pub fn to_json(&self) -> Value {
        let mut sorted = self.elements.clone();
        for e in &mut sorted {
            e.sort_by(f64::total_cmp);
        }
        let per = |f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> { sorted.iter().map(|e| f(e)).collect() };
        let mean = |e: &[f64]| e.iter().sum::<f64>() / e.len().max(1) as f64;
        let std = |e: &[f64]| {
            let m = mean(e);
            (e.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / e.len().max(1) as f64).sqrt()
        };
        let mut entry = json!({
            "min": per(&|e| e.first().copied().unwrap_or(0.0)),
            "max": per(&|e| e.last().copied().unwrap_or(0.0)),
            "mean": per(&mean),
            "std": per(&std),
            "count": [sorted.first().map_or(0, Vec::len)],
        });
        for (name, q) in QUANTILES {
            entry[name] = json!(per(&|e| quantile(e, q)));
        }
        entry
    }
}

/// The `q` quantile of sorted `values`, interpolated linearly between neighbours (as
/// numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let at = q * (n - 1) as f64;
            let (below, above) = (at.floor() as usize, at.ceil() as usize);
            sorted[below] + (sorted[above] - sorted[below]) * (at - below as f64)
        }
    }
}

/// Statistics of a camera's frames: a histogram of each channel's 8-bit values over
/// every fourth pixel of each row and column of the frames sampled.
#[derive(Clone, Debug)]
pub struct ImageStats {
    histograms: [[u64; 256]; 3],
    frames: u64,
}

impl Default for ImageStats {
    fn default() -> ImageStats {
        ImageStats {
            histograms: [[0; 256]; 3],
            frames: 0,
        }
    }
}

/// Pixels skipped between samples, across and down.
const STRIDE: usize = 4;

impl ImageStats {
    /// Adds an RGB frame `width` pixels wide.
    pub fn add(&mut self, rgb: &[u8], width: usize) {
        let row = 3 * width;
        if row == 0 {
            return;
        }
        for line in rgb.chunks_exact(row).step_by(STRIDE) {
            for pixel in line.chunks_exact(3).step_by(STRIDE) {
                for (c, &v) in pixel.iter().enumerate() {
                    self.histograms[c][usize::from(v)] += 1;
                }
            }
        }
        self.frames += 1;
    }

    /// The stats.json entry: each statistic `[[[red]], [[green]], [[blue]]]`, in 0–1.
    pub fn to_json(&self) -> Value {
        let channel = |c: usize, f: &dyn Fn(&[u64; 256]) -> f64| json!([[f(&self.histograms[c])]]);
        let per = |f: &dyn Fn(&[u64; 256]) -> f64| {
            json!((0..3).map(|c| channel(c, f)).collect::<Vec<_>>())
        };
        let total = |h: &[u64; 256]| h.iter().sum::<u64>().max(1) as f64;
        let mean = |h: &[u64; 256]| {
            h.iter()
                .enumerate()
                .map(|(v, &n)| v as f64 * n as f64)
                .sum::<f64>()
                / total(h)
                / 255.0
        };
        let std = |h: &[u64; 256]| {
            let m = mean(h) * 255.0;
            let var = h
                .iter()
                .enumerate()
                .map(|(v, &n)| (v as f64 - m).powi(2) * n as f64)
                .sum::<f64>()
                / total(h);
            var.sqrt() / 255.0
        };
        let first = |h: &[u64; 256]| h.iter().position(|&n| n > 0).unwrap_or(0) as f64 / 255.0;
        let last = |h: &[u64; 256]| h.iter().rposition(|&n| n > 0).unwrap_or(0) as f64 / 255.0;
        let mut entry = json!({
            "min": per(&first),
            "max": per(&last),
            "mean": per(&mean),
            "std": per(&std),
            "count": [self.frames],
        });
        for (name, q) in QUANTILES {
            entry[name] = per(&|h| histogram_quantile(h, q));
        }
        entry
    }
}

/// The `q` quantile (0–1 scale) of the values a histogram counts.
fn histogram_quantile(h: &[u64; 256], q: f64) -> f64 {
    let total: u64 = h.iter().sum();
    let want = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (v, &n) in h.iter().enumerate() {
        seen += n;
        if seen >= want {
            return v as f64 / 255.0;
        }
    }
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_stats_match_their_definitions() {
        let mut s = VectorStats::default();
        for k in 0..=100 {
            s.add(&[k as f64, -2.0 * k as f64]);
        }
        let j = s.to_json();
        assert_eq!(j["min"], json!([0.0, -200.0]));
        assert_eq!(j["max"], json!([100.0, 0.0]));
        assert_eq!(j["mean"], json!([50.0, -100.0]));
        assert_eq!(j["q10"], json!([10.0, -180.0]));
        assert_eq!(j["count"], json!([101]));
        // The population σ of 0..=100.
        let std = j["std"][0].as_f64().expect("a number");
        assert!((std - (850.0f64).sqrt()).abs() < 1e-9, "{std}");
    }

    #[test]
    fn image_stats_are_per_channel_in_unit_range() {
        let mut s = ImageStats::default();
        let frame: Vec<u8> = (0..8 * 8).flat_map(|_| [255u8, 0, 51]).collect();
        s.add(&frame, 8);
        s.add(&frame, 8);
        let j = s.to_json();
        assert_eq!(j["mean"], json!([[[1.0]], [[0.0]], [[0.2]]]));
        assert_eq!(j["q50"][2], json!([[0.2]]));
        assert_eq!(j["count"], json!([2]));
    }
}
