//! Framing on the host–bridge serial link: a postcard payload followed by its CRC-32
//! (ISO-HDLC, little-endian), every byte XORed with [`WHITEN`], COBS-encoded and ended by
//! a zero byte. A receiver can join
//! the stream anywhere: it resynchronises at the next zero. [`FrameDecoder`] is a
//! bounded byte-at-a-time state machine that counts every kind of bad frame.

use serde::{Deserialize, Serialize};

/// Largest payload (postcard bytes) of one frame.
pub const MAX_PAYLOAD: usize = 1536;
/// Largest encoded frame: payload, CRC, COBS overhead and the delimiter.
pub const MAX_FRAME: usize = crate::cobs::max_encoded_len(MAX_PAYLOAD + 4) + 1;

/// CRC-32/ISO-HDLC of `bytes`: carry-less multiply on a host CPU that has it (with the
/// `std` feature), else slice-by-16 tables.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Why a frame could not be made or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The message does not fit in [`MAX_PAYLOAD`] or the output buffer.
    TooLong,
    /// Bytes between delimiters are not valid COBS.
    Cobs,
    /// Fewer than the four CRC bytes.
    Short,
    /// The CRC does not match.
    Crc,
    /// More bytes than [`MAX_FRAME`] before a delimiter.
    Overflow,
    /// The payload is not a valid message.
    Decode,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FrameError::TooLong => "message too long for a frame",
            FrameError::Cobs => "bad COBS framing",
            FrameError::Short => "frame shorter than its CRC",
            FrameError::Crc => "CRC mismatch",
            FrameError::Overflow => "frame longer than the maximum",
            FrameError::Decode => "payload is not a valid message",
        })
    }
}

/// Encodes messages into frames, with its own scratch space.
#[derive(Clone, Debug)]
pub struct FrameEncoder {
    scratch: [u8; MAX_PAYLOAD + 4],
}

impl Default for FrameEncoder {
    fn default() -> Self {
        FrameEncoder {
            scratch: [0; MAX_PAYLOAD + 4],
        }
    }
}

impl FrameEncoder {
    /// Writes `message` as one frame (delimiter included) into `out`; returns its length.
    pub fn encode<T: Serialize>(
        &mut self,
        message: &T,
        out: &mut [u8],
    ) -> Result<usize, FrameError> {
        let n = postcard::to_slice(message, &mut self.scratch[..MAX_PAYLOAD])
            .map_err(|_| FrameError::TooLong)?
            .len();
        let crc = crc32(&self.scratch[..n]);
        self.scratch[n..n + 4].copy_from_slice(&crc.to_le_bytes());
        whiten(&mut self.scratch[..n + 4]);
        let m = crate::cobs::encode(&self.scratch[..n + 4], out).ok_or(FrameError::TooLong)?;
        *out.get_mut(m).ok_or(FrameError::TooLong)? = 0;
        Ok(m + 1)
    }
}

/// Counters of a [`FrameDecoder`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames that passed framing and CRC.
    pub ok: u32,
    /// COBS errors or frames shorter than a CRC.
    pub framing_errors: u32,
    /// CRC mismatches.
    pub crc_errors: u32,
    /// Over-long frames dropped.
    pub overflows: u32,
}

/// Reassembles frames from a byte stream. See the module docs.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    raw: [u8; MAX_FRAME],
    len: usize,
    overflow: bool,
    payload: [u8; MAX_FRAME],
    payload_len: usize,
    stats: FrameStats,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            raw: [0; MAX_FRAME],
            len: 0,
            overflow: false,
            payload: [0; MAX_FRAME],
            payload_len: 0,
            stats: FrameStats::default(),
        }
    }
}

impl FrameDecoder {
    /// Feeds one byte; at a delimiter, the result of the frame it ends: `Ok(len)` with
    /// the payload in [`FrameDecoder::payload`] until the next frame completes.
    /// Back-to-back delimiters (idle fill) produce nothing.
    pub fn push(&mut self, byte: u8) -> Option<Result<usize, FrameError>> {
        if byte != 0 {
            if self.len < MAX_FRAME {
                self.raw[self.len] = byte;
                self.len += 1;
            } else {
                self.overflow = true;
            }
            return None;
        }
        let len = core::mem::take(&mut self.len);
        if core::mem::take(&mut self.overflow) {
            self.stats.overflows += 1;
            return Some(Err(FrameError::Overflow));
        }
        if len == 0 {
            return None;
        }
        let result = unframe(&self.raw[..len], &mut self.payload);
        self.settle(&result);
        Some(result)
    }

    /// Counts a frame's result and keeps a good payload's length.
    fn settle(&mut self, result: &Result<usize, FrameError>) {
        match result {
            Ok(n) => {
                self.stats.ok += 1;
                self.payload_len = *n;
            }
            Err(FrameError::Crc) => self.stats.crc_errors += 1,
            Err(_) => self.stats.framing_errors += 1,
        }
    }

    /// Feeds a run of bytes up to and including the first delimiter in it; returns how
    /// many bytes were taken and, if a frame ended, its result (as [`Self::push`]).
    /// Call again with the rest. Much faster than byte by byte: a whole frame in one run
    /// is decoded where it lies.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Option<Result<usize, FrameError>>) {
        let end = crate::cobs::find_zero(bytes);
        if let (Some(at), 0, false) = (end, self.len, self.overflow)
            && at > 0
        {
            let result = unframe(&bytes[..at], &mut self.payload);
            self.settle(&result);
            return (at + 1, Some(result));
        }
        let body = &bytes[..end.unwrap_or(bytes.len())];
        let room = MAX_FRAME - self.len;
        if body.len() > room {
            self.overflow = true;
            self.len = MAX_FRAME;
        } else {
            self.raw[self.len..self.len + body.len()].copy_from_slice(body);
            self.len += body.len();
        }
        match end {
            Some(at) => (at + 1, self.push(0)),
            None => (bytes.len(), None),
        }
    }

    /// The payload of the last good frame.
    pub fn payload(&self) -> &[u8] {
        &self.payload[..self.payload_len]
    }

    /// The last good frame's message.
    pub fn message<'a, T: Deserialize<'a>>(&'a self) -> Result<T, FrameError> {
        postcard::from_bytes(self.payload()).map_err(|_| FrameError::Decode)
    }

    /// Counters since creation.
    pub fn stats(&self) -> FrameStats {
        self.stats
    }
}

/// The byte every payload byte is XORed with before COBS (and after, on decoding). Binary
/// payloads are full of zero bytes (round floats such as gains, small integers), which
/// would cut COBS into blocks of a few bytes; 0xA5 is as rare in them as any byte
/// (a float exponent of ±1e-16), so whitened, the blocks run long and COBS costs little.
pub const WHITEN: u8 = 0xA5;

/// XORs every byte with [`WHITEN`] (its own inverse).
fn whiten(bytes: &mut [u8]) {
    for b in bytes {
        *b ^= WHITEN;
    }
}

/// COBS-decodes one frame into `payload` and checks its CRC; the payload's length.
fn unframe(raw: &[u8], payload: &mut [u8]) -> Result<usize, FrameError> {
    let n = crate::cobs::decode(raw, payload).ok_or(FrameError::Cobs)?;
    if n < 4 {
        return Err(FrameError::Short);
    }
    whiten(&mut payload[..n]);
    let body = n - 4;
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&payload[body..n]);
    if crc32(&payload[..body]) != u32::from_le_bytes(crc) {
        return Err(FrameError::Crc);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_crc32_iso_hdlc_and_whitening_is_its_own_inverse() {
        // The catalogue's check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut bytes = [0x00, 0xA5, 0x5A, 0xFF];
        whiten(&mut bytes);
        assert_eq!(bytes, [0xA5, 0x00, 0xFF, 0x5A]);
        whiten(&mut bytes);
        assert_eq!(bytes, [0x00, 0xA5, 0x5A, 0xFF]);
    }
    use crate::messages::{CommandBatch, HostMessage, PROTOCOL_VERSION, WireCommand};

    fn tick(n: usize) -> HostMessage {
        let mut batch = CommandBatch {
            seq: 7,
            host_time_us: 123_456,
            ..CommandBatch::default()
        };
        for k in 0..n {
            let _ = batch.commands.push(WireCommand::Impedance {
                q: k as f32 * 0.1,
                dq: 0.0,
                kp: 30.0,
                kd: 1.0,
                tau_ff: -0.5,
            });
        }
        HostMessage::Tick(batch)
    }

    #[test]
    fn a_thirty_joint_tick_round_trips_and_has_no_zero_inside() {
        let mut encoder = FrameEncoder::default();
        let mut out = [0u8; MAX_FRAME];
        let n = encoder.encode(&tick(30), &mut out).expect("fits");
        assert_eq!(out[n - 1], 0);
        assert!(out[..n - 1].iter().all(|&b| b != 0));
        let mut decoder = FrameDecoder::default();
        let mut got = None;
        for &b in &out[..n] {
            if let Some(r) = decoder.push(b) {
                got = Some(r);
            }
        }
        assert!(matches!(got, Some(Ok(_))));
        assert_eq!(decoder.message::<HostMessage>(), Ok(tick(30)));
    }

    #[test]
    fn corruption_is_counted_and_the_next_frame_still_decodes() {
        let mut encoder = FrameEncoder::default();
        let mut good = [0u8; MAX_FRAME];
        let n = encoder
            .encode(
                &HostMessage::Hello {
                    version: PROTOCOL_VERSION,
                },
                &mut good,
            )
            .expect("fits");
        let mut bad = good;
        bad[1] ^= 0x40;
        let mut decoder = FrameDecoder::default();
        let mut results = [None, None, None];
        // Garbage, a corrupted frame, then a good one.
        for (k, bytes) in [&[0x55u8, 0x13, 0][..], &bad[..n], &good[..n]]
            .iter()
            .enumerate()
        {
            for &b in *bytes {
                if let Some(r) = decoder.push(b) {
                    results[k] = Some(r);
                }
            }
        }
        assert!(matches!(results[0], Some(Err(_))));
        assert!(matches!(
            results[1],
            Some(Err(FrameError::Crc | FrameError::Cobs))
        ));
        assert!(matches!(results[2], Some(Ok(_))));
        let stats = decoder.stats();
        assert_eq!(stats.ok, 1);
        assert_eq!(stats.crc_errors + stats.framing_errors, 2);
    }
}
