//! SLCAN, the Lawicel ASCII protocol of USB-CAN adapters (CANable and friends): commands
//! and frames as text lines ending in `\r`, upper-case hex. Both sides are here: an
//! adapter parses the host's commands and writes received frames; a host writes
//! commands and frames and parses what the adapter sends. [`LineReader`] splits a byte
//! stream into lines with a bounded buffer. Total: bad text is an error, never a panic.

use crate::can::{CanFrame, CanId};

/// Longest line: `T` + 8 id digits + length + 16 data digits + 4 timestamp digits + `\r`.
pub const MAX_LINE: usize = 31;

/// The bit rates of `S0`–`S8` (bit/s).
pub const BITRATES: [u32; 9] = [
    10_000, 20_000, 50_000, 100_000, 125_000, 250_000, 500_000, 800_000, 1_000_000,
];

/// The BEL byte an adapter answers an invalid command with.
pub const BELL: u8 = 0x07;

/// One parsed line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlcanLine {
    /// A data or remote frame (`t`, `T`, `r`, `R`), with the adapter's timestamp (ms,
    /// `Z1` mode) when present.
    Frame {
        /// The frame.
        frame: CanFrame,
        /// Timestamp (ms, wraps at 60 000) when present.
        timestamp_ms: Option<u16>,
    },
    /// `O`: open the channel.
    Open,
    /// `C`: close the channel.
    Close,
    /// `L`: open listen-only.
    ListenOnly,
    /// `Sn`: set the bit rate.
    Bitrate(u32),
    /// `V`: version request.
    Version,
    /// `N`: serial number request.
    SerialNumber,
    /// `F`: status flags request.
    Status,
    /// `Z0`/`Z1`: timestamps off/on.
    Timestamps(bool),
    /// `z`/`Z` alone: the adapter's acknowledgement of a transmitted frame.
    TransmitAck,
    /// An empty line (an OK reply, or a host flushing the adapter's parser).
    Empty,
}

/// Why a line is not valid SLCAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlcanError {
    /// The first character is not a known command.
    UnknownCommand(u8),
    /// A character that should be an upper- or lower-case hex digit is not.
    BadHex,
    /// The line is too short or too long for its command.
    BadLength,
    /// A data length digit above 8.
    BadDlc,
    /// An identifier beyond 11 (standard) or 29 (extended) bits.
    IdOutOfRange,
    /// An `S` digit outside 0–8.
    BadBitrate,
    /// The adapter rang the bell (the previous command was refused).
    Refused,
}

impl core::fmt::Display for SlcanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SlcanError::UnknownCommand(c) => write!(f, "unknown SLCAN command {:?}", *c as char),
            SlcanError::BadHex => write!(f, "not a hex digit"),
            SlcanError::BadLength => write!(f, "wrong line length for the command"),
            SlcanError::BadDlc => write!(f, "data length above 8"),
            SlcanError::IdOutOfRange => write!(f, "identifier out of range"),
            SlcanError::BadBitrate => write!(f, "bit rate code outside S0-S8"),
            SlcanError::Refused => write!(f, "the adapter refused the command (BEL)"),
        }
    }
}

fn hex_value(c: u8) -> Result<u32, SlcanError> {
    match c {
        b'0'..=b'9' => Ok((c - b'0') as u32),
        b'A'..=b'F' => Ok((c - b'A' + 10) as u32),
        b'a'..=b'f' => Ok((c - b'a' + 10) as u32),
        _ => Err(SlcanError::BadHex),
    }
}

fn hex(digits: &[u8]) -> Result<u32, SlcanError> {
    digits
        .iter()
        .try_fold(0u32, |acc, &c| Ok((acc << 4) | hex_value(c)?))
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Parses one line, without its `\r`.
pub fn parse_line(line: &[u8]) -> Result<SlcanLine, SlcanError> {
    let Some((&first, rest)) = line.split_first() else {
        return Ok(SlcanLine::Empty);
    };
    if line.len() > MAX_LINE {
        return Err(SlcanError::BadLength);
    }
    let simple = |value| {
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(SlcanError::BadLength)
        }
    };
    match first {
        b't' | b'T' | b'r' | b'R' => parse_frame(first, rest),
        b'O' => simple(SlcanLine::Open),
        b'C' => simple(SlcanLine::Close),
        b'L' => simple(SlcanLine::ListenOnly),
        b'V' => simple(SlcanLine::Version),
        b'N' => simple(SlcanLine::SerialNumber),
        b'F' => simple(SlcanLine::Status),
        b'z' => simple(SlcanLine::TransmitAck),
        b'S' => match rest {
            [d @ b'0'..=b'8'] => Ok(SlcanLine::Bitrate(BITRATES[(d - b'0') as usize])),
            [_] => Err(SlcanError::BadBitrate),
            _ => Err(SlcanError::BadLength),
        },
        b'Z' => match rest {
            [] => Ok(SlcanLine::TransmitAck),
            [b'0'] => Ok(SlcanLine::Timestamps(false)),
            [b'1'] => Ok(SlcanLine::Timestamps(true)),
            _ => Err(SlcanError::BadLength),
        },
        BELL => Err(SlcanError::Refused),
        other => Err(SlcanError::UnknownCommand(other)),
    }
}

fn parse_frame(kind: u8, rest: &[u8]) -> Result<SlcanLine, SlcanError> {
    let extended = kind.is_ascii_uppercase();
    let remote = kind == b'r' || kind == b'R';
    let id_digits = if extended { 8 } else { 3 };
    if rest.len() < id_digits + 1 {
        return Err(SlcanError::BadLength);
    }
    let raw_id = hex(&rest[..id_digits])?;
    let id = if extended {
        CanId::extended(raw_id)
    } else {
        u16::try_from(raw_id).ok().and_then(CanId::standard)
    }
    .ok_or(SlcanError::IdOutOfRange)?;
    let dlc = hex_value(rest[id_digits])? as usize;
    if dlc > 8 {
        return Err(SlcanError::BadDlc);
    }
    let body = &rest[id_digits + 1..];
    let data_digits = if remote { 0 } else { 2 * dlc };
    let timestamp_ms = match body.len().checked_sub(data_digits) {
        Some(0) => None,
        Some(4) => Some(hex(&body[data_digits..])? as u16),
        _ => return Err(SlcanError::BadLength),
    };
    let frame = if remote {
        CanFrame::remote(id, dlc as u8)
    } else {
        let mut data = [0u8; 8];
        for (k, byte) in data.iter_mut().take(dlc).enumerate() {
            *byte = hex(&body[2 * k..2 * k + 2])? as u8;
        }
        CanFrame::new(id, &data[..dlc])
    }
    .map_err(|_| SlcanError::BadDlc)?;
    Ok(SlcanLine::Frame {
        frame,
        timestamp_ms,
    })
}

/// Writes `frame` as an SLCAN line with its `\r` into `out`; returns the length.
pub fn encode_frame(
    frame: &CanFrame,
    timestamp_ms: Option<u16>,
    out: &mut [u8; MAX_LINE],
) -> usize {
    let mut n = 0;
    let mut put = |b: u8| {
        out[n] = b;
        n += 1;
    };
    let (kind, digits, id) = match (frame.id(), frame.is_remote()) {
        (CanId::Standard(id), false) => (b't', 3, id as u32),
        (CanId::Standard(id), true) => (b'r', 3, id as u32),
        (CanId::Extended(id), false) => (b'T', 8, id),
        (CanId::Extended(id), true) => (b'R', 8, id),
    };
    put(kind);
    for k in (0..digits).rev() {
        put(HEX[((id >> (4 * k)) & 0xF) as usize]);
    }
    put(HEX[frame.len() as usize & 0xF]);
    for &byte in frame.data() {
        put(HEX[(byte >> 4) as usize]);
        put(HEX[(byte & 0xF) as usize]);
    }
    if let Some(ts) = timestamp_ms {
        for k in (0..4).rev() {
            put(HEX[((ts >> (4 * k)) & 0xF) as usize]);
        }
    }
    put(b'\r');
    n
}

/// Splits a byte stream into SLCAN lines (at `\r`; a BEL is a line of its own), with a
/// bounded buffer: an over-long line is dropped whole and reported once.
#[derive(Clone, Debug)]
pub struct LineReader {
    buf: [u8; MAX_LINE + 1],
    len: usize,
    overflow: bool,
}

impl Default for LineReader {
    fn default() -> Self {
        LineReader {
            buf: [0; MAX_LINE + 1],
            len: 0,
            overflow: false,
        }
    }
}

/// What one byte completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// A line of this length is ready in [`LineReader::line`].
    Line(usize),
    /// An over-long line was dropped.
    Overflow,
    /// The adapter rang the bell.
    Bell,
}

impl LineReader {
    /// Feeds one byte.
    pub fn push(&mut self, byte: u8) -> Option<LineEvent> {
        match byte {
            b'\r' | b'\n' => {
                let event = if self.overflow {
                    Some(LineEvent::Overflow)
                } else if byte == b'\n' && self.len == 0 {
                    None // the `\n` of a `\r\n` pair
                } else {
                    Some(LineEvent::Line(self.len))
                };
                self.overflow = false;
                if !matches!(event, Some(LineEvent::Line(_))) {
                    self.len = 0;
                }
                event
            }
            BELL => {
                self.len = 0;
                self.overflow = false;
                Some(LineEvent::Bell)
            }
            _ => {
                if self.len < MAX_LINE {
                    self.buf[self.len] = byte;
                    self.len += 1;
                } else {
                    self.overflow = true;
                }
                None
            }
        }
    }

    /// The line reported by the last [`LineEvent::Line`]; the next byte starts a new one.
    pub fn line(&mut self) -> &[u8] {
        let n = core::mem::take(&mut self.len);
        &self.buf[..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_encode_as_lawicel_text() {
        let frame = CanFrame::new(CanId::Standard(0x123), &[0xDE, 0xAD]).expect("frame");
        let mut out = [0u8; MAX_LINE];
        let n = encode_frame(&frame, None, &mut out);
        assert_eq!(&out[..n], b"t1232DEAD\r");
        let ext = CanFrame::new(CanId::Extended(0x1ABC_DEF0), &[1]).expect("frame");
        let n = encode_frame(&ext, Some(0x1234), &mut out);
        assert_eq!(&out[..n], b"T1ABCDEF01011234\r");
        assert_eq!(
            parse_line(b"T1ABCDEF01011234"),
            Ok(SlcanLine::Frame {
                frame: ext,
                timestamp_ms: Some(0x1234)
            })
        );
    }

    #[test]
    fn what_python_can_sends_on_open_is_accepted() {
        let mut reader = LineReader::default();
        let mut lines = [SlcanLine::Empty; 4];
        let mut k = 0;
        for &b in b"C\rS8\r\rO\r" {
            if let Some(LineEvent::Line(_)) = reader.push(b) {
                lines[k] = parse_line(reader.line()).expect("valid");
                k += 1;
            }
        }
        assert_eq!(
            lines,
            [
                SlcanLine::Close,
                SlcanLine::Bitrate(1_000_000),
                SlcanLine::Empty,
                SlcanLine::Open
            ]
        );
    }

    #[test]
    fn bad_lines_are_errors() {
        assert_eq!(parse_line(b"t12"), Err(SlcanError::BadLength));
        assert_eq!(parse_line(b"t8000"), Err(SlcanError::IdOutOfRange));
        assert_eq!(parse_line(b"T200000000"), Err(SlcanError::IdOutOfRange));
        assert_eq!(parse_line(b"t1239"), Err(SlcanError::BadDlc));
        assert_eq!(parse_line(b"t1231G0"), Err(SlcanError::BadHex));
        assert_eq!(parse_line(b"S9"), Err(SlcanError::BadBitrate));
        assert_eq!(parse_line(b"X"), Err(SlcanError::UnknownCommand(b'X')));
        assert_eq!(parse_line(&[BELL]), Err(SlcanError::Refused));
    }
}
