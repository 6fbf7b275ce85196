//! Helpers the CLI's test files share.

// Each test file uses what it needs of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A scratch directory under the system's temporary one, emptied first and removed when
/// dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `embody-<name>-<pid>`.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("embody-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed when dropped (an `embody vmcu` a test started).
pub struct Killed(pub Child);

impl Killed {
    /// Waits for the process to end by itself and takes what it printed (its output
    /// must fit the pipes: read after it ends).
    #[allow(dead_code)] // not every test binary waits for one
    pub fn output(&mut self) -> Output {
        use std::io::Read;
        let status = self.0.wait().expect("the process ends");
        let read = |pipe: Option<&mut dyn Read>| {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                pipe.read_to_end(&mut bytes).expect("its output");
            }
            bytes
        };
        let stdout = read(self.0.stdout.as_mut().map(|p| p as &mut dyn Read));
        let stderr = read(self.0.stderr.as_mut().map(|p| p as &mut dyn Read));
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to 10 s for `path` to exist (a virtual unit's link).
pub fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `embody` with `args`.
pub fn embody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .output()
        .expect("embody runs")
}

/// Copies `examples/fleet` (fleet, robots and units; not the calibration) to `to`.
pub fn copy_example_fleet(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet");
    for sub in ["", "robots", "units"] {
        std::fs::create_dir_all(to.join(sub)).expect("dir");
        for entry in std::fs::read_dir(from.join(sub)).expect("example fleet") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(&path, to.join(sub).join(path.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
}
