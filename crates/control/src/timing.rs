//! Loop timing kept where anyone can read it: lock-free histograms of per-tick compute
//! time and wake-up jitter, and counters of ticks and overruns. The loop records with a
//! few relaxed atomic adds; readers compute percentiles whenever they like. Buckets are
//! log-linear (64 per octave, under 1.6 % relative error), covering 1 ns to 18 minutes.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

const SUB_BUCKETS: u32 = 64;
const SUB_BITS: u32 = 6;
const OCTAVES: u32 = 42;

/// A histogram of nanosecond durations, recorded by one thread and read by any.
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

/// Percentiles of a [`Histogram`], in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..(OCTAVES * SUB_BUCKETS))
                .map(|_| AtomicU64::new(0))
                .collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn bucket_of(ns: u64) -> usize {
    let bits = 64 - ns.leading_zeros();
    // Octave 0 holds 0..64 exactly; octave k ≥ 1 holds [2^(k+5), 2^(k+6)) in steps of
    // 2^(k−1).
    let octave = bits.saturating_sub(SUB_BITS);
    let sub = (ns >> octave.saturating_sub(1)) as u32 & (SUB_BUCKETS - 1);
    let index = octave * SUB_BUCKETS + sub;
    (index as usize).min((OCTAVES * SUB_BUCKETS) as usize - 1)
}

/// The smallest value a bucket holds.
fn lower_bound_of(index: usize) -> u64 {
    let (octave, sub) = (index as u32 / SUB_BUCKETS, index as u32 % SUB_BUCKETS);
    if octave == 0 {
        u64::from(sub)
    } else {
        u64::from(sub | SUB_BUCKETS) << (octave - 1)
    }
}

impl Histogram {
    /// Records one duration. Real-time safe.
    pub fn record(&self, ns: u64) {
        self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(ns, Ordering::Relaxed);
    }

    /// Forgets every sample.
    pub fn clear(&self) {
        for b in self.buckets.iter() {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
    }

    /// The value below which `fraction` of the samples fall (bucket lower bound).
    pub fn quantile(&self, fraction: f64) -> u64 {
        let total: u64 = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum();
        if total == 0 {
            return 0;
        }
        let rank = ((fraction * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return lower_bound_of(i);
            }
        }
        self.max.load(Ordering::Relaxed)
    }

    /// Median, p99, p99.9 and max.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            count: self.count.load(Ordering::Relaxed),
            p50_ns: self.quantile(0.5),
            p99_ns: self.quantile(0.99),
            p999_ns: self.quantile(0.999),
            max_ns: self.max.load(Ordering::Relaxed),
        }
    }
}

/// Everything the loop reports about its own timing.
#[derive(Debug, Default)]
pub struct LoopTiming {
    /// Time from wake-up to the command being written, per tick.
    pub compute: Histogram,
    /// Time spent in estimation, control and safety only (no robot I/O), per tick.
    pub stages: Histogram,
    /// Lateness of each wake-up against its deadline.
    pub jitter: Histogram,
    ticks: AtomicU64,
    overruns: AtomicU64,
    missed_deadlines: AtomicU64,
}

/// A copy of [`LoopTiming`]'s figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TimingReport {
    /// Ticks run.
    pub ticks: u64,
    /// Ticks whose work ran past the next deadline.
    pub overruns: u64,
    /// Deadlines skipped because of overruns (never made up later).
    pub missed_deadlines: u64,
    /// Wake-up to write, per tick.
    pub compute: Percentiles,
    /// Estimation + control + safety, per tick.
    pub stages: Percentiles,
    /// Wake-up lateness.
    pub jitter: Percentiles,
}

impl LoopTiming {
    /// Counts one tick.
    pub fn count_tick(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an overrun that skipped `missed` deadlines.
    pub fn count_overrun(&self, missed: u64) {
        self.overruns.fetch_add(1, Ordering::Relaxed);
        self.missed_deadlines.fetch_add(missed, Ordering::Relaxed);
    }

    /// Overruns so far.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// The figures so far.
    pub fn report(&self) -> TimingReport {
        TimingReport {
            ticks: self.ticks.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            missed_deadlines: self.missed_deadlines.load(Ordering::Relaxed),
            compute: self.compute.percentiles(),
            stages: self.stages.percentiles(),
            jitter: self.jitter.percentiles(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_within_two_percent() {
        let mut last = 0;
        for ns in [
            0u64,
            1,
            63,
            64,
            65,
            127,
            128,
            1000,
            10_000,
            123_456_789,
            1 << 39,
        ] {
            let i = bucket_of(ns);
            assert!(i >= last, "bucket of {ns} went backwards");
            last = i;
            let lower = lower_bound_of(i);
            assert!(lower <= ns, "{ns}: lower bound {lower}");
            assert!(
                (ns - lower) as f64 <= ns as f64 / 63.0 + 1.0,
                "{ns}: lower bound {lower}"
            );
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let h = Histogram::default();
        // 1..=10_000 ns uniformly: p50 ≈ 5000, p99 ≈ 9900, p99.9 ≈ 9990.
        for ns in 1..=10_000 {
            h.record(ns);
        }
        let p = h.percentiles();
        assert_eq!((p.count, p.max_ns), (10_000, 10_000));
        for (got, want) in [(p.p50_ns, 5000.0), (p.p99_ns, 9900.0), (p.p999_ns, 9990.0)] {
            assert!((got as f64 - want).abs() / want < 0.02, "{got} vs {want}");
        }
        h.clear();
        assert_eq!(h.percentiles(), Percentiles::default());
    }
}
