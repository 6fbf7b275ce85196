//! The `--rerun` options shared by every command that runs a robot: where the recording
//! goes, the robot's unit id in it, and how much of the loop it keeps.

use clap::Args;
use embody_viz::{Sink, VizConfig};

use crate::error::{CliError, Result};
use crate::numbers::float;

/// `--rerun SINK [--rerun-unit ID] [--rerun-pose-hz HZ] [--rerun-series-hz HZ]`.
#[derive(Args, Debug, Clone)]
pub struct RerunArgs {
    /// Show the robot in Rerun: spawn, connect[=URL], save=PATH or serve.
    #[arg(long)]
    pub rerun: Option<Sink>,
    /// The robot's unit id in the recording (default: the robot's name).
    #[arg(long, requires = "rerun")]
    pub rerun_unit: Option<String>,
    /// Rate of the robot's 3D poses in the recording (Hz).
    #[arg(long, default_value_t = 60.0, requires = "rerun", value_parser = float(0.1..=1000.0, " Hz"))]
    pub rerun_pose_hz: f64,
    /// Rate of the joint and timing series (Hz; default: every loop tick).
    #[arg(long, requires = "rerun", value_parser = float(0.1..=10_000.0, " Hz"))]
    pub rerun_series_hz: Option<f64>,
}

impl RerunArgs {
    /// The recording's settings (`None` without `--rerun`); `robot` is the default unit.
    pub fn config(&self, robot: &str) -> Result<Option<VizConfig>> {
        let Some(sink) = self.rerun.clone() else {
            return Ok(None);
        };
        let rate_ok = |hz: f64| hz.is_finite() && hz > 0.0 && hz <= 10_000.0;
        if !rate_ok(self.rerun_pose_hz) {
            return Err(CliError::Usage(format!(
                "--rerun-pose-hz {} is outside (0, 10000]",
                self.rerun_pose_hz
            )));
        }
        if let Some(hz) = self.rerun_series_hz.filter(|hz| !rate_ok(*hz)) {
            return Err(CliError::Usage(format!(
                "--rerun-series-hz {hz} is outside (0, 10000]"
            )));
        }
        let mut viz = VizConfig::new(sink, self.rerun_unit.as_deref().unwrap_or(robot));
        viz.pose_hz = self.rerun_pose_hz;
        viz.series_hz = self.rerun_series_hz;
        Ok(Some(viz))
    }

    /// With `--rerun serve`, keeps the recording served once the command is done, until
    /// the process is interrupted (viewers can still connect and scrub through it).
    pub fn linger(&self) {
        if self.rerun == Some(Sink::Serve) {
            eprintln!(
                "serving the recording at rerun+http://127.0.0.1:9876/proxy \
                 (`rerun --connect rerun+http://127.0.0.1:9876/proxy`); Ctrl-C to stop"
            );
            loop {
                std::thread::park();
            }
        }
    }
}
