//! A V4L2 camera (a UVC webcam at `/dev/videoN`) as an [`embody_hal::Camera`]: it opens
//! the device, takes MJPEG or YUYV at the size nearest the one asked and sets the frame
//! rate, streams through a few MMAP buffers, and on its own thread converts each frame
//! into the next free image of its pool, stamped with the kernel's capture time mapped
//! onto the loop's clock. Frames that do not convert (corrupt JPEG, short buffer, the
//! driver's error flag) are skipped and counted, never fatal; a device that fails while
//! streaming (unplugged) stops the thread and says why in [`V4l2Camera::fault`].
//!
//! It never converts on the caller's thread, and never blocks a reader (the pool's
//! [`embody_hal::ImagePool::latest`] does not wait). YUYV frames convert straight into
//! the pool's image; MJPEG frames decode into one reused buffer first, so a JPEG that
//! does not decode is never published.
//!
//! The kernel interface is written by hand in `sys` (see there why no V4L2 crate); the
//! choices (format, size, rate, capture time) are pure functions in `choose`; the
//! thread is `capture`'s.
//!
//! **Untested on hardware.** No camera was at hand and v4l2loopback could not be loaded,
//! so only what needs no device is tested: the errors for a missing path and for files
//! that are not capture devices, the choice of format and size on example format lists,
//! the frame interval, the kernel-to-clock time mapping, and the struct layouts and ioctl
//! numbers against the kernel's header. Opening a real device, streaming, the frame
//! conversion from real buffers and the timestamps of a real driver have not run; the
//! ignored test `tests/webcam.rs` exercises them with a webcam at `/dev/video0`.

mod capture;
mod choose;
#[allow(unsafe_code)]
mod sys;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use embody_hal::{Camera, CameraInfo, Clock, ImagePool, Intrinsics, Mount};
use serde::{Deserialize, Serialize};

use capture::{Capture, Stream};
pub use choose::PixelFormat;
use choose::{MonotonicToClock, choose_format, choose_size, fourcc_name};

/// How long the capture thread waits for a frame before it looks whether it should stop
/// (ms): the longest a drop waits.
const POLL_MS: i32 = 50;

/// Images in the pool.
const POOL_IMAGES: usize = 4;

/// What camera to open and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct V4l2Config {
    /// The device node. Default `/dev/video0`.
    pub device: PathBuf,
    /// The camera's name (`wrist`, `head`). Default `webcam`.
    pub name: String,
    /// Image width asked for (px); the nearest size the device offers is taken. Default
    /// 640.
    pub width: u32,
    /// Image height asked for (px). Default 480.
    pub height: u32,
    /// Frame rate asked for (Hz, in (0, 1000]); the driver's nearest is taken and given
    /// in [`CameraInfo::rate_hz`]. Default 30.
    pub rate_hz: f64,
    /// The pixel format preferred; the other of MJPEG and YUYV is taken when the device
    /// lacks it. Default MJPEG.
    pub format: PixelFormat,
    /// Kernel buffers to stream through (2 to 32). Default 4.
    pub buffers: u32,
    /// The calibrated lens, for exactly `width × height`: opening fails if the device
    /// gives another size. Default none: an uncalibrated 70° pinhole at whatever size is
    /// taken.
    pub intrinsics: Option<Intrinsics>,
    /// Where the camera is. Default fixed at the world's origin.
    pub mount: Mount,
}

impl V4l2Config {
    /// Checks the numbers without touching the device; why not, when they make no sense.
    pub fn check(&self) -> Result<(), String> {
        check(self).map_err(|e| match e {
            V4l2Error::Config(why) => why,
            other => other.to_string(),
        })
    }
}

impl Default for V4l2Config {
    fn default() -> V4l2Config {
        V4l2Config {
            device: PathBuf::from("/dev/video0"),
            name: "webcam".to_owned(),
            width: 640,
            height: 480,
            rate_hz: 30.0,
            format: PixelFormat::Mjpeg,
            buffers: 4,
            intrinsics: None,
            mount: Mount::World {
                xyz: [0.0; 3],
                rpy: [0.0; 3],
            },
        }
    }
}

/// Why a V4L2 camera cannot be opened, or stopped streaming.
#[derive(Debug, thiserror::Error)]
pub enum V4l2Error {
    /// The configuration is out of range.
    #[error("V4L2 camera config: {0}")]
    Config(String),
    /// Nothing is at the path.
    #[error("{0}: no such device")]
    NoDevice(PathBuf),
    /// The path exists but cannot be opened (permissions, busy, a directory).
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The device path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It opened, but it is not a V4L2 video capture device that streams.
    #[error("{path}: not a V4L2 capture device: {why}")]
    NotCapture {
        /// The device path.
        path: PathBuf,
        /// What it lacks.
        why: &'static str,
    },
    /// It offers neither MJPEG nor YUYV.
    #[error("{path}: offers neither MJPEG nor YUYV, only {}", offered.join(", "))]
    FormatNotOffered {
        /// The device path.
        path: PathBuf,
        /// The fourccs it offers (`H264`, `NV12`).
        offered: Vec<String>,
    },
    /// The driver set another format than the one asked, or another size than the one
    /// the configured lens was calibrated for.
    #[error("{path}: asked for {asked}, the driver set {got}")]
    FormatRefused {
        /// The device path.
        path: PathBuf,
        /// Format and size asked (`MJPG 640×480`).
        asked: String,
        /// What the driver set.
        got: String,
    },
    /// A V4L2 call (or `mmap`, `poll`) failed.
    #[error("{path}: {call} failed: {source}")]
    Ioctl {
        /// The device path.
        path: PathBuf,
        /// The call (`VIDIOC_S_FMT`).
        call: &'static str,
        /// The error the kernel gave.
        source: io::Error,
    },
    /// The capture thread could not be started.
    #[error("{path}: cannot start the capture thread: {source}")]
    Spawn {
        /// The device path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A V4L2 camera streaming on its own thread; stops when dropped.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use embody_camera::{PixelFormat, V4l2Camera, V4l2Config};
/// use embody_hal::{Camera, SystemClock};
///
/// let config = V4l2Config {
///     device: "/dev/video0".into(),
///     format: PixelFormat::Yuyv,
///     ..V4l2Config::default()
/// };
/// let camera = V4l2Camera::open(&config, Arc::new(SystemClock))?;
/// if let Some(image) = camera.images().latest() {
///     println!("frame {} captured at {:?}", image.counter, image.captured);
/// }
/// # Ok::<(), embody_camera::V4l2Error>(())
/// ```
pub struct V4l2Camera {
    info: CameraInfo,
    format: PixelFormat,
    pool: ImagePool,
    stop: Arc<AtomicBool>,
    skipped: Arc<AtomicU64>,
    fault: Arc<OnceLock<V4l2Error>>,
    thread: Option<JoinHandle<()>>,
}

fn check(config: &V4l2Config) -> Result<(), V4l2Error> {
    let bad = |why: String| Err(V4l2Error::Config(why));
    if !(config.rate_hz.is_finite() && config.rate_hz > 0.0 && config.rate_hz <= 1000.0) {
        return bad(format!(
            "rate_hz {}: it must be in (0, 1000]",
            config.rate_hz
        ));
    }
    if !(2..=32).contains(&config.buffers) {
        return bad(format!("buffers {}: it must be 2 to 32", config.buffers));
    }
    if config.width == 0 || config.height == 0 {
        return bad(format!("a size of {}×{}", config.width, config.height));
    }
    if let Some(lens) = &config.intrinsics {
        lens.check()
            .or_else(|why| bad(format!("intrinsics: {why}")))?;
    }
    Ok(())
}

/// The error of V4L2 call `call` on `path`.
fn failed(path: &Path, call: &'static str) -> impl FnOnce(io::Error) -> V4l2Error {
    move |source| V4l2Error::Ioctl {
        path: path.to_path_buf(),
        call,
        source,
    }
}

/// Opens `path` and checks it captures video by streaming.
fn open_capture(path: &Path) -> Result<sys::Device, V4l2Error> {
    let device = sys::Device::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => V4l2Error::NoDevice(path.to_path_buf()),
        _ => V4l2Error::Open {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let not_capture = |why| V4l2Error::NotCapture {
        path: path.to_path_buf(),
        why,
    };
    let caps = device.capabilities().map_err(|source| {
        if source.raw_os_error() == Some(libc::ENOTTY) {
            not_capture("it does not answer VIDIOC_QUERYCAP, so it is no V4L2 device")
        } else {
            V4l2Error::Ioctl {
                path: path.to_path_buf(),
                call: "VIDIOC_QUERYCAP",
                source,
            }
        }
    })?;
    if caps & sys::CAP_VIDEO_CAPTURE == 0 {
        return Err(not_capture(
            "it has no single-planar video capture (a UVC camera's metadata node?)",
        ));
    }
    if caps & sys::CAP_STREAMING == 0 {
        return Err(not_capture("it cannot stream buffers"));
    }
    Ok(device)
}

/// What was negotiated with the driver.
struct Negotiated {
    format: PixelFormat,
    width: u32,
    height: u32,
    bytes_per_line: usize,
    rate_hz: f64,
}

fn negotiate(device: &sys::Device, config: &V4l2Config) -> Result<Negotiated, V4l2Error> {
    let path = &config.device;
    let offered = device.formats().map_err(failed(path, "VIDIOC_ENUM_FMT"))?;
    let format =
        choose_format(&offered, config.format).ok_or_else(|| V4l2Error::FormatNotOffered {
            path: path.clone(),
            offered: offered.iter().map(|&code| fourcc_name(code)).collect(),
        })?;
    let want = (config.width, config.height);
    // A driver that cannot list its sizes picks one when the format is set.
    let sizes = match device.frame_sizes(format.fourcc()) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => Vec::new(),
        sizes => sizes.map_err(failed(path, "VIDIOC_ENUM_FRAMESIZES"))?,
    };
    let (width, height) = choose_size(&sizes, want).unwrap_or(want);
    let set = device
        .set_format(format.fourcc(), width, height)
        .map_err(failed(path, "VIDIOC_S_FMT"))?;
    // The driver may adjust the size (when it listed none, or rounds): its answer
    // stands, unless the lens was calibrated for the size asked.
    let odd_yuyv = format == PixelFormat::Yuyv && set.width % 2 == 1;
    let other_size = config.intrinsics.is_some() && (set.width, set.height) != want;
    if set.fourcc != format.fourcc() || odd_yuyv || other_size {
        let (w, h) = if other_size { want } else { (width, height) };
        return Err(V4l2Error::FormatRefused {
            path: path.clone(),
            asked: format!("{} {w}×{h}", fourcc_name(format.fourcc())),
            got: format!(
                "{} {}×{}{}",
                fourcc_name(set.fourcc),
                set.width,
                set.height,
                if odd_yuyv {
                    " (YUYV needs an even width)"
                } else {
                    ""
                }
            ),
        });
    }
    let (numerator, denominator) = choose::time_per_frame(config.rate_hz);
    let rate_hz = match device.set_time_per_frame(numerator, denominator) {
        Ok(Some((n, d))) => f64::from(d) / f64::from(n),
        // The driver does not say: take the rate asked.
        Ok(None) => config.rate_hz,
        Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => config.rate_hz,
        Err(e) => return Err(failed(path, "VIDIOC_S_PARM")(e)),
    };
    Ok(Negotiated {
        format,
        width: set.width,
        height: set.height,
        bytes_per_line: (set.bytes_per_line as usize).max(2 * set.width as usize),
        rate_hz,
    })
}

/// Maps `count` buffers, queues them all, and starts streaming.
fn start(device: sys::Device, path: &Path, count: u32) -> Result<Stream, V4l2Error> {
    let given = device
        .request_buffers(count)
        .map_err(failed(path, "VIDIOC_REQBUFS"))?;
    let mut stream = Stream {
        buffers: Vec::new(),
        device,
    };
    if given < 2 {
        return Err(V4l2Error::NotCapture {
            path: path.to_path_buf(),
            why: "its driver gave fewer than 2 buffers",
        });
    }
    for index in 0..given {
        let mapping = stream
            .device
            .map_buffer(index)
            .map_err(failed(path, "mmap"))?;
        stream.buffers.push(mapping);
        stream
            .device
            .queue(index)
            .map_err(failed(path, "VIDIOC_QBUF"))?;
    }
    stream
        .device
        .stream(true)
        .map_err(failed(path, "VIDIOC_STREAMON"))?;
    Ok(stream)
}

impl V4l2Camera {
    /// Opens the camera `config` describes and starts streaming, stamping images on
    /// `clock`.
    pub fn open(config: &V4l2Config, clock: Arc<dyn Clock>) -> Result<V4l2Camera, V4l2Error> {
        check(config)?;
        let path = config.device.clone();
        let device = open_capture(&path)?;
        let negotiated = negotiate(&device, config)?;
        let (width, height) = (negotiated.width, negotiated.height);
        let info = CameraInfo {
            name: config.name.clone(),
            width,
            height,
            rate_hz: negotiated.rate_hz,
            depth: false,
            intrinsics: config
                .intrinsics
                .unwrap_or_else(|| Intrinsics::from_fov(width, height, 70f64.to_radians())),
            mount: config.mount.clone(),
        };
        let pool = ImagePool::new(&info, POOL_IMAGES);
        let stream = start(device, &path, config.buffers)?;
        let before = clock.now();
        let monotonic = sys::monotonic_nanos();
        let to_clock = MonotonicToClock::measure(before, monotonic, clock.now());
        let (stop, skipped, fault) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(OnceLock::new()),
        );
        let capture = Capture {
            path: path.clone(),
            stream,
            format: negotiated.format,
            width,
            height,
            bytes_per_line: negotiated.bytes_per_line,
            pool: pool.clone(),
            clock,
            to_clock,
            stop: stop.clone(),
            skipped: skipped.clone(),
            fault: fault.clone(),
            jpeg: vec![0; 3 * info.pixels()],
        };
        let thread = std::thread::Builder::new()
            .name(format!("camera {}", config.name))
            .spawn(move || {
                // Converting waits for the loop, never the loop for converting (idle:
                // a real camera runs in real time).
                let _ = embody_hal::thread::run_when_idle(true);
                capture.run()
            })
            .map_err(|source| V4l2Error::Spawn { path, source })?;
        Ok(V4l2Camera {
            info,
            format: negotiated.format,
            pool,
            stop,
            skipped,
            fault,
            thread: Some(thread),
        })
    }

    /// The pixel format it streams in.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Frames skipped because they did not convert (corrupt, short, or flagged by the
    /// driver).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Why it stopped streaming, once it has (the device failed or was unplugged).
    pub fn fault(&self) -> Option<&V4l2Error> {
        self.fault.get()
    }
}

impl Camera for V4l2Camera {
    fn info(&self) -> &CameraInfo {
        &self.info
    }

    fn images(&self) -> &ImagePool {
        &self.pool
    }
}

impl Drop for V4l2Camera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_hal::SystemClock;

    fn open(path: &Path) -> Result<V4l2Camera, V4l2Error> {
        let config = V4l2Config {
            device: path.to_path_buf(),
            ..V4l2Config::default()
        };
        V4l2Camera::open(&config, Arc::new(SystemClock))
    }

    fn error(path: &Path) -> V4l2Error {
        match open(path) {
            Ok(_) => panic!("{} opened as a camera", path.display()),
            Err(e) => e,
        }
    }

    #[test]
    fn a_missing_device_is_named() {
        let path = Path::new("/dev/video-embody-none");
        let e = error(path);
        assert!(matches!(e, V4l2Error::NoDevice(_)), "{e:?}");
        assert_eq!(e.to_string(), "/dev/video-embody-none: no such device");
    }

    #[test]
    fn dev_null_is_not_a_capture_device() {
        let e = error(Path::new("/dev/null"));
        assert!(matches!(e, V4l2Error::NotCapture { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("/dev/null: not a V4L2 capture device"),
            "{text}"
        );
    }

    #[test]
    fn a_plain_file_is_not_a_capture_device_and_a_folder_does_not_open() {
        let dir = std::env::temp_dir().join(format!("embody-v4l2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("frame.yuv");
        std::fs::write(&file, [0u8; 64]).expect("temp file");
        let e = error(&file);
        assert!(matches!(e, V4l2Error::NotCapture { .. }), "{e:?}");
        let e = error(&dir);
        assert!(matches!(e, V4l2Error::Open { .. }), "{e:?}");
        assert!(e.to_string().contains(&*dir.to_string_lossy()), "{e}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_bad_config_is_refused_before_the_device_is_touched() {
        let bad = [
            V4l2Config {
                rate_hz: 0.0,
                ..V4l2Config::default()
            },
            V4l2Config {
                rate_hz: f64::NAN,
                ..V4l2Config::default()
            },
            V4l2Config {
                buffers: 1,
                ..V4l2Config::default()
            },
            V4l2Config {
                width: 0,
                ..V4l2Config::default()
            },
        ];
        for config in bad {
            let config = V4l2Config {
                device: PathBuf::from("/dev/video-embody-none"),
                ..config
            };
            let e = V4l2Camera::open(&config, Arc::new(SystemClock)).err();
            assert!(matches!(e, Some(V4l2Error::Config(_))), "{e:?}");
        }
    }

    #[test]
    fn a_format_not_offered_lists_what_is() {
        let e = V4l2Error::FormatNotOffered {
            path: PathBuf::from("/dev/video2"),
            offered: vec!["H264".into(), "NV12".into()],
        };
        assert_eq!(
            e.to_string(),
            "/dev/video2: offers neither MJPEG nor YUYV, only H264, NV12"
        );
    }

    #[test]
    fn the_config_reads_from_toml_and_refuses_unknown_keys() {
        let config: V4l2Config = toml::from_str(
            "device = \"/dev/video2\"\nformat = \"yuyv\"\nwidth = 1280\nheight = 720",
        )
        .expect("config");
        assert_eq!(config.device, Path::new("/dev/video2"));
        assert_eq!(config.format, PixelFormat::Yuyv);
        assert_eq!(
            (config.width, config.height, config.rate_hz),
            (1280, 720, 30.0)
        );
        let round_trip: V4l2Config =
            toml::from_str(&toml::to_string(&config).expect("to toml")).expect("from toml");
        assert_eq!(round_trip, config);
        assert!(toml::from_str::<V4l2Config>("fps = 30").is_err());
    }
}
