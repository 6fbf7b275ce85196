//! A folder of image files (PNG, JPEG or binary PPM, in name order) played as a camera:
//! on its own thread, one file a frame at the camera's rate, each decoded into the next
//! free image of its pool and stamped with the clock's time — for replaying what a
//! camera saw. Files that do not decode, or differ in size from the first, are skipped
//! and counted, never fatal.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use embody_hal::{Camera, CameraInfo, Clock, ImagePool, Intrinsics, Mount};

/// Why a sequence cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    /// The folder cannot be listed.
    #[error("{path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It holds no image files.
    #[error("{0}: no .png, .jpg or .ppm files")]
    Empty(PathBuf),
    /// Its first image does not decode.
    #[error("{path}: {reason}")]
    First {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A rate that is no rate.
    #[error("a rate of {0} Hz: it must be in (0, 1000]")]
    Rate(f64),
}

/// A folder of images played as a camera; stops when dropped.
pub struct ImageSequence {
    info: CameraInfo,
    pool: ImagePool,
    stop: Arc<AtomicBool>,
    skipped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

fn is_image(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    ["png", "jpg", "jpeg", "ppm"].contains(&ext.to_ascii_lowercase().as_str())
}

fn decode(path: &Path) -> Result<image::RgbImage, String> {
    Ok(image::open(path).map_err(|e| e.to_string())?.into_rgb8())
}

impl ImageSequence {
    /// Plays the images in `folder` as camera `name` through `lens` (default: a 70°
    /// pinhole), at `rate_hz` on `clock`, from the first again after the last when
    /// `looped`.
    pub fn open(
        folder: &Path,
        name: &str,
        rate_hz: f64,
        lens: Option<Intrinsics>,
        looped: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<ImageSequence, SequenceError> {
        if !(rate_hz.is_finite() && rate_hz > 0.0 && rate_hz <= 1000.0) {
            return Err(SequenceError::Rate(rate_hz));
        }
        let io = |source| SequenceError::Io {
            path: folder.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = (std::fs::read_dir(folder).map_err(io)?)
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| is_image(path))
            .collect();
        files.sort();
        let first = files
            .first()
            .ok_or_else(|| SequenceError::Empty(folder.to_path_buf()))?;
        let (width, height) = decode(first)
            .map_err(|reason| SequenceError::First {
                path: first.clone(),
                reason,
            })?
            .dimensions();
        let info = CameraInfo {
            name: name.to_owned(),
            width,
            height,
            rate_hz,
            depth: false,
            intrinsics: lens
                .unwrap_or_else(|| Intrinsics::from_fov(width, height, 70f64.to_radians())),
            mount: Mount::World {
                xyz: [0.0; 3],
                rpy: [0.0; 3],
            },
        };
        let pool = ImagePool::new(&info, 4);
        let stop = Arc::new(AtomicBool::new(false));
        let skipped = Arc::new(AtomicU64::new(0));
        let (images, halt, skips) = (pool.clone(), stop.clone(), skipped.clone());
        let period = Duration::from_secs_f64(1.0 / rate_hz);
        let thread = std::thread::Builder::new()
            .name(format!("camera {name}"))
            .spawn(move || {
                // Decoding waits for the loop, never the loop for decoding (idle: a
                // replay runs in real time).
                let _ = embody_hal::thread::run_when_idle(true);
                let mut next = clock.now();
                'play: loop {
                    for file in &files {
                        if halt.load(Ordering::Relaxed) {
                            break 'play;
                        }
                        clock.sleep_until(next);
                        next = next.saturating_add(period);
                        match decode(file) {
                            Ok(frame) if frame.dimensions() == (width, height) => {
                                images.fill(clock.now(), |image| {
                                    image.rgb.copy_from_slice(frame.as_raw());
                                });
                            }
                            _ => {
                                skips.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    if !looped {
                        break;
                    }
                }
            })
            .ok();
        Ok(ImageSequence {
            info,
            pool,
            stop,
            skipped,
            thread,
        })
    }

    /// Files skipped because they did not decode or were another size.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Whether it has played every file (and does not loop).
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Camera for ImageSequence {
    fn info(&self) -> &CameraInfo {
        &self.info
    }

    fn images(&self) -> &ImagePool {
        &self.pool
    }
}

impl Drop for ImageSequence {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
