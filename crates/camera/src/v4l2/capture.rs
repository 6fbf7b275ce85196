//! The capture thread of a [`super::V4l2Camera`]: it owns the streaming device, waits
//! for filled buffers, converts each into a free image of the pool (never on the
//! caller's thread), stamps it with the kernel's capture time on the loop's clock,
//! hands the buffer back, and stops when told or when the device fails. It never
//! publishes a frame that did not convert, and allocates nothing per YUYV frame.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use embody_hal::{Clock, ImagePool, Timestamp};

use super::choose::{MonotonicToClock, PixelFormat, capture_time};
use super::{POLL_MS, V4l2Error, failed, sys};
use crate::convert::{mjpeg_to_rgb, yuyv_to_rgb};

/// The device streaming into its mapped buffers. Dropping it stops the stream, unmaps the
/// buffers, then closes the device, in that order.
pub(super) struct Stream {
    pub(super) buffers: Vec<sys::Mapping>,
    pub(super) device: sys::Device,
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Fails harmlessly when it never started.
        let _ = self.device.stream(false);
    }
}

/// The capture thread's state.
pub(super) struct Capture {
    pub(super) path: PathBuf,
    pub(super) stream: Stream,
    pub(super) format: PixelFormat,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) bytes_per_line: usize,
    pub(super) pool: ImagePool,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) to_clock: MonotonicToClock,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) skipped: Arc<AtomicU64>,
    pub(super) fault: Arc<OnceLock<V4l2Error>>,
    /// An MJPEG frame's decode, before it is published.
    pub(super) jpeg: Vec<u8>,
}

impl Capture {
    /// Dequeues, converts, publishes and requeues until told to stop or the device fails.
    pub(super) fn run(mut self) {
        if let Err(fault) = self.stream_until_stopped() {
            let _ = self.fault.set(fault);
        }
    }

    fn stream_until_stopped(&mut self) -> Result<(), V4l2Error> {
        let path = &self.path.clone();
        while !self.stop.load(Ordering::Relaxed) {
            let ready = self
                .stream
                .device
                .wait(POLL_MS)
                .map_err(failed(path, "poll"))?;
            if ready == sys::Ready::Timeout {
                continue;
            }
            let Some(buffer) = self
                .stream
                .device
                .dequeue()
                .map_err(failed(path, "VIDIOC_DQBUF"))?
            else {
                if ready == sys::Ready::Error {
                    return Err(failed(path, "poll")(io::Error::other(
                        "the device reports an error and gives no frame",
                    )));
                }
                continue;
            };
            let now = self.clock.now();
            let captured = capture_time(buffer.flags, buffer.timestamp_ns, self.to_clock, now);
            if !self.publish(&buffer, captured) {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
            self.stream
                .device
                .queue(buffer.index)
                .map_err(failed(path, "VIDIOC_QBUF"))?;
        }
        Ok(())
    }

    /// Converts the frame in `buffer` into a free image of the pool; `false` when it
    /// does not convert (the pool counts a frame it has no free image for).
    fn publish(&mut self, buffer: &sys::Dequeued, captured: Timestamp) -> bool {
        let Some(mapping) = self.stream.buffers.get(buffer.index as usize) else {
            return false;
        };
        if buffer.flags & sys::BUF_FLAG_ERROR != 0 {
            return false;
        }
        let data = mapping.bytes(buffer.bytes_used);
        let (width, height) = (self.width, self.height);
        match self.format {
            PixelFormat::Yuyv => {
                let stride = self.bytes_per_line;
                if !yuyv_fits(data.len(), width, height, stride) {
                    return false;
                }
                // Stays true when no image is free (the pool counts that frame as
                // dropped), and is true after converting: the size was checked above.
                let mut converted = true;
                self.pool.fill(captured, |image| {
                    converted = yuyv_rows_to_rgb(data, width, height, stride, &mut image.rgb);
                });
                converted
            }
            PixelFormat::Mjpeg => {
                if mjpeg_to_rgb(data, width, height, &mut self.jpeg).is_err() {
                    return false;
                }
                let jpeg = &self.jpeg;
                self.pool
                    .fill(captured, |image| image.rgb.copy_from_slice(jpeg));
                true
            }
        }
    }
}

/// Whether `len` bytes hold a YUYV frame of `width × height` whose rows start `stride`
/// bytes apart.
fn yuyv_fits(len: usize, width: u32, height: u32, stride: usize) -> bool {
    let row = 2 * width as usize;
    stride >= row && len >= stride * (height as usize).saturating_sub(1) + row
}

/// Converts a YUYV frame whose rows start `stride` bytes apart (drivers may pad rows past
/// their `2·width` bytes) into `rgb`; `false`, with `rgb` untouched, when the sizes do not
/// fit.
fn yuyv_rows_to_rgb(yuyv: &[u8], width: u32, height: u32, stride: usize, rgb: &mut [u8]) -> bool {
    let row = 2 * width as usize;
    if !yuyv_fits(yuyv.len(), width, height, stride)
        || rgb.len() != 3 * width as usize * height as usize
    {
        return false;
    }
    let mut rows = yuyv
        .chunks(stride)
        .zip(rgb.chunks_exact_mut(3 * width as usize));
    // Each row fits, as checked: none fails.
    rows.all(|(yuyv, rgb)| yuyv_to_rgb(&yuyv[..row], width, 1, rgb).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_yuyv_rows_convert_as_packed_ones() {
        let (width, height) = (4u32, 3u32);
        let packed: Vec<u8> = (0..2 * width * height)
            .map(|i| (i * 37 % 256) as u8)
            .collect();
        let mut expected = vec![0; 3 * 12];
        yuyv_to_rgb(&packed, width, height, &mut expected).expect("packed");
        // Rows padded to 12 bytes, the last one not.
        let stride = 12;
        let mut padded = Vec::new();
        for row in packed.chunks(8) {
            padded.extend_from_slice(row);
            padded.extend_from_slice(&[0xee; 4]);
        }
        padded.truncate(stride * 2 + 8);
        let mut rgb = vec![0; 3 * 12];
        assert!(yuyv_rows_to_rgb(&padded, width, height, stride, &mut rgb));
        assert_eq!(rgb, expected);
        assert!(yuyv_rows_to_rgb(&packed, width, height, 8, &mut rgb));
        assert_eq!(rgb, expected);
        // A short frame, or a stride shorter than a row: refused, untouched.
        let mut untouched = vec![7; 3 * 12];
        assert!(!yuyv_rows_to_rgb(
            &padded[..stride * 2 + 7],
            width,
            height,
            stride,
            &mut untouched
        ));
        assert!(!yuyv_rows_to_rgb(&packed, width, height, 6, &mut untouched));
        assert_eq!(untouched, vec![7; 3 * 12]);
    }
}
