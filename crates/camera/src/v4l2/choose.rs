//! The decisions a V4L2 camera makes, as pure functions of what the device offers:
//! which pixel format, which frame size, which frame interval, and when a frame was
//! captured on the loop's clock. No device and no system call here, so every rule is
//! unit-tested.

use embody_hal::Timestamp;
use serde::{Deserialize, Serialize};

use super::sys;

/// The pixel formats a camera may send that this crate converts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Each frame a JPEG (`MJPG`): what UVC cameras send at high resolutions and rates.
    #[default]
    Mjpeg,
    /// YUV 4:2:2, `Y0 U Y1 V` (`YUYV`): uncompressed, so USB 2 bandwidth limits it to
    /// low resolutions or rates.
    Yuyv,
}

impl PixelFormat {
    /// Its V4L2 fourcc.
    pub fn fourcc(self) -> u32 {
        match self {
            PixelFormat::Mjpeg => sys::PIX_FMT_MJPEG,
            PixelFormat::Yuyv => sys::PIX_FMT_YUYV,
        }
    }

    fn other(self) -> PixelFormat {
        match self {
            PixelFormat::Mjpeg => PixelFormat::Yuyv,
            PixelFormat::Yuyv => PixelFormat::Mjpeg,
        }
    }
}

/// A fourcc as its four letters (`MJPG`), or in hex when they are not printable.
pub(crate) fn fourcc_name(code: u32) -> String {
    let bytes = code.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        format!("{code:#010x}")
    }
}

/// The format to capture in: `preferred` when offered, else the other one this crate
/// converts, else `None` (the caller lists what is offered).
pub(crate) fn choose_format(offered: &[u32], preferred: PixelFormat) -> Option<PixelFormat> {
    [preferred, preferred.other()]
        .into_iter()
        .find(|format| offered.contains(&format.fourcc()))
}

/// Frame sizes a device offers in one format (`VIDIOC_ENUM_FRAMESIZES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameSizes {
    /// One size (px).
    Discrete {
        /// Width (px).
        width: u32,
        /// Height (px).
        height: u32,
    },
    /// Any size in a range: `[min, max, step]` each way (px; a continuous range has step 1).
    Stepwise {
        /// `[min, max, step]` of the width (px).
        width: [u32; 3],
        /// `[min, max, step]` of the height (px).
        height: [u32; 3],
    },
}

/// `want` snapped into `[min, max]` on the grid `min + k·step`, the nearest point.
fn snap(want: u32, [min, max, step]: [u32; 3]) -> u32 {
    let step = step.max(1);
    let clamped = want.clamp(min, max.max(min));
    let k = (clamped - min + step / 2) / step;
    (min + k * step).min(max.max(min))
}

/// The offered size nearest `want` (`width, height`, px): exact when offered, else the
/// one with the least `|Δwidth| + |Δheight|`, the larger on a tie; `None` when the device
/// lists none (then the driver picks when the format is set).
pub(crate) fn choose_size(offered: &[FrameSizes], want: (u32, u32)) -> Option<(u32, u32)> {
    offered
        .iter()
        .map(|sizes| match *sizes {
            FrameSizes::Discrete { width, height } => (width, height),
            FrameSizes::Stepwise { width, height } => (snap(want.0, width), snap(want.1, height)),
        })
        .min_by_key(|&(w, h)| {
            let distance = want.0.abs_diff(w) + want.1.abs_diff(h);
            (distance, std::cmp::Reverse(u64::from(w) * u64::from(h)))
        })
}

/// The frame interval to ask for at `rate_hz`, as V4L2's fraction `numerator /
/// denominator` seconds: `1/rate` for whole rates (what UVC cameras list), else in
/// thousandths. `rate_hz` must be positive and finite.
pub(crate) fn time_per_frame(rate_hz: f64) -> (u32, u32) {
    if rate_hz.fract() == 0.0 {
        (1, rate_hz as u32)
    } else {
        (1000, (rate_hz * 1000.0).round() as u32)
    }
}

/// Maps the kernel's `CLOCK_MONOTONIC` buffer timestamps onto the loop's clock by an
/// offset measured once, at start-up: `clock = monotonic + offset`. Exact (to the
/// measurement's tens of nanoseconds) when the clock is [`embody_hal::SystemClock`],
/// which reads `CLOCK_MONOTONIC` itself; for any other clock it holds as long as that
/// clock runs at the rate of `CLOCK_MONOTONIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MonotonicToClock {
    /// Clock minus `CLOCK_MONOTONIC` (ns).
    offset_ns: i128,
}

impl MonotonicToClock {
    /// The offset from `CLOCK_MONOTONIC` read as `monotonic_ns` between two readings of
    /// the clock, `before` and `after` (their midpoint is taken as simultaneous).
    pub fn measure(before: Timestamp, monotonic_ns: u64, after: Timestamp) -> MonotonicToClock {
        let clock = (i128::from(before.as_nanos()) + i128::from(after.as_nanos())) / 2;
        MonotonicToClock {
            offset_ns: clock - i128::from(monotonic_ns),
        }
    }

    /// `monotonic_ns` on the clock; 0 when that is before its origin.
    pub fn map(self, monotonic_ns: u64) -> Timestamp {
        let nanos = (i128::from(monotonic_ns) + self.offset_ns).clamp(0, i128::from(u64::MAX));
        Timestamp::from_nanos(nanos as u64)
    }
}

/// When a frame was captured, on the clock: the kernel's timestamp mapped by `to_clock`
/// when the buffer's `flags` say it is on `CLOCK_MONOTONIC`, never later than `now`
/// (when it was dequeued); `now` when the driver gives no monotonic timestamp.
pub(crate) fn capture_time(
    flags: u32,
    kernel_ns: Option<u64>,
    to_clock: MonotonicToClock,
    now: Timestamp,
) -> Timestamp {
    let monotonic = flags & sys::BUF_FLAG_TIMESTAMP_MASK == sys::BUF_FLAG_TIMESTAMP_MONOTONIC;
    match kernel_ns {
        Some(ns) if monotonic && ns > 0 => to_clock.map(ns).min(now),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MJPG: u32 = sys::PIX_FMT_MJPEG;
    const YUYV: u32 = sys::PIX_FMT_YUYV;
    const H264: u32 = sys::fourcc(b"H264");
    const NV12: u32 = sys::fourcc(b"NV12");

    #[test]
    fn the_asked_format_wins_when_offered() {
        // A typical UVC webcam lists YUYV first, then MJPEG.
        let webcam = [YUYV, MJPG];
        assert_eq!(
            choose_format(&webcam, PixelFormat::Mjpeg),
            Some(PixelFormat::Mjpeg)
        );
        assert_eq!(
            choose_format(&webcam, PixelFormat::Yuyv),
            Some(PixelFormat::Yuyv)
        );
    }

    #[test]
    fn the_other_format_is_taken_when_the_asked_one_is_missing() {
        assert_eq!(
            choose_format(&[YUYV], PixelFormat::Mjpeg),
            Some(PixelFormat::Yuyv)
        );
        assert_eq!(
            choose_format(&[H264, MJPG], PixelFormat::Yuyv),
            Some(PixelFormat::Mjpeg)
        );
    }

    #[test]
    fn no_format_when_neither_is_offered() {
        assert_eq!(choose_format(&[H264, NV12], PixelFormat::Mjpeg), None);
        assert_eq!(choose_format(&[], PixelFormat::Yuyv), None);
    }

    #[test]
    fn fourccs_print_as_their_letters() {
        assert_eq!(fourcc_name(MJPG), "MJPG");
        assert_eq!(fourcc_name(YUYV), "YUYV");
        assert_eq!(fourcc_name(0x0000_0001), "0x00000001");
    }

    #[test]
    fn an_offered_size_is_taken_exactly() {
        let sizes = [(640, 480), (1280, 720), (320, 240)]
            .map(|(width, height)| FrameSizes::Discrete { width, height });
        assert_eq!(choose_size(&sizes, (1280, 720)), Some((1280, 720)));
        assert_eq!(choose_size(&sizes, (320, 240)), Some((320, 240)));
    }

    #[test]
    fn otherwise_the_nearest_size_and_the_larger_on_a_tie() {
        let sizes = [(640, 480), (1280, 720), (320, 240), (800, 600)]
            .map(|(width, height)| FrameSizes::Discrete { width, height });
        assert_eq!(choose_size(&sizes, (1920, 1080)), Some((1280, 720)));
        assert_eq!(choose_size(&sizes, (660, 500)), Some((640, 480)));
        // 720×540 is 140 from both 640×480 and 800×600.
        assert_eq!(choose_size(&sizes, (720, 540)), Some((800, 600)));
        assert_eq!(choose_size(&[], (640, 480)), None);
    }

    #[test]
    fn a_range_of_sizes_snaps_to_its_grid() {
        let range = [FrameSizes::Stepwise {
            width: [16, 1920, 16],
            height: [16, 1080, 8],
        }];
        assert_eq!(choose_size(&range, (640, 480)), Some((640, 480)));
        assert_eq!(choose_size(&range, (650, 483)), Some((656, 480)));
        assert_eq!(choose_size(&range, (4000, 8)), Some((1920, 16)));
        let continuous = [FrameSizes::Stepwise {
            width: [1, 4096, 1],
            height: [1, 4096, 1],
        }];
        assert_eq!(choose_size(&continuous, (641, 479)), Some((641, 479)));
    }

    #[test]
    fn whole_rates_ask_for_one_over_the_rate() {
        assert_eq!(time_per_frame(30.0), (1, 30));
        assert_eq!(time_per_frame(5.0), (1, 5));
        assert_eq!(time_per_frame(29.97), (1000, 29_970));
        assert_eq!(time_per_frame(7.5), (1000, 7_500));
    }

    #[test]
    fn kernel_timestamps_map_onto_the_clock_by_the_measured_offset() {
        // The clock started 5 s after CLOCK_MONOTONIC's origin: it read 95 s just
        // before CLOCK_MONOTONIC read 100 s + 1 µs, and 95 s + 2 µs just after.
        let s = 1_000_000_000u64;
        let to_clock = MonotonicToClock::measure(
            Timestamp::from_nanos(95 * s),
            100 * s + 1_000,
            Timestamp::from_nanos(95 * s + 2_000),
        );
        assert_eq!(
            to_clock.map(100 * s + 1_000),
            Timestamp::from_nanos(95 * s + 1_000)
        );
        assert_eq!(to_clock.map(110 * s), Timestamp::from_nanos(105 * s));
        // Before the clock's origin: its origin.
        assert_eq!(to_clock.map(3 * s), Timestamp::ZERO);
        // The same clock (SystemClock): the identity.
        let same = MonotonicToClock::measure(
            Timestamp::from_nanos(7 * s),
            7 * s + 500,
            Timestamp::from_nanos(7 * s + 1_000),
        );
        assert_eq!(same.map(42 * s), Timestamp::from_nanos(42 * s));
    }

    #[test]
    fn the_capture_time_is_the_kernel_s_when_monotonic_else_the_dequeue_time() {
        let s = 1_000_000_000u64;
        let to_clock = MonotonicToClock::measure(
            Timestamp::from_nanos(10 * s),
            20 * s,
            Timestamp::from_nanos(10 * s),
        );
        let now = Timestamp::from_nanos(12 * s);
        let exposure = Some(21 * s + 900_000_000); // 11.9 s on the clock
        let monotonic = sys::BUF_FLAG_TIMESTAMP_MONOTONIC;
        assert_eq!(
            capture_time(monotonic, exposure, to_clock, now),
            Timestamp::from_nanos(11 * s + 900_000_000)
        );
        // Other flags (error, start-of-exposure source) do not hide the clock's kind.
        assert_eq!(
            capture_time(
                monotonic | sys::BUF_FLAG_ERROR | 0x1_0000,
                exposure,
                to_clock,
                now
            ),
            Timestamp::from_nanos(11 * s + 900_000_000)
        );
        // Unknown or copied timestamps, none, or zero: the dequeue time.
        assert_eq!(capture_time(0, exposure, to_clock, now), now);
        assert_eq!(capture_time(0x4000, exposure, to_clock, now), now);
        assert_eq!(capture_time(monotonic, None, to_clock, now), now);
        assert_eq!(capture_time(monotonic, Some(0), to_clock, now), now);
        // A kernel time after the dequeue (a clock that runs slow): never in the future.
        assert_eq!(capture_time(monotonic, Some(25 * s), to_clock, now), now);
    }
}
