//! What a policy run did, for a session's report: steps, timing, latency, a floating
//! base's height and tilt, and how close a reaching frame came; and the same in JSON.

/// What a policy run did, for the session's report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyOutcome {
    /// Steps taken.
    pub steps: u64,
    /// Steps that ran the network.
    pub inferences: u64,
    /// Loop time from the first step to the last (s).
    pub active_s: f64,
    /// Each step's latency, snapshot read to targets queued (µs).
    pub latency_us: Vec<f64>,
    /// Targets the loop's full queue refused.
    pub refused: u64,
    /// Steps that ran more than half a period after their time (real time).
    pub late: u64,
    /// Steps never taken: the driver fell more than a period behind and skipped them.
    pub skipped: u64,
    /// A floating base's height at the first step and its lowest since (m).
    pub base_height_m: Option<(f64, f64)>,
    /// A floating base's largest tilt from upright (rad).
    pub max_tilt_rad: f64,
    /// For a package whose episode succeeds by reaching: how close its frame came.
    pub reach: Option<Reach>,
    /// Steps held (no inference, the last targets kept) because an `image` term's image
    /// was older than the package allows, or missing.
    pub held: u64,
    /// The oldest image an `image` term was given or held on (ms).
    pub max_image_age_ms: f64,
}

/// How close a frame came to the commanded goal position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reach {
    /// The frame.
    pub frame: String,
    /// The goal (m, world).
    pub goal: [f64; 3],
    /// Success distance (m).
    pub within_m: f64,
    /// Distance at the last step (m).
    pub final_m: f64,
    /// Closest distance (m).
    pub closest_m: f64,
    /// First time the frame came within `within_m` (s since the policy started).
    pub reached_at_s: Option<f64>,
}

impl Reach {
    /// Whether the frame is within reach of the goal at the end.
    pub fn succeeded(&self) -> bool {
        self.final_m <= self.within_m
    }
}

impl PolicyOutcome {
    /// Steps per second of loop time.
    pub fn rate_hz(&self) -> f64 {
        if self.active_s > 0.0 {
            self.steps.saturating_sub(1) as f64 / self.active_s
        } else {
            0.0
        }
    }

    /// Whether a floating base fell: it dropped below half its start height or tilted
    /// past 60°.
    pub fn fell(&self) -> bool {
        let dropped = self
            .base_height_m
            .is_some_and(|(start, low)| low < 0.5 * start);
        dropped || self.max_tilt_rad > 60f64.to_radians()
    }

    /// The share of the steps due that ran on time (0–1): neither late nor skipped.
    pub fn on_time(&self) -> f64 {
        let due = self.steps + self.skipped;
        if due == 0 {
            return 1.0;
        }
        (self.steps - self.late.min(self.steps)) as f64 / due as f64
    }

    /// The run in JSON: steps, rate, latency, timeliness, and the reach when kept.
    pub fn summary(&self) -> serde_json::Value {
        let reach = self.reach.as_ref().map(|r| {
            serde_json::json!({
                "frame": r.frame, "goal": r.goal, "within_m": r.within_m,
                "final_m": r.final_m, "closest_m": r.closest_m,
                "reached_at_s": r.reached_at_s, "succeeded": r.succeeded(),
            })
        });
        serde_json::json!({
            "steps": self.steps,
            "inferences": self.inferences,
            "policy_hz": self.rate_hz(),
            "latency_us": {
                "p50": self.latency_quantile_us(0.5),
                "p99": self.latency_quantile_us(0.99),
            },
            "late": self.late,
            "skipped": self.skipped,
            "on_time": self.on_time(),
            "refused": self.refused,
            "reach": reach,
        })
    }

    /// The `p`-quantile (0–1) of the latency (µs); NaN without steps.
    pub fn latency_quantile_us(&self, p: f64) -> f64 {
        let mut v = self.latency_us.clone();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * p).round().max(0.0) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}
