//! The runtime's benchmarks: each measures a part of the runtime the way it runs and
//! returns its figures (serializable, for `--json`) for the caller to print.
//!
//! - [`loop_timing`]: the real loop thread against the mock or a robot on the wire.
//! - [`viz`]: what a live Rerun recording costs that loop.
//! - [`wire`]: the link's codec, the bus budget, the host → bridge → host round trip.
//! - [`flash`]: many virtual units flashed at once on paced links.
//! - [`plan`]: a jerk-limited joint move and a Cartesian line through IK.
//! - [`policy`]: a learned policy's step: observation, inference, action.
//! - [`model`]: the rigid-body algorithms per call; [`sim`]: physics steps per second.
//! - [`camera`]: the simulated camera's RGB-D frames per second.
//! - [`record`]: a dataset's cameras and rows written per second.

pub mod camera;
pub mod flash;
pub mod loop_timing;
pub mod model;
pub mod plan;
pub mod policy;
pub mod record;
pub mod sim;
pub mod viz;
pub mod wire;

/// The median of `v` (NaN when empty).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Scratch directories alive now, for [`remove_scratch`].
static SCRATCH: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A scratch directory under the system's temporary one, removed when dropped (also
/// when the benchmark fails half way) or by [`remove_scratch`] on an interrupt.
pub(crate) struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub(crate) fn new(what: &str) -> std::io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("embody-bench-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        SCRATCH
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(dir.clone());
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        SCRATCH
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|dir| *dir != self.0);
    }
}

/// Removes every benchmark scratch directory still alive: what a command interrupted by
/// a signal calls before it exits, since no destructor runs then.
pub fn remove_scratch() {
    let dirs = SCRATCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for dir in dirs {
        // Twice: threads of the benchmark may still be creating files in it.
        if std::fs::remove_dir_all(&dir).is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
