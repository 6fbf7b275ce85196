//! A real webcam through V4L2, for a machine that has one (none here or in CI, so the
//! test is ignored): `cargo test -p embody-camera --test webcam -- --ignored`, with a UVC
//! camera at `/dev/video0` (or the node in `EMBODY_WEBCAM`). It checks what the unit tests
//! cannot: the device opens and streams, frames arrive at about the rate it reports,
//! their capture times rise and lie just before the clock's now, few are skipped, and
//! dropping the camera stops it promptly.
#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use embody_camera::{PixelFormat, V4l2Camera, V4l2Config};
use embody_hal::{Camera, Clock, SystemClock};

fn webcam_streams_in(format: PixelFormat) {
    let device = std::env::var_os("EMBODY_WEBCAM").map_or("/dev/video0".into(), PathBuf::from);
    let config = V4l2Config {
        device,
        format,
        ..V4l2Config::default()
    };
    let clock = Arc::new(SystemClock);
    let camera = V4l2Camera::open(&config, clock.clone()).expect("a webcam");
    let info = camera.info().clone();
    eprintln!(
        "{:?} {}×{} at {} Hz",
        camera.format(),
        info.width,
        info.height,
        info.rate_hz
    );
    let start = Instant::now();
    let mut last = None;
    let mut seen = 0;
    while seen < 20 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
        let Some(image) = camera.images().latest() else {
            continue;
        };
        if last.is_some_and(|(counter, _)| counter == image.counter) {
            continue;
        }
        let now = clock.now();
        assert!(image.captured <= now, "captured in the future");
        let age = now.saturating_since(image.captured);
        assert!(age < Duration::from_millis(500), "captured {age:?} ago");
        if let Some((_, before)) = last {
            assert!(image.captured > before, "capture times must rise");
        }
        assert_eq!(image.rgb.len(), 3 * info.pixels());
        last = Some((image.counter, image.captured));
        seen += 1;
    }
    assert_eq!(seen, 20, "frames in 5 s; fault: {:?}", camera.fault());
    let published = camera.images().published();
    assert!(
        camera.skipped() * 10 <= published,
        "{} skipped of {published}",
        camera.skipped()
    );
    let stop = Instant::now();
    drop(camera);
    assert!(stop.elapsed() < Duration::from_millis(500), "slow to stop");
}

#[test]
#[ignore = "needs a UVC webcam at /dev/video0 (or EMBODY_WEBCAM)"]
fn a_webcam_streams_mjpeg() {
    webcam_streams_in(PixelFormat::Mjpeg);
}

#[test]
#[ignore = "needs a UVC webcam at /dev/video0 (or EMBODY_WEBCAM)"]
fn a_webcam_streams_yuyv() {
    webcam_streams_in(PixelFormat::Yuyv);
}
