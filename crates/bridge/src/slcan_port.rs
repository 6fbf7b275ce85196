//! [`SlcanPort`]: a plain SLCAN USB-CAN adapter (CANable and friends) as the host's CAN
//! bus: opened at a bit rate, frames queued as SLCAN text and sent in one write, frames
//! read back until the caller has what it waits for or a deadline passes. The masters
//! that run a bus from the host (MIT motors, CiA 402 drives) share it.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use embody_hal::HalError;
use embody_protocol::CanFrame;
use embody_protocol::slcan::{self, LineEvent, LineReader, SlcanLine};
use serialport::TTYPort;

use crate::fd_io::{self, FdStatus};

/// Why the adapter could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SlcanPortError {
    /// The port could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The port.
        path: String,
        /// The cause.
        source: serialport::Error,
    },
    /// The adapter has no SLCAN code for this bit rate.
    #[error("{0} bit/s is not an SLCAN bit rate (10k, 20k, 50k, 100k, 125k, 250k, 500k, 800k, 1M)")]
    Bitrate(u32),
    /// The adapter did not accept the opening commands.
    #[error("{0}: the adapter did not answer C/S/O (is an SLCAN adapter on this port?)")]
    NoAdapter(String),
}

/// An open SLCAN adapter. See the module docs.
pub struct SlcanPort {
    port: TTYPort,
    reader: LineReader,
    rx: Box<[u8; 4096]>,
    out: Vec<u8>,
    /// Lines that were not a frame or not SLCAN.
    pub bad_lines: u64,
}

impl SlcanPort {
    /// Opens the adapter on `path` and its channel at `bitrate`; `frames` is how many
    /// frames a write queues at most (their text is reserved for once).
    pub fn open(path: &Path, bitrate: u32, frames: usize) -> Result<SlcanPort, SlcanPortError> {
        let code = bitrate_code(bitrate).ok_or(SlcanPortError::Bitrate(bitrate))?;
        let name = path.to_string_lossy().into_owned();
        let tty = serialport::new(&name, 2_000_000)
            .timeout(Duration::from_millis(10))
            .open_native()
            .map_err(|source| SlcanPortError::Open {
                path: name.clone(),
                source,
            })?;
        let mut port = SlcanPort {
            port: tty,
            reader: LineReader::default(),
            rx: Box::new([0; 4096]),
            out: Vec::with_capacity(frames * slcan::MAX_LINE),
            bad_lines: 0,
        };
        let _ = port.port.set_exclusive(false);
        let fd = port.port.as_raw_fd();
        // Close (may ring the bell if already closed), the bit rate, flush, open.
        let _ = fd_io::write_all(fd, &[b'C', b'\r', b'S', code, b'\r', b'\r', b'O', b'\r']);
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut oks = 0;
        while Instant::now() < deadline && oks < 2 {
            if let FdStatus::Bytes(n) = fd_io::read(fd, &mut port.rx[..], 10_000) {
                for &b in &port.rx[..n] {
                    // An empty line is an OK; frames an earlier session left unread
                    // are passed over.
                    if let Some(LineEvent::Line(len)) = port.reader.push(b) {
                        let _ = port.reader.line();
                        oks += usize::from(len == 0);
                    }
                }
            }
        }
        if oks < 2 {
            return Err(SlcanPortError::NoAdapter(name));
        }
        Ok(port)
    }

    /// Queues `frame` for the next [`SlcanPort::flush`].
    pub fn queue(&mut self, frame: &CanFrame) {
        let mut line = [0u8; slcan::MAX_LINE];
        let len = slcan::encode_frame(frame, None, &mut line);
        self.out.extend_from_slice(&line[..len]);
    }

    /// Sends the frames queued, in one write.
    pub fn flush(&mut self) -> Result<(), HalError> {
        let status = fd_io::write_all(self.port.as_raw_fd(), &self.out);
        self.out.clear();
        match status {
            FdStatus::Gone => Err(HalError::LinkDown),
            _ => Ok(()),
        }
    }

    /// Reads frames, each to `take`, until `take` says it has all it waits for (true) or
    /// `timeout` passes: whether it had.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        mut take: impl FnMut(&CanFrame) -> bool,
    ) -> Result<bool, HalError> {
        let fd = self.port.as_raw_fd();
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            match fd_io::read(fd, &mut self.rx[..], left.as_micros() as u64) {
                FdStatus::Bytes(got) => {
                    let mut done = false;
                    for i in 0..got {
                        let byte = self.rx[i];
                        match self.reader.push(byte) {
                            Some(LineEvent::Line(_)) => {}
                            Some(LineEvent::Overflow) => {
                                self.bad_lines += 1;
                                continue;
                            }
                            _ => continue,
                        }
                        match slcan::parse_line(self.reader.line()) {
                            Ok(SlcanLine::Frame { frame, .. }) => done |= take(&frame),
                            // The adapter's acknowledgements and empty lines.
                            Ok(_) => {}
                            Err(_) => self.bad_lines += 1,
                        }
                    }
                    if done {
                        return Ok(true);
                    }
                }
                FdStatus::Timeout => return Ok(false),
                FdStatus::Gone => return Err(HalError::LinkDown),
            }
        }
    }
}

/// The SLCAN `S` code of `bitrate` (`b'0'`–`b'8'`).
fn bitrate_code(bitrate: u32) -> Option<u8> {
    const RATES: [u32; 9] = [
        10_000, 20_000, 50_000, 100_000, 125_000, 250_000, 500_000, 800_000, 1_000_000,
    ];
    RATES
        .iter()
        .position(|r| *r == bitrate)
        .map(|k| b'0' + k as u8)
}
