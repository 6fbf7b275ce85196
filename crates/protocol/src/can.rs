//! A classic CAN frame as every codec here sees it: a standard (11-bit) or extended
//! (29-bit) identifier, up to eight data bytes, or a remote request. Constructors check
//! the ranges, so a `CanFrame` is always valid.

use serde::{Deserialize, Serialize};

/// A CAN identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CanId {
    /// 11-bit identifier (≤ 0x7FF).
    Standard(u16),
    /// 29-bit identifier (≤ 0x1FFF_FFFF).
    Extended(u32),
}

impl CanId {
    /// A standard identifier, if it fits in 11 bits.
    pub const fn standard(id: u16) -> Option<CanId> {
        if id <= 0x7FF {
            Some(CanId::Standard(id))
        } else {
            None
        }
    }

    /// An extended identifier, if it fits in 29 bits.
    pub const fn extended(id: u32) -> Option<CanId> {
        if id <= 0x1FFF_FFFF {
            Some(CanId::Extended(id))
        } else {
            None
        }
    }

    /// The raw identifier.
    pub const fn raw(self) -> u32 {
        match self {
            CanId::Standard(id) => id as u32,
            CanId::Extended(id) => id,
        }
    }
}

/// Why a frame could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanError {
    /// More than eight data bytes.
    TooLong(usize),
}

impl core::fmt::Display for CanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CanError::TooLong(n) => write!(f, "{n} data bytes, a classic CAN frame holds 8"),
        }
    }
}

/// A classic CAN data or remote frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CanFrame {
    id: CanId,
    len: u8,
    data: [u8; 8],
    remote: bool,
}

impl CanFrame {
    /// A data frame carrying `data` (at most 8 bytes).
    pub fn new(id: CanId, data: &[u8]) -> Result<CanFrame, CanError> {
        if data.len() > 8 {
            return Err(CanError::TooLong(data.len()));
        }
        let mut bytes = [0u8; 8];
        bytes[..data.len()].copy_from_slice(data);
        Ok(CanFrame {
            id,
            len: data.len() as u8,
            data: bytes,
            remote: false,
        })
    }

    /// A data frame from a fixed-size array (checked at compile time).
    pub const fn fixed<const N: usize>(id: CanId, data: [u8; N]) -> CanFrame {
        const { assert!(N <= 8, "a classic CAN frame holds 8 bytes") };
        let mut bytes = [0u8; 8];
        let mut k = 0;
        while k < N {
            bytes[k] = data[k];
            k += 1;
        }
        CanFrame {
            id,
            len: N as u8,
            data: bytes,
            remote: false,
        }
    }

    /// A remote request for `len` (≤ 8) bytes.
    pub fn remote(id: CanId, len: u8) -> Result<CanFrame, CanError> {
        if len > 8 {
            return Err(CanError::TooLong(len as usize));
        }
        Ok(CanFrame {
            id,
            len,
            data: [0; 8],
            remote: true,
        })
    }

    /// The identifier.
    pub const fn id(&self) -> CanId {
        self.id
    }

    /// The data bytes (empty for a remote frame).
    pub fn data(&self) -> &[u8] {
        if self.remote {
            &[]
        } else {
            &self.data[..self.len as usize]
        }
    }

    /// The data length code.
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// No data bytes.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it is a remote request.
    pub const fn is_remote(&self) -> bool {
        self.remote
    }

    /// Worst-case time on a classic CAN bus at `bitrate` (bit/s), bit stuffing included:
    /// the budget a bus scheduler plans with.
    pub fn worst_case_time_us(&self, bitrate: u32) -> f32 {
        self.worst_case_bits() as f32 * 1e6 / bitrate.max(1) as f32
    }

    /// Worst-case length on the bus in bits (stuff bits and inter-frame space included).
    pub fn worst_case_bits(&self) -> u32 {
        // Bits exposed to stuffing: SOF, arbitration, control, data, CRC.
        let (header, fixed) = match self.id {
            CanId::Standard(_) => (34u32, 13u32),
            CanId::Extended(_) => (54u32, 13u32),
        };
        let stuffable = header + 8 * self.data().len() as u32;
        // One stuff bit per four bits in the worst case, then CRC delimiter, ACK, EOF, IFS.
        stuffable + (stuffable - 1) / 4 + fixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_case_times_match_the_published_budgets() {
        let full = CanFrame::new(CanId::Standard(1), &[0; 8]).expect("frame");
        // 135 µs for an 8-byte standard frame at 1 Mbit/s, 160 µs extended.
        assert!((full.worst_case_time_us(1_000_000) - 135.0).abs() < 1.5);
        let ext = CanFrame::new(CanId::Extended(1), &[0; 8]).expect("frame");
        assert!((ext.worst_case_time_us(1_000_000) - 160.0).abs() < 1.5);
        let six = CanFrame::new(CanId::Standard(1), &[0; 6]).expect("frame");
        assert!((six.worst_case_time_us(1_000_000) - 115.0).abs() < 1.5);
    }

    #[test]
    fn ranges_are_checked() {
        assert!(CanId::standard(0x800).is_none());
        assert!(CanId::extended(0x2000_0000).is_none());
        assert_eq!(
            CanFrame::new(CanId::Standard(1), &[0; 9]),
            Err(CanError::TooLong(9))
        );
    }
}
