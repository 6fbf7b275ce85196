//! Feetech STS/SMS/SCS serial servos (the servos of LeRobot's SO-100/SO-101 arms): the
//! Dynamixel-1.0 framing they speak, `FF FF id len inst params chk`, and its status
//! packets (`err` in place of `inst`); builders for ping, read, write, sync read and
//! sync write; the words of their control tables (little-endian on STS/SMS, big-endian
//! on SCS, negatives as sign and magnitude); and [`PacketReader`], which finds packets in
//! a byte stream, skipping noise. Both sides are here: a host's master and a simulated
//! servo. Total: bad bytes are an error, never a panic.

use heapless::Vec;

/// Every packet starts with these two bytes.
pub const HEADER: [u8; 2] = [0xFF, 0xFF];

/// The id every servo takes.
pub const BROADCAST_ID: u8 = 0xFE;

/// Most parameter bytes of a packet: its length byte counts them, the instruction and
/// the checksum.
pub const MAX_PARAMS: usize = 253;

/// Longest packet: header, id, length, instruction, parameters, checksum.
pub const MAX_PACKET: usize = HEADER.len() + 2 + 1 + MAX_PARAMS + 1;

/// The checksum: the complement of the sum of id, length, instruction (or error) and
/// parameters, low byte.
pub fn checksum(id: u8, length: u8, instruction: u8, params: &[u8]) -> u8 {
    let sum = params.iter().fold(
        u32::from(id) + u32::from(length) + u32::from(instruction),
        |sum, b| sum + u32::from(*b),
    );
    !(sum as u8)
}

/// The control table of STS servos (STS3215 and kin): the addresses embody uses, and
/// their units. Position counts 4096 a turn, 2048 at the middle.
pub mod sts {
    /// Model number, 2 bytes (an STS3215's is [`STS3215`]).
    pub const MODEL_NUMBER: u8 = 3;
    /// The STS3215's model number.
    pub const STS3215: u16 = 777;
    /// Id, 1 byte.
    pub const ID: u8 = 5;
    /// Torque enable, 1 byte.
    pub const TORQUE_ENABLE: u8 = 40;
    /// Goal position, 2 bytes.
    pub const GOAL_POSITION: u8 = 42;
    /// Present position, 2 bytes; from here on the table is read only.
    pub const PRESENT_POSITION: u8 = 56;
    /// Present speed, 2 bytes, sign and magnitude (bit 15), counts a second.
    pub const PRESENT_SPEED: u8 = 58;
    /// Present load, 2 bytes, sign and magnitude (bit 10), tenths of a percent of the
    /// stall torque.
    pub const PRESENT_LOAD: u8 = 60;
    /// Present voltage, 1 byte (0.1 V).
    pub const PRESENT_VOLTAGE: u8 = 62;
    /// Present temperature, 1 byte (°C).
    pub const PRESENT_TEMPERATURE: u8 = 63;
    /// Moving, 1 byte.
    pub const MOVING: u8 = 66;
    /// Present current, 2 bytes.
    pub const PRESENT_CURRENT: u8 = 69;
    /// The table's size.
    pub const TABLE_SIZE: usize = 71;
    /// Position counts a turn.
    pub const COUNTS_PER_TURN: f64 = 4096.0;
    /// The count at the joint's zero.
    pub const CENTRE_COUNT: f64 = 2048.0;
    /// An STS3215's stall torque (N·m), which its load counts tenths of a percent of.
    pub const STALL_TORQUE_NM: f64 = 1.9;
}

/// The instructions Feetech servos take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Instruction {
    /// Is a servo there.
    Ping = 0x01,
    /// Read bytes of the control table.
    Read = 0x02,
    /// Write bytes of the control table.
    Write = 0x03,
    /// Write, to take effect at the next [`Instruction::Action`].
    RegWrite = 0x04,
    /// Carry out the registered writes.
    Action = 0x05,
    /// The same bytes of several servos, each answering in turn.
    SyncRead = 0x82,
    /// The same bytes to several servos, none answering.
    SyncWrite = 0x83,
}

impl Instruction {
    /// The instruction with this byte, if any.
    pub fn from_byte(byte: u8) -> Option<Instruction> {
        use Instruction::*;
        [Ping, Read, Write, RegWrite, Action, SyncRead, SyncWrite]
            .into_iter()
            .find(|i| *i as u8 == byte)
    }
}

/// A status packet's error byte: each bit a fault of the servo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServoError(pub u8);

impl ServoError {
    /// Input voltage out of range.
    pub const VOLTAGE: u8 = 1;
    /// The angle sensor failed.
    pub const ANGLE: u8 = 2;
    /// Overheated.
    pub const OVERHEAT: u8 = 4;
    /// Over current.
    pub const OVERCURRENT: u8 = 8;
    /// Overloaded.
    pub const OVERLOAD: u8 = 32;

    /// No fault.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether `bit` (one of the constants) is set.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Why a packet could not be made or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeetechError {
    /// More than [`MAX_PARAMS`] parameters, or the output buffer is too small.
    TooLong,
    /// A length field below 2 (instruction and checksum), or data of the wrong length.
    BadLength(u8),
    /// The checksum the packet carries is not the checksum of its bytes.
    Checksum {
        /// The checksum of the bytes.
        computed: u8,
        /// The checksum the packet carries.
        carried: u8,
    },
}

impl core::fmt::Display for FeetechError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FeetechError::TooLong => write!(f, "packet longer than {MAX_PACKET} bytes"),
            FeetechError::BadLength(n) => write!(f, "length {n} does not fit the packet"),
            FeetechError::Checksum { computed, carried } => {
                write!(
                    f,
                    "checksum {carried:#04x} carried, {computed:#04x} computed"
                )
            }
        }
    }
}

/// A packet as read. Instruction and status packets look alike: which one it is, the
/// side reading it knows (a master reads status, a servo instructions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The servo it is to, or from.
    pub id: u8,
    /// The instruction byte, or a status's error byte ([`ServoError`]).
    pub instruction: u8,
    /// The parameters (of a status: the data).
    pub params: &'a [u8],
}

/// Writes a packet to servo `id` into `out`; says how many bytes it took. A status packet
/// is written with its error byte as `instruction`.
pub fn encode(
    id: u8,
    instruction: u8,
    params: &[u8],
    out: &mut [u8],
) -> Result<usize, FeetechError> {
    if params.len() > MAX_PARAMS {
        return Err(FeetechError::TooLong);
    }
    let n = HEADER.len() + 3 + params.len() + 1;
    let out = out.get_mut(..n).ok_or(FeetechError::TooLong)?;
    let length = (params.len() + 2) as u8;
    out[..2].copy_from_slice(&HEADER);
    out[2] = id;
    out[3] = length;
    out[4] = instruction;
    out[5..n - 1].copy_from_slice(params);
    out[n - 1] = checksum(id, length, instruction, params);
    Ok(n)
}

/// Ping servo `id`: it answers with an empty status.
pub fn ping(id: u8, out: &mut [u8]) -> Result<usize, FeetechError> {
    encode(id, Instruction::Ping as u8, &[], out)
}

/// Read `length` bytes of servo `id`'s control table from `address`.
pub fn read(id: u8, address: u8, length: u8, out: &mut [u8]) -> Result<usize, FeetechError> {
    encode(id, Instruction::Read as u8, &[address, length], out)
}

/// Write `data` to servo `id`'s control table at `address`.
pub fn write(id: u8, address: u8, data: &[u8], out: &mut [u8]) -> Result<usize, FeetechError> {
    encode(
        id,
        Instruction::Write as u8,
        &params(&[&[address], data])?,
        out,
    )
}

/// Sync read: `length` bytes at `address` of each servo of `ids`, which answer in that
/// order, each with a status packet of its own.
pub fn sync_read(
    address: u8,
    length: u8,
    ids: &[u8],
    out: &mut [u8],
) -> Result<usize, FeetechError> {
    let p = params(&[&[address, length], ids])?;
    encode(BROADCAST_ID, Instruction::SyncRead as u8, &p, out)
}

/// Sync write: to each servo of `writes`, its bytes (all `length` long) at `address`.
pub fn sync_write(
    address: u8,
    length: u8,
    writes: &[(u8, &[u8])],
    out: &mut [u8],
) -> Result<usize, FeetechError> {
    let mut p = params(&[&[address, length]])?;
    for (id, data) in writes {
        if data.len() != usize::from(length) {
            return Err(FeetechError::BadLength(data.len().min(255) as u8));
        }
        p.push(*id).map_err(|_| FeetechError::TooLong)?;
        p.extend_from_slice(data)
            .map_err(|_| FeetechError::TooLong)?;
    }
    encode(BROADCAST_ID, Instruction::SyncWrite as u8, &p, out)
}

fn params(parts: &[&[u8]]) -> Result<Vec<u8, MAX_PARAMS>, FeetechError> {
    let mut p = Vec::new();
    for part in parts {
        p.extend_from_slice(part)
            .map_err(|_| FeetechError::TooLong)?;
    }
    Ok(p)
}

/// The byte order of a servo family's two-byte words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// STS and SMS servos.
    Little,
    /// SCS servos.
    Big,
}

impl Endian {
    /// The word in `bytes`.
    pub fn word(self, bytes: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(bytes),
            Endian::Big => u16::from_be_bytes(bytes),
        }
    }

    /// The bytes of `word`.
    pub fn bytes(self, word: u16) -> [u8; 2] {
        match self {
            Endian::Little => word.to_le_bytes(),
            Endian::Big => word.to_be_bytes(),
        }
    }
}

/// A signed value from a word whose bit `sign_bit` is the sign (15 for speeds and
/// positions of STS servos) and whose lower bits are the magnitude.
pub fn from_sign_magnitude(word: u16, sign_bit: u8) -> i32 {
    let sign = 1u32 << sign_bit.min(15);
    let magnitude = (u32::from(word) & (sign - 1)) as i32;
    if u32::from(word) & sign != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// The word of `value` in sign and magnitude with the sign at bit `sign_bit`; a
/// magnitude too large for the bits below it is clamped.
pub fn to_sign_magnitude(value: i32, sign_bit: u8) -> u16 {
    let sign = 1u32 << sign_bit.min(15);
    let magnitude = value.unsigned_abs().min(sign - 1);
    (if value < 0 {
        magnitude | sign
    } else {
        magnitude
    }) as u16
}

/// Finds packets in a byte stream: bytes before a header are skipped, a packet whose
/// checksum is wrong is dropped whole and reported. Bounded: it holds one packet.
#[derive(Clone, Debug)]
pub struct PacketReader {
    buf: [u8; MAX_PACKET],
    len: usize,
    complete: bool,
    /// Bytes skipped looking for a header, since the reader was made.
    pub skipped: u64,
}

impl Default for PacketReader {
    fn default() -> Self {
        PacketReader {
            buf: [0; MAX_PACKET],
            len: 0,
            complete: false,
            skipped: 0,
        }
    }
}

impl PacketReader {
    /// Feeds one byte: `Some(Ok(()))` when it completed a packet (read it with
    /// [`PacketReader::packet`] before the next byte), `Some(Err(_))` when it completed
    /// a packet that is no good.
    pub fn push(&mut self, byte: u8) -> Option<Result<(), FeetechError>> {
        if self.complete {
            self.complete = false;
            self.len = 0;
        }
        self.buf[self.len] = byte;
        self.len += 1;
        // Looking for the header; a third `FF` is taken as the header's second, as the
        // id 0xFF is no servo's.
        while (self.len <= 2 && self.buf[..self.len] != HEADER[..self.len])
            || (self.len == 3 && self.buf[2] == 0xFF)
        {
            self.buf.copy_within(1..self.len, 0);
            self.len -= 1;
            self.skipped += 1;
        }
        if self.len < 4 {
            return None;
        }
        let length = self.buf[3];
        if length < 2 {
            self.len = 0;
            return Some(Err(FeetechError::BadLength(length)));
        }
        let total = 4 + usize::from(length);
        if self.len < total {
            return None;
        }
        let (id, instruction) = (self.buf[2], self.buf[4]);
        let computed = checksum(id, length, instruction, &self.buf[5..total - 1]);
        let carried = self.buf[total - 1];
        if computed != carried {
            self.len = 0;
            return Some(Err(FeetechError::Checksum { computed, carried }));
        }
        self.complete = true;
        Some(Ok(()))
    }

    /// Forgets a packet begun: after a timeout, the next byte is looked at as the start of
    /// a new one (a reply cut short must not swallow the next).
    pub fn reset(&mut self) {
        self.len = 0;
        self.complete = false;
    }

    /// The packet the last byte completed.
    pub fn packet(&self) -> Option<Packet<'_>> {
        if !self.complete {
            return None;
        }
        Some(Packet {
            id: self.buf[2],
            instruction: self.buf[4],
            params: &self.buf[5..self.len - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all<'a>(reader: &'a mut PacketReader, bytes: &[u8]) -> Option<Packet<'a>> {
        let mut done = false;
        for &b in bytes {
            done = reader.push(b) == Some(Ok(()));
        }
        done.then(|| reader.packet()).flatten()
    }

    #[test]
    fn ping_and_read_are_dynamixel_one_packets() {
        let mut out = [0; 16];
        let n = ping(1, &mut out).expect("fits");
        assert_eq!(&out[..n], &[0xFF, 0xFF, 0x01, 0x02, 0x01, 0xFB]);
        // Present position (56, two bytes) of servo 1.
        let n = read(1, 56, 2, &mut out).expect("fits");
        assert_eq!(&out[..n], &[0xFF, 0xFF, 0x01, 0x04, 0x02, 0x38, 0x02, 0xBE]);
    }

    #[test]
    fn a_status_after_noise_is_read_and_a_bad_checksum_reported() {
        let mut out = [0; 16];
        let n = encode(6, ServoError::OVERHEAT, &[0x00, 0x08], &mut out).expect("fits");
        let mut stream = [0u8; 32];
        stream[..3].copy_from_slice(&[0x13, 0xFF, 0xFF]);
        stream[3..3 + n].copy_from_slice(&out[..n]);
        let mut reader = PacketReader::default();
        let packet = read_all(&mut reader, &stream[..3 + n]).expect("a packet");
        assert_eq!(packet.id, 6);
        assert!(ServoError(packet.instruction).has(ServoError::OVERHEAT));
        assert_eq!(
            Endian::Little.word([packet.params[0], packet.params[1]]),
            2048
        );
        // The noise, and two of the five `FF`s in a row.
        assert_eq!(reader.skipped, 3);
        out[n - 1] ^= 0x10;
        let mut results = out[..n].iter().filter_map(|b| reader.push(*b));
        assert!(matches!(
            results.next(),
            Some(Err(FeetechError::Checksum { .. }))
        ));
    }

    #[test]
    fn a_reply_cut_short_is_forgotten_at_a_reset() {
        let mut out = [0; 16];
        let n = ping(2, &mut out).expect("fits");
        let mut reader = PacketReader::default();
        for &b in &out[..n - 2] {
            assert_eq!(reader.push(b), None);
        }
        reader.reset();
        assert_eq!(read_all(&mut reader, &out[..n]).expect("a packet").id, 2);
    }

    #[test]
    fn sync_write_lays_out_its_servos() {
        let mut out = [0; 64];
        let n =
            sync_write(42, 2, &[(1, &[0x00, 0x08]), (2, &[0x00, 0x04])], &mut out).expect("fits");
        let mut reader = PacketReader::default();
        let packet = read_all(&mut reader, &out[..n]).expect("a packet");
        assert_eq!(packet.id, BROADCAST_ID);
        assert_eq!(packet.instruction, Instruction::SyncWrite as u8);
        assert_eq!(packet.params, &[42, 2, 1, 0x00, 0x08, 2, 0x00, 0x04]);
    }

    #[test]
    fn words_and_signs() {
        assert_eq!(Endian::Big.word([0x08, 0x00]), 2048);
        assert_eq!(Endian::Little.bytes(2048), [0x00, 0x08]);
        assert_eq!(from_sign_magnitude(0x8000 | 300, 15), -300);
        assert_eq!(from_sign_magnitude(300, 15), 300);
        assert_eq!(to_sign_magnitude(-300, 15), 0x8000 | 300);
        assert_eq!(to_sign_magnitude(-100_000, 15), 0xFFFF);
        assert_eq!(Instruction::from_byte(0x82), Some(Instruction::SyncRead));
    }
}
