//! ROBOTIS Dynamixel protocol 2.0, the half-duplex serial bus of X-series servos: the
//! packets a master sends (instructions) and a servo answers (status, instruction
//! `0x55`), with their byte stuffing and CRC-16; builders for the instructions a master
//! uses each tick (ping, read, write, sync read, sync write); and [`PacketReader`], which
//! finds packets in a byte stream, skipping noise, with a bounded buffer. Both sides are
//! here: a host's master and a simulated servo. Total: bad bytes are an error, never a
//! panic.

use crc::{CRC_16_UMTS, Crc};
use heapless::Vec;

/// Every packet starts with these four bytes.
pub const HEADER: [u8; 4] = [0xFF, 0xFF, 0xFD, 0x00];

/// The id every servo takes (and none answers, except to ping and sync read).
pub const BROADCAST_ID: u8 = 0xFE;

/// Most parameter bytes of a packet here, before stuffing: a sync write of 8 bytes to
/// 50 servos, or a status with 500 bytes of a control table.
pub const MAX_PARAMS: usize = 512;

/// Longest packet on the wire: header, id, length, instruction, parameters grown by
/// stuffing (at most one byte in three), CRC.
pub const MAX_PACKET: usize = HEADER.len() + 3 + (1 + MAX_PARAMS) * 4 / 3 + 1 + 2;

/// The instruction byte of a status packet.
pub const STATUS: u8 = 0x55;

/// CRC-16 with polynomial 0x8005, initial value 0, unreflected (CRC-16/UMTS), over the
/// packet from its header to the last stuffed parameter.
pub fn crc16(bytes: &[u8]) -> u16 {
    const CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_UMTS);
    CRC.checksum(bytes)
}

/// The control table of X-series servos (XM430-W350 and kin): the addresses embody uses,
/// and their units. Position counts 4096 a turn, 2048 at the middle of the range.
pub mod x_series {
    /// Model number, 2 bytes (an XM430-W350's is [`XM430_W350`]).
    pub const MODEL_NUMBER: u16 = 0;
    /// The XM430-W350's model number.
    pub const XM430_W350: u16 = 1020;
    /// Firmware version, 1 byte.
    pub const FIRMWARE_VERSION: u16 = 6;
    /// Id, 1 byte.
    pub const ID: u16 = 7;
    /// Operating mode, 1 byte: 0 current, 1 velocity, 3 position, 4 extended position.
    pub const OPERATING_MODE: u16 = 11;
    /// The EEPROM area ends here: it cannot be written while the torque is on.
    pub const EEPROM_END: u16 = 64;
    /// Torque enable, 1 byte.
    pub const TORQUE_ENABLE: u16 = 64;
    /// Hardware error status, 1 byte: the bits below.
    pub const HARDWARE_ERROR: u16 = 70;
    /// Position D gain, 2 bytes (RAM).
    pub const POSITION_D_GAIN: u16 = 80;
    /// Position I gain, 2 bytes (RAM).
    pub const POSITION_I_GAIN: u16 = 82;
    /// Position P gain, 2 bytes (RAM): the position loop's output (PWM, of
    /// [`PWM_MAX`]) is `P / 128` per count of error.
    pub const POSITION_P_GAIN: u16 = 84;
    /// The XM430-W350's position P gain as shipped.
    pub const DEFAULT_POSITION_P_GAIN: u16 = 800;
    /// The largest position P gain.
    pub const POSITION_P_GAIN_MAX: u16 = 16383;
    /// Full PWM: the motor's stall torque.
    pub const PWM_MAX: f64 = 885.0;
    /// Goal current, 2 bytes signed.
    pub const GOAL_CURRENT: u16 = 102;
    /// Goal velocity, 4 bytes signed.
    pub const GOAL_VELOCITY: u16 = 104;
    /// Goal position, 4 bytes signed.
    pub const GOAL_POSITION: u16 = 116;
    /// Moving, 1 byte; from here on the table is read only.
    pub const MOVING: u16 = 122;
    /// Present current, 2 bytes signed; then velocity and position, 4 bytes each.
    pub const PRESENT_CURRENT: u16 = 126;
    /// Present velocity, 4 bytes signed.
    pub const PRESENT_VELOCITY: u16 = 128;
    /// Present position, 4 bytes signed.
    pub const PRESENT_POSITION: u16 = 132;
    /// Present input voltage, 2 bytes (0.1 V).
    pub const PRESENT_VOLTAGE: u16 = 144;
    /// Present temperature, 1 byte (°C).
    pub const PRESENT_TEMPERATURE: u16 = 146;
    /// The table's size.
    pub const TABLE_SIZE: usize = 147;
    /// Hardware error bits: input voltage.
    pub const INPUT_VOLTAGE_ERROR: u8 = 1 << 0;
    /// Hardware error bits: overheating.
    pub const OVERHEATING_ERROR: u8 = 1 << 2;
    /// Hardware error bits: motor encoder.
    pub const ENCODER_ERROR: u8 = 1 << 3;
    /// Hardware error bits: electrical shock.
    pub const ELECTRICAL_SHOCK_ERROR: u8 = 1 << 4;
    /// Hardware error bits: overload.
    pub const OVERLOAD_ERROR: u8 = 1 << 5;
    /// Position counts a turn.
    pub const COUNTS_PER_TURN: f64 = 4096.0;
    /// The count at the joint's zero.
    pub const CENTRE_COUNT: f64 = 2048.0;
    /// The velocity unit (rad/s): 0.229 rev/min.
    pub const VELOCITY_UNIT_RAD_S: f64 = 0.229 * core::f64::consts::TAU / 60.0;
    /// The current unit (A).
    pub const CURRENT_UNIT_A: f64 = 2.69e-3;
    /// Output torque a amp makes (N·m/A, an XM430-W350's stall torque over its current).
    pub const TORQUE_PER_A: f64 = 1.8;

    /// The stiffness a position P gain `p_gain` gives, per N·m of stall torque (N·m/rad
    /// per N·m): `P / 128` of [`PWM_MAX`] per count, [`COUNTS_PER_TURN`] counts a turn.
    /// As shipped (800) the servo's full torque takes 12.5° of error.
    pub fn stiffness_per_nm(p_gain: u16) -> f64 {
        f64::from(p_gain) / 128.0 * COUNTS_PER_TURN / core::f64::consts::TAU / PWM_MAX
    }
}

/// The instructions of protocol 2.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Instruction {
    /// Is a servo there (its model number and firmware).
    Ping = 0x01,
    /// Read bytes of the control table.
    Read = 0x02,
    /// Write bytes of the control table.
    Write = 0x03,
    /// Write, to take effect at the next [`Instruction::Action`].
    RegWrite = 0x04,
    /// Carry out the registered writes.
    Action = 0x05,
    /// Back to factory settings.
    FactoryReset = 0x06,
    /// Restart.
    Reboot = 0x08,
    /// Clear the multi-turn position or an error.
    Clear = 0x10,
    /// The same bytes of several servos, each answering in turn.
    SyncRead = 0x82,
    /// The same bytes to several servos, none answering.
    SyncWrite = 0x83,
    /// Sync read answered in one packet.
    FastSyncRead = 0x8A,
    /// Different bytes of several servos.
    BulkRead = 0x92,
    /// Different bytes to several servos.
    BulkWrite = 0x93,
}

impl Instruction {
    /// The instruction with this byte, if any.
    pub fn from_byte(byte: u8) -> Option<Instruction> {
        use Instruction::*;
        [
            Ping,
            Read,
            Write,
            RegWrite,
            Action,
            FactoryReset,
            Reboot,
            Clear,
            SyncRead,
            SyncWrite,
            FastSyncRead,
            BulkRead,
            BulkWrite,
        ]
        .into_iter()
        .find(|i| *i as u8 == byte)
    }
}

/// A status packet's error byte: bit 7 says the servo has a hardware error (read its
/// hardware error register), the low bits what was wrong with the instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusError(pub u8);

/// What was wrong with an instruction, from a status packet's error byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusCode {
    /// The servo failed to process it.
    ResultFail = 1,
    /// Not an instruction, or Action without RegWrite.
    Instruction = 2,
    /// The packet's CRC did not match.
    Crc = 3,
    /// A value out of range.
    DataRange = 4,
    /// Fewer bytes than the address takes.
    DataLength = 5,
    /// A value beyond the configured limit.
    DataLimit = 6,
    /// A read-only address written, a write-only one read, or torque on where it locks.
    Access = 7,
}

impl StatusError {
    /// The servo has a hardware error (overheating, overload, …).
    pub const ALERT: u8 = 0x80;

    /// Whether the hardware-error bit is set.
    pub fn alert(self) -> bool {
        self.0 & Self::ALERT != 0
    }

    /// What was wrong with the instruction, if anything (an unknown code is `None`).
    pub fn code(self) -> Option<StatusCode> {
        use StatusCode::*;
        [
            ResultFail,
            Instruction,
            Crc,
            DataRange,
            DataLength,
            DataLimit,
            Access,
        ]
        .into_iter()
        .find(|c| *c as u8 == self.0 & 0x7F)
    }

    /// Neither an instruction error nor a hardware error.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

/// Why a packet could not be made or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DxlError {
    /// More than [`MAX_PARAMS`] parameters, or the output buffer is too small.
    TooLong,
    /// A length field below 3 (instruction and CRC) or beyond [`MAX_PACKET`].
    BadLength(u16),
    /// The CRC the packet carries is not the CRC of its bytes.
    Crc {
        /// The CRC of the bytes.
        computed: u16,
        /// The CRC the packet carries.
        carried: u16,
    },
    /// A status packet without its error byte.
    NoErrorByte,
}

impl core::fmt::Display for DxlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DxlError::TooLong => write!(f, "packet longer than {MAX_PACKET} bytes"),
            DxlError::BadLength(n) => write!(f, "length field {n} is not 3 to {MAX_PACKET}"),
            DxlError::Crc { computed, carried } => {
                write!(f, "CRC {carried:#06x} carried, {computed:#06x} computed")
            }
            DxlError::NoErrorByte => write!(f, "status packet without its error byte"),
        }
    }
}

/// A packet as read (parameters unstuffed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The servo it is to, or from.
    pub id: u8,
    /// The instruction byte ([`Instruction`], or [`STATUS`]).
    pub instruction: u8,
    /// The parameters (of a status: the error byte, then the data).
    pub params: &'a [u8],
}

impl<'a> Packet<'a> {
    /// A status packet's error byte and data; `None` for an instruction packet.
    pub fn status(&self) -> Option<Result<(StatusError, &'a [u8]), DxlError>> {
        if self.instruction != STATUS {
            return None;
        }
        Some(match self.params.split_first() {
            Some((error, data)) => Ok((StatusError(*error), data)),
            None => Err(DxlError::NoErrorByte),
        })
    }
}

/// Writes a packet to servo `id` into `out`, stuffed and with its CRC; says how many
/// bytes it took.
pub fn encode(id: u8, instruction: u8, params: &[u8], out: &mut [u8]) -> Result<usize, DxlError> {
    if params.len() > MAX_PARAMS {
        return Err(DxlError::TooLong);
    }
    let mut w = Writer { out, len: 0 };
    for byte in HEADER {
        w.put(byte)?;
    }
    w.put(id)?;
    w.put(0)?; // the length, known after stuffing
    w.put(0)?;
    let body = w.len;
    for &byte in core::iter::once(&instruction).chain(params) {
        w.put(byte)?;
        // `FF FF FD` in the body would read as a header: an extra `FD` follows it.
        if w.len - body >= 3 && w.out[w.len - 3..w.len] == HEADER[..3] {
            w.put(0xFD)?;
        }
    }
    let length = (w.len - body + 2) as u16;
    w.out[5..7].copy_from_slice(&length.to_le_bytes());
    let crc = crc16(&w.out[..w.len]);
    for byte in crc.to_le_bytes() {
        w.put(byte)?;
    }
    Ok(w.len)
}

/// Writes a status packet: `error`, then `data`.
pub fn encode_status(
    id: u8,
    error: StatusError,
    data: &[u8],
    out: &mut [u8],
) -> Result<usize, DxlError> {
    encode(id, STATUS, &params(&[&[error.0], data])?, out)
}

/// Ping: servo `id` (or every servo, [`BROADCAST_ID`]) answers with its model number
/// (2 bytes) and firmware version.
pub fn ping(id: u8, out: &mut [u8]) -> Result<usize, DxlError> {
    encode(id, Instruction::Ping as u8, &[], out)
}

/// Read `length` bytes of servo `id`'s control table from `address`.
pub fn read(id: u8, address: u16, length: u16, out: &mut [u8]) -> Result<usize, DxlError> {
    let p = params(&[&address.to_le_bytes(), &length.to_le_bytes()])?;
    encode(id, Instruction::Read as u8, &p, out)
}

/// Write `data` to servo `id`'s control table at `address`.
pub fn write(id: u8, address: u16, data: &[u8], out: &mut [u8]) -> Result<usize, DxlError> {
    let p = params(&[&address.to_le_bytes(), data])?;
    encode(id, Instruction::Write as u8, &p, out)
}

/// Sync read: `length` bytes at `address` of each servo of `ids`, which answer in that
/// order, each with a status packet of its own.
pub fn sync_read(address: u16, length: u16, ids: &[u8], out: &mut [u8]) -> Result<usize, DxlError> {
    let p = params(&[&address.to_le_bytes(), &length.to_le_bytes(), ids])?;
    encode(BROADCAST_ID, Instruction::SyncRead as u8, &p, out)
}

/// Sync write: to each servo of `writes`, its bytes (all `length` long) at `address`.
/// None answers.
pub fn sync_write(
    address: u16,
    length: u16,
    writes: &[(u8, &[u8])],
    out: &mut [u8],
) -> Result<usize, DxlError> {
    let mut p = params(&[&address.to_le_bytes(), &length.to_le_bytes()])?;
    for (id, data) in writes {
        if data.len() != usize::from(length) {
            return Err(DxlError::BadLength(data.len() as u16));
        }
        p.push(*id).map_err(|_| DxlError::TooLong)?;
        p.extend_from_slice(data).map_err(|_| DxlError::TooLong)?;
    }
    encode(BROADCAST_ID, Instruction::SyncWrite as u8, &p, out)
}

/// The parameters made of `parts`, one after another.
fn params(parts: &[&[u8]]) -> Result<Vec<u8, MAX_PARAMS>, DxlError> {
    let mut p = Vec::new();
    for part in parts {
        p.extend_from_slice(part).map_err(|_| DxlError::TooLong)?;
    }
    Ok(p)
}

struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, byte: u8) -> Result<(), DxlError> {
        *self.out.get_mut(self.len).ok_or(DxlError::TooLong)? = byte;
        self.len += 1;
        Ok(())
    }
}

/// Finds packets in a byte stream: bytes before a header are skipped, a packet whose
/// length or CRC is wrong is dropped whole and reported. Bounded: it holds at most one
/// packet.
#[derive(Clone, Debug)]
pub struct PacketReader {
    buf: [u8; MAX_PACKET],
    len: usize,
    /// The unstuffed body (instruction and parameters) of the packet just read.
    body: usize,
    /// Bytes skipped looking for a header, since the reader was made.
    pub skipped: u64,
}

impl Default for PacketReader {
    fn default() -> Self {
        PacketReader {
            buf: [0; MAX_PACKET],
            len: 0,
            body: 0,
            skipped: 0,
        }
    }
}

impl PacketReader {
    /// Feeds one byte: `Some(Ok(()))` when it completed a packet (read it with
    /// [`PacketReader::packet`] before the next byte), `Some(Err(_))` when it completed
    /// a packet that is no good.
    pub fn push(&mut self, byte: u8) -> Option<Result<(), DxlError>> {
        if self.body > 0 {
            self.body = 0;
            self.len = 0;
        }
        self.buf[self.len] = byte;
        self.len += 1;
        // Looking for the header: keep the longest tail that could begin one.
        while self.len <= HEADER.len() && self.buf[..self.len] != HEADER[..self.len] {
            self.buf.copy_within(1..self.len, 0);
            self.len -= 1;
            self.skipped += 1;
        }
        if self.len < 7 {
            return None;
        }
        let length = u16::from_le_bytes([self.buf[5], self.buf[6]]);
        let total = 7 + usize::from(length);
        if length < 3 || total > MAX_PACKET {
            self.len = 0;
            return Some(Err(DxlError::BadLength(length)));
        }
        if self.len < total {
            return None;
        }
        let computed = crc16(&self.buf[..total - 2]);
        let carried = u16::from_le_bytes([self.buf[total - 2], self.buf[total - 1]]);
        if computed != carried {
            self.len = 0;
            return Some(Err(DxlError::Crc { computed, carried }));
        }
        self.body = unstuff(&mut self.buf[7..total - 2]);
        Some(Ok(()))
    }

    /// Forgets a packet begun: after a timeout, the next byte is looked at as the start of
    /// a new one (a reply cut short must not swallow the next).
    pub fn reset(&mut self) {
        self.len = 0;
        self.body = 0;
    }

    /// The packet the last byte completed.
    pub fn packet(&self) -> Option<Packet<'_>> {
        let body = self.buf.get(7..7 + self.body).filter(|b| !b.is_empty())?;
        Some(Packet {
            id: self.buf[4],
            instruction: body[0],
            params: &body[1..],
        })
    }
}

/// Removes the stuffing of `body` in place: the `FD` after each `FF FF FD`. Says how long
/// the unstuffed body is.
fn unstuff(body: &mut [u8]) -> usize {
    let mut kept = 0;
    // The last three bytes as sent (stuffing included), which the sender looked at.
    let mut last = [0u8; 3];
    for i in 0..body.len() {
        let byte = body[i];
        if !(i >= 3 && byte == 0xFD && last == [0xFF, 0xFF, 0xFD]) {
            body[kept] = byte;
            kept += 1;
        }
        last = [last[1], last[2], byte];
    }
    kept
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
    fn ping_is_the_manuals_bytes() {
        // ROBOTIS e-Manual, protocol 2.0: ping to id 1.
        let mut out = [0; 16];
        let n = ping(1, &mut out).expect("fits");
        assert_eq!(
            &out[..n],
            &[0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x03, 0x00, 0x01, 0x19, 0x4E]
        );
    }

    #[test]
    fn the_manuals_read_and_status_packets() {
        // ROBOTIS e-Manual: read present position (132, 4 bytes) of id 1, and its answer.
        let mut out = [0; 32];
        let n = read(1, 132, 4, &mut out).expect("fits");
        assert_eq!(
            &out[..n],
            &[
                0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x07, 0x00, 0x02, 0x84, 0x00, 0x04, 0x00, 0x1D, 0x15
            ]
        );
        let status = [
            0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x08, 0x00, 0x55, 0x00, 0xA6, 0x00, 0x00, 0x00, 0x8C,
            0xC0,
        ];
        let mut reader = PacketReader::default();
        let packet = read_all(&mut reader, &status).expect("a packet");
        let (error, data) = packet.status().expect("a status").expect("its error byte");
        assert!(error.is_ok());
        assert_eq!(data, &[0xA6, 0, 0, 0]);
    }

    #[test]
    fn a_header_in_the_parameters_is_stuffed_and_unstuffed() {
        let data = [0xFF, 0xFF, 0xFD, 0xFD, 0xFF, 0xFF, 0xFD];
        let mut out = [0; 64];
        let n = write(7, 116, &data, &mut out).expect("fits");
        // Two extra bytes, counted by the length.
        // Header, id, length; instruction, address, data; two stuffed bytes; CRC.
        assert_eq!(n, 7 + 1 + 2 + data.len() + 2 + 2);
        assert_eq!(u16::from_le_bytes([out[5], out[6]]) as usize, n - 7);
        let mut reader = PacketReader::default();
        let packet = read_all(&mut reader, &out[..n]).expect("a packet");
        assert_eq!(packet.id, 7);
        assert_eq!(packet.instruction, Instruction::Write as u8);
        assert_eq!(&packet.params[2..], &data);
    }

    #[test]
    fn noise_before_a_packet_is_skipped_and_a_bad_crc_reported() {
        let mut out = [0; 16];
        let n = ping(3, &mut out).expect("fits");
        let mut stream = [0u8; 32];
        stream[..4].copy_from_slice(&[0x00, 0xFF, 0xFF, 0x12]);
        stream[4..4 + n].copy_from_slice(&out[..n]);
        let mut reader = PacketReader::default();
        assert_eq!(
            read_all(&mut reader, &stream[..4 + n])
                .expect("a packet")
                .id,
            3
        );
        assert_eq!(reader.skipped, 4);
        out[n - 1] ^= 1;
        let results: heapless::Vec<_, 16> =
            out[..n].iter().filter_map(|b| reader.push(*b)).collect();
        assert!(matches!(results[..], [Err(DxlError::Crc { .. })]));
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
    fn sync_write_and_read_lay_out_their_servos() {
        let mut out = [0; 64];
        let goal_a = 2048u32.to_le_bytes();
        let goal_b = 1024u32.to_le_bytes();
        let n = sync_write(116, 4, &[(1, &goal_a), (2, &goal_b)], &mut out).expect("fits");
        let mut reader = PacketReader::default();
        let packet = read_all(&mut reader, &out[..n]).expect("a packet");
        assert_eq!(packet.id, BROADCAST_ID);
        assert_eq!(packet.params, &[116, 0, 4, 0, 1, 0, 8, 0, 0, 2, 0, 4, 0, 0]);
        assert_eq!(
            sync_write(116, 4, &[(1, &[0, 0])], &mut out),
            Err(DxlError::BadLength(2))
        );
        let n = sync_read(132, 4, &[1, 2, 3], &mut out).expect("fits");
        let packet = read_all(&mut reader, &out[..n]).expect("a packet");
        assert_eq!(packet.instruction, Instruction::SyncRead as u8);
        assert_eq!(packet.params, &[132, 0, 4, 0, 1, 2, 3]);
    }

    #[test]
    fn the_error_byte_names_its_fault() {
        assert!(StatusError(0x80).alert());
        assert_eq!(StatusError(0x80).code(), None);
        assert_eq!(StatusError(0x83).code(), Some(StatusCode::Crc));
        assert!(!StatusError(0x07).is_ok());
        assert_eq!(Instruction::from_byte(0x83), Some(Instruction::SyncWrite));
        assert_eq!(Instruction::from_byte(0x55), None);
    }

    #[test]
    fn a_p_gain_of_800_reaches_full_pwm_at_12_5_degrees() {
        // 885 / (800 / 128) = 141.6 counts of 4096 a turn.
        let full_torque_at = 1.0 / x_series::stiffness_per_nm(800);
        assert!((full_torque_at.to_degrees() - 141.6 * 360.0 / 4096.0).abs() < 1e-9);
        assert!((full_torque_at.to_degrees() - 12.45).abs() < 0.01);
    }
}
