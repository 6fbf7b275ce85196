//! [`VmcuThread`]: a virtual MCU running on a thread of this process, for benchmarks,
//! examples and tests — started, waited for until its link is up (its own: a link another
//! virtual MCU holds does not count), and stopped (its link removed) when dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::runner::{Control, VmcuConfig, VmcuError, run};

/// A virtual MCU on its own thread. See the module docs.
pub struct VmcuThread {
    control: Arc<Control>,
    link: PathBuf,
    thread: Option<JoinHandle<Result<(), VmcuError>>>,
}

/// How long a starting MCU may take to put up its link.
const LINK_WAIT: Duration = Duration::from_secs(10);

impl VmcuThread {
    /// Starts the MCU `config` describes and waits until its link is up (or it failed, as
    /// it does on a link or flash file another virtual MCU holds, or 10 s passed).
    pub fn start(config: VmcuConfig) -> Result<VmcuThread, VmcuError> {
        let control = Arc::new(Control::default());
        let link = config.link.clone();
        let thread = {
            let control = control.clone();
            std::thread::Builder::new()
                .name("vmcu".into())
                .spawn(move || run(&config, control))
                .map_err(|source| VmcuError::Io {
                    what: "starting the virtual MCU's thread".into(),
                    source,
                })?
        };
        let mut mcu = VmcuThread {
            control,
            link,
            thread: Some(thread),
        };
        let started = Instant::now();
        while !mcu.control.linked() {
            if mcu.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                return Err(mcu.join().err().unwrap_or_else(|| gone(&mcu.link)));
            }
            if started.elapsed() > LINK_WAIT {
                return Err(gone(&mcu.link));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(mcu)
    }

    /// Its switches and counters (unplug, corrupt, bridge state, …).
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// The path of its link (what `--port` takes).
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// Stops it and returns how its loop ended.
    pub fn stop(mut self) -> Result<(), VmcuError> {
        self.join()
    }

    fn join(&mut self) -> Result<(), VmcuError> {
        self.control.stop();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(VmcuError::Io {
                what: "the virtual MCU's thread".into(),
                source: std::io::Error::other("panicked"),
            }),
            None => Ok(()),
        }
    }
}

fn gone(link: &Path) -> VmcuError {
    VmcuError::Io {
        what: format!("waiting for {}", link.display()),
        source: std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the virtual MCU's link did not appear",
        ),
    }
}

impl Drop for VmcuThread {
    fn drop(&mut self) {
        let _ = self.join();
    }
}
