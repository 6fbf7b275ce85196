//! CANopen (CiA 301) as a CiA 402 drive and its master speak it on a classic CAN bus:
//! which service a frame belongs to ([`Message::classify`]), NMT commands and states,
//! heartbeats, SYNC, emergencies, the SDO protocol's requests and responses (expedited
//! and segmented transfers, aborts) and PDO mapping entries. [`cia402`] holds the drive
//! profile: controlword commands, the statusword's states, the device state machine and
//! the modes of operation. Both sides are here, so the host's master, the bridge
//! firmware's and a simulated drive share one codec. Total: bad bytes are an error, never
//! a panic.

use serde::{Deserialize, Serialize};

use crate::can::{CanFrame, CanId};

/// NMT commands go to this identifier, `[command, node]` (node 0: every node).
pub const NMT_ID: u16 = 0x000;
/// SYNC: the cycle's start, no data.
pub const SYNC_ID: u16 = 0x080;
/// Emergencies go to this base plus the node id.
pub const EMCY_BASE: u16 = 0x080;
/// TPDO1–4 (drive → master) go to these bases plus the node id.
pub const TPDO_BASE: [u16; 4] = [0x180, 0x280, 0x380, 0x480];
/// RPDO1–4 (master → drive) go to these bases plus the node id.
pub const RPDO_BASE: [u16; 4] = [0x200, 0x300, 0x400, 0x500];
/// SDO responses (server → client) go to this base plus the node id.
pub const SDO_RESPONSE_BASE: u16 = 0x580;
/// SDO requests (client → server) go to this base plus the node id.
pub const SDO_REQUEST_BASE: u16 = 0x600;
/// Heartbeats (and the boot-up message) go to this base plus the node id.
pub const HEARTBEAT_BASE: u16 = 0x700;

/// The highest node id.
pub const MAX_NODE: u8 = 127;

/// The frame a node sends to `base` (base + node id, a standard identifier).
pub fn frame_to(base: u16, node: u8, data: &[u8]) -> CanFrame {
    let id = CanId::Standard((base + u16::from(node & 0x7F)) & 0x7FF);
    // At most eight bytes by every caller's type; an empty frame otherwise.
    CanFrame::new(id, data).unwrap_or_else(|_| CanFrame::fixed(id, []))
}

/// Why a frame is not a CANopen message embody takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanopenError {
    /// An extended identifier: CANopen's predefined connection set uses standard ones.
    ExtendedId(u32),
    /// A remote request (CANopen's node guarding; not supported).
    Remote(u16),
    /// An identifier outside the predefined connection set.
    UnknownId(u16),
    /// The service's data is not this long.
    Length {
        /// The service.
        service: &'static str,
        /// Its data length.
        got: usize,
    },
    /// An NMT command byte or heartbeat state that CiA 301 does not define.
    UnknownCode {
        /// The service.
        service: &'static str,
        /// The byte.
        code: u8,
    },
    /// An SDO command specifier that is not one of the transfers supported (block
    /// transfers are not).
    SdoCommand(u8),
}

impl core::fmt::Display for CanopenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CanopenError::ExtendedId(id) => write!(f, "extended identifier {id:#x}"),
            CanopenError::Remote(id) => write!(f, "remote request on {id:#x}"),
            CanopenError::UnknownId(id) => {
                write!(f, "identifier {id:#x} is outside the predefined set")
            }
            CanopenError::Length { service, got } => {
                write!(f, "{service} with {got} data bytes")
            }
            CanopenError::UnknownCode { service, code } => {
                write!(f, "{service} code {code:#04x} is not defined")
            }
            CanopenError::SdoCommand(cs) => {
                write!(f, "SDO command specifier {cs:#04x} is not supported")
            }
        }
    }
}

/// NMT commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NmtCommand {
    /// To operational: PDOs flow.
    Start = 0x01,
    /// To stopped: only NMT and heartbeats.
    Stop = 0x02,
    /// To pre-operational: SDOs, no PDOs.
    EnterPreOperational = 0x80,
    /// Reset the application (the object dictionary to its defaults).
    ResetNode = 0x81,
    /// Reset the communication objects.
    ResetCommunication = 0x82,
}

impl NmtCommand {
    /// The command of byte `b`.
    pub fn from_byte(b: u8) -> Option<NmtCommand> {
        Some(match b {
            0x01 => NmtCommand::Start,
            0x02 => NmtCommand::Stop,
            0x80 => NmtCommand::EnterPreOperational,
            0x81 => NmtCommand::ResetNode,
            0x82 => NmtCommand::ResetCommunication,
            _ => return None,
        })
    }

    /// The frame sending it to `node` (0: every node).
    pub fn frame(self, node: u8) -> CanFrame {
        CanFrame::fixed(CanId::Standard(NMT_ID), [self as u8, node])
    }
}

/// A node's NMT state, as its heartbeat carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NmtState {
    /// The boot-up message: the node has just started (it is then pre-operational).
    BootUp = 0x00,
    /// Stopped.
    Stopped = 0x04,
    /// Operational.
    Operational = 0x05,
    /// Pre-operational.
    PreOperational = 0x7F,
}

impl NmtState {
    /// The state of heartbeat byte `b` (its toggle bit, 7, ignored).
    pub fn from_byte(b: u8) -> Option<NmtState> {
        Some(match b & 0x7F {
            0x00 => NmtState::BootUp,
            0x04 => NmtState::Stopped,
            0x05 => NmtState::Operational,
            0x7F => NmtState::PreOperational,
            _ => return None,
        })
    }

    /// The heartbeat `node` sends in this state.
    pub fn heartbeat(self, node: u8) -> CanFrame {
        frame_to(HEARTBEAT_BASE, node, &[self as u8])
    }
}

/// An emergency message: CiA 301's error code, the error register (0x1001) and five
/// manufacturer bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emergency {
    /// The error code (0x0000: the error is gone).
    pub code: u16,
    /// The error register, 0x1001.
    pub register: u8,
    /// Manufacturer-specific bytes.
    pub vendor: [u8; 5],
}

/// Emergency error codes a drive sends (CiA 301 and 402).
pub mod emcy {
    /// No error (any longer).
    pub const NO_ERROR: u16 = 0x0000;
    /// Continuous over-current.
    pub const OVER_CURRENT: u16 = 0x2310;
    /// DC link over-voltage.
    pub const OVER_VOLTAGE: u16 = 0x3210;
    /// Excess temperature, device.
    pub const OVER_TEMPERATURE: u16 = 0x4210;
    /// Heartbeat or life-guard error: a node the drive consumes fell silent.
    pub const HEARTBEAT: u16 = 0x8130;
    /// Following error: the motor could not follow the target.
    pub const FOLLOWING_ERROR: u16 = 0x8611;
    /// Error register bit: generic error (set with any other).
    pub const REGISTER_GENERIC: u8 = 0x01;
    /// Error register bit: current.
    pub const REGISTER_CURRENT: u8 = 0x02;
    /// Error register bit: voltage.
    pub const REGISTER_VOLTAGE: u8 = 0x04;
    /// Error register bit: temperature.
    pub const REGISTER_TEMPERATURE: u8 = 0x08;
    /// Error register bit: communication.
    pub const REGISTER_COMMUNICATION: u8 = 0x10;
}

impl Emergency {
    /// The frame `node` sends it in.
    pub fn frame(&self, node: u8) -> CanFrame {
        let [lo, hi] = self.code.to_le_bytes();
        let v = self.vendor;
        frame_to(
            EMCY_BASE,
            node,
            &[lo, hi, self.register, v[0], v[1], v[2], v[3], v[4]],
        )
    }

    /// The emergency in `data` (eight bytes).
    pub fn decode(data: &[u8]) -> Result<Emergency, CanopenError> {
        let d: &[u8; 8] = data.try_into().map_err(|_| CanopenError::Length {
            service: "emergency",
            got: data.len(),
        })?;
        Ok(Emergency {
            code: u16::from_le_bytes([d[0], d[1]]),
            register: d[2],
            vendor: [d[3], d[4], d[5], d[6], d[7]],
        })
    }
}

/// An SDO abort code (CiA 301): why a transfer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortCode(pub u32);

impl AbortCode {
    /// The toggle bit did not alternate.
    pub const TOGGLE: AbortCode = AbortCode(0x0503_0000);
    /// The SDO protocol timed out.
    pub const TIMEOUT: AbortCode = AbortCode(0x0504_0000);
    /// The command specifier is not valid or unknown.
    pub const COMMAND: AbortCode = AbortCode(0x0504_0001);
    /// Unsupported access to an object.
    pub const UNSUPPORTED_ACCESS: AbortCode = AbortCode(0x0601_0000);
    /// Reading a write-only object.
    pub const WRITE_ONLY: AbortCode = AbortCode(0x0601_0001);
    /// Writing a read-only object.
    pub const READ_ONLY: AbortCode = AbortCode(0x0601_0002);
    /// The object does not exist in the dictionary.
    pub const NO_OBJECT: AbortCode = AbortCode(0x0602_0000);
    /// The object cannot be mapped to a PDO.
    pub const NOT_MAPPABLE: AbortCode = AbortCode(0x0604_0041);
    /// The objects mapped would not fit the PDO.
    pub const PDO_TOO_LONG: AbortCode = AbortCode(0x0604_0042);
    /// The data's length does not match the object's.
    pub const LENGTH: AbortCode = AbortCode(0x0607_0010);
    /// The sub-index does not exist.
    pub const NO_SUB_INDEX: AbortCode = AbortCode(0x0609_0011);
    /// The value is out of the object's range.
    pub const INVALID_VALUE: AbortCode = AbortCode(0x0609_0030);
    /// General error.
    pub const GENERAL: AbortCode = AbortCode(0x0800_0000);
    /// The data cannot be stored in the device's present state.
    pub const DEVICE_STATE: AbortCode = AbortCode(0x0800_0022);

    /// What the code means, for an error message.
    pub fn describe(self) -> &'static str {
        match self {
            AbortCode::TOGGLE => "toggle bit not alternated",
            AbortCode::TIMEOUT => "SDO protocol timed out",
            AbortCode::COMMAND => "command specifier not valid",
            AbortCode::UNSUPPORTED_ACCESS => "unsupported access to the object",
            AbortCode::WRITE_ONLY => "the object is write-only",
            AbortCode::READ_ONLY => "the object is read-only",
            AbortCode::NO_OBJECT => "no such object in the dictionary",
            AbortCode::NOT_MAPPABLE => "the object cannot be mapped to a PDO",
            AbortCode::PDO_TOO_LONG => "the mapped objects exceed the PDO's 8 bytes",
            AbortCode::LENGTH => "the data's length does not match the object's",
            AbortCode::NO_SUB_INDEX => "no such sub-index",
            AbortCode::INVALID_VALUE => "value out of range",
            AbortCode::GENERAL => "general error",
            AbortCode::DEVICE_STATE => "not in the device's present state",
            _ => "unknown abort code",
        }
    }
}

impl core::fmt::Display for AbortCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#010x} ({})", self.0, self.describe())
    }
}

/// An object's address in the dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    /// The 16-bit index.
    pub index: u16,
    /// The sub-index.
    pub sub: u8,
}

impl Address {
    /// Object `index`, sub-index `sub`.
    pub const fn new(index: u16, sub: u8) -> Address {
        Address { index, sub }
    }

    fn bytes(self) -> [u8; 3] {
        let [lo, hi] = self.index.to_le_bytes();
        [lo, hi, self.sub]
    }

    fn of(d: &[u8; 8]) -> Address {
        Address::new(u16::from_le_bytes([d[1], d[2]]), d[3])
    }
}

impl core::fmt::Display for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#06x}:{}", self.index, self.sub)
    }
}

/// Up to four bytes an expedited transfer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expedited {
    bytes: [u8; 4],
    len: u8,
}

impl Expedited {
    /// `data`'s first four bytes at most (one at least to be sent expedited).
    pub fn new(data: &[u8]) -> Expedited {
        let len = data.len().min(4);
        let mut bytes = [0u8; 4];
        bytes[..len].copy_from_slice(&data[..len]);
        Expedited {
            bytes,
            len: len as u8,
        }
    }

    /// The bytes.
    pub fn data(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The bytes as a little-endian unsigned integer (zero-extended).
    pub fn as_u32(&self) -> u32 {
        u32::from_le_bytes(self.bytes)
    }
}

/// Up to seven bytes a segment carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The toggle bit: 0 on the first segment, alternating.
    pub toggle: bool,
    /// The last segment of the transfer.
    pub last: bool,
    bytes: [u8; 7],
    len: u8,
}

impl Segment {
    /// A segment of `data`'s first seven bytes at most.
    pub fn new(toggle: bool, last: bool, data: &[u8]) -> Segment {
        let len = data.len().min(7);
        let mut bytes = [0u8; 7];
        bytes[..len].copy_from_slice(&data[..len]);
        Segment {
            toggle,
            last,
            bytes,
            len: len as u8,
        }
    }

    /// The bytes.
    pub fn data(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Command byte with `base` (the specifier's bits): toggle, unused count, last.
    fn command(&self, base: u8) -> u8 {
        base | (u8::from(self.toggle) << 4) | ((7 - self.len) << 1) | u8::from(self.last)
    }

    fn encode(&self, base: u8) -> [u8; 8] {
        let mut d = [0u8; 8];
        d[0] = self.command(base);
        d[1..8].copy_from_slice(&self.bytes);
        d
    }

    fn decode(d: &[u8; 8]) -> Segment {
        let unused = usize::from((d[0] >> 1) & 0x07);
        Segment::new(d[0] & 0x10 != 0, d[0] & 0x01 != 0, &d[1..8 - unused])
    }
}

/// What an SDO client (the master) asks a server (the drive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdoRequest {
    /// Write up to four bytes in one frame.
    DownloadExpedited(Address, Expedited),
    /// Start a segmented write of `size` bytes (if said).
    DownloadInitiate(Address, Option<u32>),
    /// One segment of a segmented write.
    DownloadSegment(Segment),
    /// Read an object.
    UploadInitiate(Address),
    /// The next segment of a segmented read.
    UploadSegment {
        /// The toggle bit.
        toggle: bool,
    },
    /// Abort the transfer.
    Abort(Address, AbortCode),
}

/// What an SDO server (the drive) answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdoResponse {
    /// The write (expedited or the start of a segmented one) is taken.
    DownloadInitiated(Address),
    /// A segment of a write is taken.
    DownloadSegmentTaken {
        /// The toggle bit of the segment taken.
        toggle: bool,
    },
    /// The object's value, up to four bytes, in one frame.
    UploadExpedited(Address, Expedited),
    /// The object's value follows in segments: `size` bytes (if said).
    UploadInitiated(Address, Option<u32>),
    /// One segment of a read.
    UploadSegment(Segment),
    /// The transfer is aborted.
    Abort(Address, AbortCode),
}

fn sdo_bytes(data: &[u8], service: &'static str) -> Result<[u8; 8], CanopenError> {
    data.try_into().map_err(|_| CanopenError::Length {
        service,
        got: data.len(),
    })
}

fn with_address(cs: u8, address: Address, rest: [u8; 4]) -> [u8; 8] {
    let a = address.bytes();
    [cs, a[0], a[1], a[2], rest[0], rest[1], rest[2], rest[3]]
}

/// An initiate's command byte for `data`: `base` | size in the unused count, expedited,
/// size indicated.
fn expedited_command(base: u8, data: &Expedited) -> u8 {
    // No bytes cannot be said expedited: taken as one (a server sends them segmented).
    base | ((4 - data.len.max(1)) << 2) | 0x03
}

/// The expedited data of an initiate frame: its size if indicated, else all four bytes.
fn expedited_of(d: &[u8; 8]) -> Expedited {
    let len = if d[0] & 0x01 != 0 {
        4 - usize::from((d[0] >> 2) & 0x03)
    } else {
        4
    };
    Expedited::new(&d[4..4 + len])
}

fn size_of(d: &[u8; 8]) -> Option<u32> {
    (d[0] & 0x01 != 0).then(|| u32::from_le_bytes([d[4], d[5], d[6], d[7]]))
}

fn size_bytes(size: Option<u32>) -> (u8, [u8; 4]) {
    match size {
        Some(n) => (0x01, n.to_le_bytes()),
        None => (0x00, [0; 4]),
    }
}

impl SdoRequest {
    /// The eight data bytes.
    pub fn encode(&self) -> [u8; 8] {
        match self {
            SdoRequest::DownloadExpedited(a, data) => {
                let mut rest = [0u8; 4];
                rest[..data.data().len()].copy_from_slice(data.data());
                with_address(expedited_command(0x20, data), *a, rest)
            }
            SdoRequest::DownloadInitiate(a, size) => {
                let (s, rest) = size_bytes(*size);
                with_address(0x20 | s, *a, rest)
            }
            SdoRequest::DownloadSegment(segment) => segment.encode(0x00),
            SdoRequest::UploadInitiate(a) => with_address(0x40, *a, [0; 4]),
            SdoRequest::UploadSegment { toggle } => {
                [0x60 | (u8::from(*toggle) << 4), 0, 0, 0, 0, 0, 0, 0]
            }
            SdoRequest::Abort(a, code) => with_address(0x80, *a, code.0.to_le_bytes()),
        }
    }

    /// The frame sending it to `node`.
    pub fn frame(&self, node: u8) -> CanFrame {
        frame_to(SDO_REQUEST_BASE, node, &self.encode())
    }

    /// The request in an SDO request frame's data (eight bytes).
    pub fn decode(data: &[u8]) -> Result<SdoRequest, CanopenError> {
        let d = sdo_bytes(data, "SDO request")?;
        Ok(match d[0] >> 5 {
            0 => SdoRequest::DownloadSegment(Segment::decode(&d)),
            1 if d[0] & 0x02 != 0 => {
                SdoRequest::DownloadExpedited(Address::of(&d), expedited_of(&d))
            }
            1 => SdoRequest::DownloadInitiate(Address::of(&d), size_of(&d)),
            2 => SdoRequest::UploadInitiate(Address::of(&d)),
            3 => SdoRequest::UploadSegment {
                toggle: d[0] & 0x10 != 0,
            },
            4 => SdoRequest::Abort(
                Address::of(&d),
                AbortCode(u32::from_le_bytes([d[4], d[5], d[6], d[7]])),
            ),
            _ => return Err(CanopenError::SdoCommand(d[0])),
        })
    }
}

impl SdoResponse {
    /// The eight data bytes.
    pub fn encode(&self) -> [u8; 8] {
        match self {
            SdoResponse::DownloadInitiated(a) => with_address(0x60, *a, [0; 4]),
            SdoResponse::DownloadSegmentTaken { toggle } => {
                [0x20 | (u8::from(*toggle) << 4), 0, 0, 0, 0, 0, 0, 0]
            }
            SdoResponse::UploadExpedited(a, data) => {
                let mut rest = [0u8; 4];
                rest[..data.data().len()].copy_from_slice(data.data());
                with_address(expedited_command(0x40, data), *a, rest)
            }
            SdoResponse::UploadInitiated(a, size) => {
                let (s, rest) = size_bytes(*size);
                with_address(0x40 | s, *a, rest)
            }
            SdoResponse::UploadSegment(segment) => segment.encode(0x00),
            SdoResponse::Abort(a, code) => with_address(0x80, *a, code.0.to_le_bytes()),
        }
    }

    /// The frame `node` answers in.
    pub fn frame(&self, node: u8) -> CanFrame {
        frame_to(SDO_RESPONSE_BASE, node, &self.encode())
    }

    /// The response in an SDO response frame's data (eight bytes).
    pub fn decode(data: &[u8]) -> Result<SdoResponse, CanopenError> {
        let d = sdo_bytes(data, "SDO response")?;
        Ok(match d[0] >> 5 {
            0 => SdoResponse::UploadSegment(Segment::decode(&d)),
            1 => SdoResponse::DownloadSegmentTaken {
                toggle: d[0] & 0x10 != 0,
            },
            2 if d[0] & 0x02 != 0 => {
                SdoResponse::UploadExpedited(Address::of(&d), expedited_of(&d))
            }
            2 => SdoResponse::UploadInitiated(Address::of(&d), size_of(&d)),
            3 => SdoResponse::DownloadInitiated(Address::of(&d)),
            4 => SdoResponse::Abort(
                Address::of(&d),
                AbortCode(u32::from_le_bytes([d[4], d[5], d[6], d[7]])),
            ),
            _ => return Err(CanopenError::SdoCommand(d[0])),
        })
    }
}

/// A CANopen message, by the service its identifier names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// An NMT command to `node` (0: all).
    Nmt {
        /// The command.
        command: NmtCommand,
        /// The node (0: every node).
        node: u8,
    },
    /// SYNC.
    Sync,
    /// An emergency from `node`.
    Emergency {
        /// The sender.
        node: u8,
        /// What it says.
        emergency: Emergency,
    },
    /// A transmit PDO (`pdo` 0–3) from `node`.
    Tpdo {
        /// Which of TPDO1–4, from 0.
        pdo: u8,
        /// The sender.
        node: u8,
        /// The mapped bytes.
        data: &'a [u8],
    },
    /// A receive PDO (`pdo` 0–3) to `node`.
    Rpdo {
        /// Which of RPDO1–4, from 0.
        pdo: u8,
        /// The receiver.
        node: u8,
        /// The mapped bytes.
        data: &'a [u8],
    },
    /// An SDO request to `node`.
    SdoRequest {
        /// The server.
        node: u8,
        /// What it asks.
        request: SdoRequest,
    },
    /// An SDO response from `node`.
    SdoResponse {
        /// The server.
        node: u8,
        /// What it answers.
        response: SdoResponse,
    },
    /// A heartbeat (or boot-up) from `node`.
    Heartbeat {
        /// The sender.
        node: u8,
        /// Its NMT state.
        state: NmtState,
    },
}

impl<'a> Message<'a> {
    /// The message `frame` carries, by the predefined connection set.
    pub fn classify(frame: &'a CanFrame) -> Result<Message<'a>, CanopenError> {
        let id = match frame.id() {
            CanId::Standard(id) => id,
            CanId::Extended(id) => return Err(CanopenError::ExtendedId(id)),
        };
        if frame.is_remote() {
            return Err(CanopenError::Remote(id));
        }
        let data = frame.data();
        let node = (id & 0x7F) as u8;
        let function = id & !0x7F;
        let length = |service, want: usize| {
            if data.len() == want {
                Ok(())
            } else {
                Err(CanopenError::Length {
                    service,
                    got: data.len(),
                })
            }
        };
        Ok(match (function, node) {
            (NMT_ID, 0) => {
                length("NMT", 2)?;
                let command = NmtCommand::from_byte(data[0]).ok_or(CanopenError::UnknownCode {
                    service: "NMT",
                    code: data[0],
                })?;
                Message::Nmt {
                    command,
                    node: data[1],
                }
            }
            (SYNC_ID, 0) => Message::Sync,
            (EMCY_BASE, _) => Message::Emergency {
                node,
                emergency: Emergency::decode(data)?,
            },
            (SDO_REQUEST_BASE, 1..) => Message::SdoRequest {
                node,
                request: SdoRequest::decode(data)?,
            },
            (SDO_RESPONSE_BASE, 1..) => Message::SdoResponse {
                node,
                response: SdoResponse::decode(data)?,
            },
            (HEARTBEAT_BASE, 1..) => {
                length("heartbeat", 1)?;
                let state = NmtState::from_byte(data[0]).ok_or(CanopenError::UnknownCode {
                    service: "heartbeat",
                    code: data[0],
                })?;
                Message::Heartbeat { node, state }
            }
            (_, 1..) => {
                if let Some(pdo) = TPDO_BASE.iter().position(|&b| b == function) {
                    Message::Tpdo {
                        pdo: pdo as u8,
                        node,
                        data,
                    }
                } else if let Some(pdo) = RPDO_BASE.iter().position(|&b| b == function) {
                    Message::Rpdo {
                        pdo: pdo as u8,
                        node,
                        data,
                    }
                } else {
                    return Err(CanopenError::UnknownId(id));
                }
            }
            _ => return Err(CanopenError::UnknownId(id)),
        })
    }
}

/// The SYNC frame.
pub fn sync_frame() -> CanFrame {
    CanFrame::fixed(CanId::Standard(SYNC_ID), [])
}

/// PDO communication and mapping parameters (CiA 301).
pub mod pdo {
    use super::Address;

    /// RPDO communication parameters: 0x1400 + n.
    pub const RPDO_COMMUNICATION: u16 = 0x1400;
    /// RPDO mapping parameters: 0x1600 + n.
    pub const RPDO_MAPPING: u16 = 0x1600;
    /// TPDO communication parameters: 0x1800 + n.
    pub const TPDO_COMMUNICATION: u16 = 0x1800;
    /// TPDO mapping parameters: 0x1A00 + n.
    pub const TPDO_MAPPING: u16 = 0x1A00;
    /// The COB-ID's bit saying the PDO is not valid (off).
    pub const COB_ID_INVALID: u32 = 1 << 31;
    /// The COB-ID's bit saying no remote request is allowed.
    pub const COB_ID_NO_RTR: u32 = 1 << 30;
    /// Transmission type: every SYNC (1–240: every n-th).
    pub const EVERY_SYNC: u8 = 1;
    /// Transmission type: event-driven, manufacturer-specific.
    pub const EVENT_VENDOR: u8 = 254;
    /// Transmission type: event-driven, device profile.
    pub const EVENT_PROFILE: u8 = 255;
    /// Most objects one PDO maps.
    pub const MAX_ENTRIES: usize = 8;

    /// A mapping entry: the object and its length in bits.
    pub const fn entry(object: Address, bits: u8) -> u32 {
        ((object.index as u32) << 16) | ((object.sub as u32) << 8) | bits as u32
    }

    /// The object and bit length of a mapping entry.
    pub const fn parse_entry(entry: u32) -> (Address, u8) {
        (
            Address::new((entry >> 16) as u16, (entry >> 8) as u8),
            entry as u8,
        )
    }
}

/// The CiA 402 drive profile: controlword commands, the statusword's states, the device
/// state machine and the modes of operation.
pub mod cia402 {
    use serde::{Deserialize, Serialize};

    use super::Address;

    /// Controlword, u16.
    pub const CONTROLWORD: Address = Address::new(0x6040, 0);
    /// Statusword, u16.
    pub const STATUSWORD: Address = Address::new(0x6041, 0);
    /// Modes of operation, i8.
    pub const MODES_OF_OPERATION: Address = Address::new(0x6060, 0);
    /// Modes of operation display, i8.
    pub const MODES_OF_OPERATION_DISPLAY: Address = Address::new(0x6061, 0);
    /// Position actual value, i32, encoder increments.
    pub const POSITION_ACTUAL: Address = Address::new(0x6064, 0);
    /// Velocity actual value, i32, increments a second.
    pub const VELOCITY_ACTUAL: Address = Address::new(0x606C, 0);
    /// Torque actual value, i16, thousandths of the rated torque.
    pub const TORQUE_ACTUAL: Address = Address::new(0x6077, 0);
    /// Target position, i32, increments (CSP).
    pub const TARGET_POSITION: Address = Address::new(0x607A, 0);
    /// Target velocity, i32, increments a second (CSV).
    pub const TARGET_VELOCITY: Address = Address::new(0x60FF, 0);
    /// Target torque, i16, thousandths of the rated torque (CST).
    pub const TARGET_TORQUE: Address = Address::new(0x6071, 0);
    /// Motor rated torque, u32, mN·m.
    pub const MOTOR_RATED_TORQUE: Address = Address::new(0x6076, 0);
    /// Error code, u16: the last emergency's.
    pub const ERROR_CODE: Address = Address::new(0x603F, 0);
    /// Supported drive modes, u32: bit `mode - 1` for each mode.
    pub const SUPPORTED_DRIVE_MODES: Address = Address::new(0x6502, 0);
    /// Device type 0x1000 of a servo drive: profile 402, servo.
    pub const DEVICE_TYPE_SERVO: u32 = 0x0002_0192;

    /// Controlword: shutdown (→ ready to switch on).
    pub const SHUTDOWN: u16 = 0x0006;
    /// Controlword: switch on (→ switched on); also disable operation.
    pub const SWITCH_ON: u16 = 0x0007;
    /// Controlword: switch on and enable operation (→ operation enabled).
    pub const ENABLE_OPERATION: u16 = 0x000F;
    /// Controlword: disable voltage (→ switch on disabled).
    pub const DISABLE_VOLTAGE: u16 = 0x0000;
    /// Controlword: quick stop (→ quick stop active).
    pub const QUICK_STOP: u16 = 0x0002;
    /// Controlword: fault reset, on the rising edge of this bit.
    pub const FAULT_RESET: u16 = 0x0080;
    /// Controlword bit: halt.
    pub const HALT: u16 = 0x0100;

    /// Statusword bit: voltage enabled.
    pub const STATUS_VOLTAGE_ENABLED: u16 = 1 << 4;
    /// Statusword bit: quick stop (active low: set when no quick stop).
    pub const STATUS_QUICK_STOP: u16 = 1 << 5;
    /// Statusword bit: warning.
    pub const STATUS_WARNING: u16 = 1 << 7;
    /// Statusword bit: remote (the controlword is obeyed).
    pub const STATUS_REMOTE: u16 = 1 << 9;
    /// Statusword bit: target reached.
    pub const STATUS_TARGET_REACHED: u16 = 1 << 10;
    /// Statusword bit, cyclic modes: the drive follows the targets.
    pub const STATUS_FOLLOWING: u16 = 1 << 12;
    /// Statusword bit, cyclic modes: following error.
    pub const STATUS_FOLLOWING_ERROR: u16 = 1 << 13;

    /// The device states of the CiA 402 state machine.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum State {
        /// Initialising.
        NotReadyToSwitchOn,
        /// Power stage off; the start of the sequence.
        SwitchOnDisabled,
        /// Ready to switch on.
        ReadyToSwitchOn,
        /// Power stage on, no torque.
        SwitchedOn,
        /// Following targets.
        OperationEnabled,
        /// Stopping on the quick-stop ramp.
        QuickStopActive,
        /// Reacting to a fault.
        FaultReactionActive,
        /// Faulted; a fault reset leaves it.
        Fault,
    }

    impl State {
        /// The state a statusword says, by CiA 402's masks.
        pub fn from_statusword(status: u16) -> Option<State> {
            Some(match (status & 0x4F, status & 0x6F) {
                (0x00, _) => State::NotReadyToSwitchOn,
                (0x40, _) => State::SwitchOnDisabled,
                (_, 0x21) => State::ReadyToSwitchOn,
                (_, 0x23) => State::SwitchedOn,
                (_, 0x27) => State::OperationEnabled,
                (_, 0x07) => State::QuickStopActive,
                (0x0F, _) => State::FaultReactionActive,
                (0x08, _) => State::Fault,
                _ => return None,
            })
        }

        /// The statusword's state bits (0–3, 5, 6) for this state.
        pub const fn status_bits(self) -> u16 {
            match self {
                State::NotReadyToSwitchOn => 0x00,
                State::SwitchOnDisabled => 0x40,
                State::ReadyToSwitchOn => 0x21,
                State::SwitchedOn => 0x23,
                State::OperationEnabled => 0x27,
                State::QuickStopActive => 0x07,
                State::FaultReactionActive => 0x0F,
                State::Fault => 0x08,
            }
        }

        /// The controlword that moves a drive in this state one step toward operation
        /// enabled (a fault reset alternates with 0 for its rising edge: `previous` is
        /// the controlword sent last).
        pub const fn toward_enabled(self, previous: u16) -> u16 {
            match self {
                State::Fault | State::FaultReactionActive => {
                    if previous & FAULT_RESET != 0 {
                        DISABLE_VOLTAGE
                    } else {
                        FAULT_RESET
                    }
                }
                State::NotReadyToSwitchOn | State::SwitchOnDisabled => SHUTDOWN,
                State::ReadyToSwitchOn => SWITCH_ON,
                State::SwitchedOn | State::OperationEnabled => ENABLE_OPERATION,
                State::QuickStopActive => DISABLE_VOLTAGE,
            }
        }

        /// Whether the drive applies torque in this state.
        pub const fn is_enabled(self) -> bool {
            matches!(self, State::OperationEnabled | State::QuickStopActive)
        }
    }

    /// The device command a controlword gives (CiA 402's table), if any.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Command {
        /// Shutdown.
        Shutdown,
        /// Switch on (or disable operation).
        SwitchOn,
        /// Switch on and enable operation.
        EnableOperation,
        /// Disable voltage.
        DisableVoltage,
        /// Quick stop.
        QuickStop,
    }

    impl Command {
        /// The command of `controlword` (fault reset is an edge, see [`transition`]).
        pub const fn of(controlword: u16) -> Option<Command> {
            if controlword & FAULT_RESET != 0 {
                return None;
            }
            if controlword & 0x02 == 0 {
                Some(Command::DisableVoltage)
            } else if controlword & 0x06 == 0x02 {
                Some(Command::QuickStop)
            } else if controlword & 0x01 == 0 {
                Some(Command::Shutdown)
            } else if controlword & 0x08 == 0 {
                Some(Command::SwitchOn)
            } else {
                Some(Command::EnableOperation)
            }
        }
    }

    /// The drive's next state on `controlword` (`previous` the one before it, for the
    /// fault reset's rising edge), the device state machine of CiA 402. A quick stop
    /// ends in switch on disabled once the drive has stopped ([`State::QuickStopActive`]
    /// is left by the drive, not here); faults enter through the drive.
    pub const fn transition(state: State, controlword: u16, previous: u16) -> State {
        let reset = controlword & FAULT_RESET != 0 && previous & FAULT_RESET == 0;
        match (state, Command::of(controlword)) {
            (State::Fault, _) if reset => State::SwitchOnDisabled,
            (State::Fault | State::FaultReactionActive | State::NotReadyToSwitchOn, _) => state,
            (_, None) => state,
            (State::QuickStopActive, Some(Command::DisableVoltage)) => State::SwitchOnDisabled,
            (State::QuickStopActive, Some(Command::EnableOperation)) => State::OperationEnabled,
            (State::QuickStopActive, _) => state,
            (_, Some(Command::DisableVoltage)) => State::SwitchOnDisabled,
            (State::OperationEnabled, Some(Command::QuickStop)) => State::QuickStopActive,
            (_, Some(Command::QuickStop)) => State::SwitchOnDisabled,
            (State::SwitchOnDisabled, Some(Command::Shutdown)) => State::ReadyToSwitchOn,
            (State::SwitchOnDisabled, _) => state,
            (_, Some(Command::Shutdown)) => State::ReadyToSwitchOn,
            (State::ReadyToSwitchOn | State::OperationEnabled, Some(Command::SwitchOn)) => {
                State::SwitchedOn
            }
            (State::ReadyToSwitchOn | State::SwitchedOn, Some(Command::EnableOperation)) => {
                State::OperationEnabled
            }
            _ => state,
        }
    }

    /// The modes of operation embody drives in, and the others a drive may report.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[repr(i8)]
    pub enum Mode {
        /// None set.
        None = 0,
        /// Profile position.
        ProfilePosition = 1,
        /// Profile velocity.
        ProfileVelocity = 3,
        /// Profile torque.
        ProfileTorque = 4,
        /// Homing.
        Homing = 6,
        /// Interpolated position.
        InterpolatedPosition = 7,
        /// Cyclic synchronous position.
        CyclicPosition = 8,
        /// Cyclic synchronous velocity.
        CyclicVelocity = 9,
        /// Cyclic synchronous torque.
        CyclicTorque = 10,
    }

    impl Mode {
        /// The mode of value `v`.
        pub const fn from_i8(v: i8) -> Option<Mode> {
            Some(match v {
                0 => Mode::None,
                1 => Mode::ProfilePosition,
                3 => Mode::ProfileVelocity,
                4 => Mode::ProfileTorque,
                6 => Mode::Homing,
                7 => Mode::InterpolatedPosition,
                8 => Mode::CyclicPosition,
                9 => Mode::CyclicVelocity,
                10 => Mode::CyclicTorque,
                _ => return None,
            })
        }

        /// The mode's bit in the supported drive modes (0x6502).
        pub const fn supported_bit(self) -> u32 {
            match self {
                Mode::None => 0,
                m => 1 << (m as i8 - 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::cia402::{Command, Mode, State, transition};
    use super::*;

    fn frame(id: u16, data: &[u8]) -> CanFrame {
        CanFrame::new(CanId::Standard(id), data).expect("frame")
    }

    #[test]
    fn sdo_bytes_match_cia_301() {
        // Write controlword 0x6040 = 0x0006 (2 bytes), read statusword, and their answers.
        let write = SdoRequest::DownloadExpedited(cia402::CONTROLWORD, Expedited::new(&[6, 0]));
        assert_eq!(write.encode(), [0x2B, 0x40, 0x60, 0, 6, 0, 0, 0]);
        assert_eq!(SdoRequest::decode(&write.encode()), Ok(write));
        let read = SdoRequest::UploadInitiate(cia402::STATUSWORD);
        assert_eq!(read.encode(), [0x40, 0x41, 0x60, 0, 0, 0, 0, 0]);
        let value = SdoResponse::UploadExpedited(cia402::STATUSWORD, Expedited::new(&[0x37, 0x02]));
        assert_eq!(value.encode(), [0x4B, 0x41, 0x60, 0, 0x37, 0x02, 0, 0]);
        let taken = SdoResponse::DownloadInitiated(cia402::CONTROLWORD);
        assert_eq!(taken.encode(), [0x60, 0x40, 0x60, 0, 0, 0, 0, 0]);
        // 1, 3 and 4 byte expedited command specifiers.
        for (len, cs) in [(1, 0x2F), (3, 0x27), (4, 0x23)] {
            let r = SdoRequest::DownloadExpedited(
                Address::new(0x2000, 1),
                Expedited::new(&[9; 4][..len]),
            );
            assert_eq!(r.encode()[0], cs);
        }
        let abort = SdoResponse::Abort(Address::new(0x1234, 5), AbortCode::NO_OBJECT);
        assert_eq!(abort.encode(), [0x80, 0x34, 0x12, 5, 0, 0, 2, 6]);
        assert_eq!(
            std::format!("{}", AbortCode::NO_OBJECT),
            "0x06020000 (no such object in the dictionary)"
        );
    }

    #[test]
    fn segmented_transfers_round_trip() {
        let name = b"embody drive";
        let init = SdoResponse::UploadInitiated(Address::new(0x1008, 0), Some(name.len() as u32));
        assert_eq!(init.encode(), [0x41, 0x08, 0x10, 0, 12, 0, 0, 0]);
        let first = SdoResponse::UploadSegment(Segment::new(false, false, &name[..7]));
        assert_eq!(first.encode()[0], 0x00);
        let last = SdoResponse::UploadSegment(Segment::new(true, true, &name[7..]));
        // Toggle 1, two bytes unused, last.
        assert_eq!(last.encode()[0], 0x10 | (2 << 1) | 1);
        for r in [init, first, last] {
            assert_eq!(SdoResponse::decode(&r.encode()), Ok(r));
        }
        let seg = SdoRequest::DownloadSegment(Segment::new(true, true, b"abc"));
        assert_eq!(SdoRequest::decode(&seg.encode()), Ok(seg));
        assert_eq!(SdoRequest::UploadSegment { toggle: true }.encode()[0], 0x70);
        // A block transfer's specifiers are refused.
        assert_eq!(
            SdoRequest::decode(&[0xA4, 0, 0x10, 0, 0, 0, 0, 0]),
            Err(CanopenError::SdoCommand(0xA4))
        );
        assert!(matches!(
            SdoRequest::decode(&[0x40; 7]),
            Err(CanopenError::Length { got: 7, .. })
        ));
    }

    #[test]
    fn frames_are_classified_by_their_identifier() {
        let nmt = NmtCommand::Start.frame(0);
        assert_eq!(
            Message::classify(&nmt),
            Ok(Message::Nmt {
                command: NmtCommand::Start,
                node: 0
            })
        );
        assert_eq!(Message::classify(&sync_frame()), Ok(Message::Sync));
        let hb = NmtState::Operational.heartbeat(5);
        assert_eq!(hb.id(), CanId::Standard(0x705));
        assert_eq!(
            Message::classify(&hb),
            Ok(Message::Heartbeat {
                node: 5,
                state: NmtState::Operational
            })
        );
        let tpdo = frame(0x283, &[1, 2]);
        assert_eq!(
            Message::classify(&tpdo),
            Ok(Message::Tpdo {
                pdo: 1,
                node: 3,
                data: &[1, 2]
            })
        );
        let rpdo = frame(0x503, &[]);
        assert_eq!(
            Message::classify(&rpdo),
            Ok(Message::Rpdo {
                pdo: 3,
                node: 3,
                data: &[]
            })
        );
        let emcy = Emergency {
            code: emcy::OVER_TEMPERATURE,
            register: 0x09,
            vendor: [0; 5],
        }
        .frame(2);
        assert_eq!(emcy.data(), &[0x10, 0x42, 0x09, 0, 0, 0, 0, 0]);
        assert!(matches!(
            Message::classify(&emcy),
            Ok(Message::Emergency { node: 2, .. })
        ));
        assert_eq!(
            Message::classify(&frame(0x7E5, &[0])),
            Err(CanopenError::UnknownId(0x7E5))
        );
        assert_eq!(
            Message::classify(&frame(0x000, &[0x03, 0])),
            Err(CanopenError::UnknownCode {
                service: "NMT",
                code: 3
            })
        );
        assert_eq!(
            Message::classify(&frame(0x705, &[0x06])),
            Err(CanopenError::UnknownCode {
                service: "heartbeat",
                code: 6
            })
        );
    }

    #[test]
    fn pdo_mapping_entries() {
        let e = pdo::entry(cia402::TARGET_POSITION, 32);
        assert_eq!(e, 0x607A_0020);
        assert_eq!(pdo::parse_entry(e), (cia402::TARGET_POSITION, 32));
    }

    #[test]
    fn the_state_machine_walks_to_operation_enabled_and_back() {
        let mut state = State::SwitchOnDisabled;
        let mut previous = 0;
        let mut steps = 0;
        while state != State::OperationEnabled {
            let cw = state.toward_enabled(previous);
            state = transition(state, cw, previous);
            previous = cw;
            steps += 1;
        }
        assert_eq!(steps, 3);
        assert_eq!(
            State::from_statusword(0x0237),
            Some(State::OperationEnabled)
        );
        assert_eq!(
            transition(state, cia402::QUICK_STOP, 0x0F),
            State::QuickStopActive
        );
        assert_eq!(
            transition(state, cia402::SWITCH_ON, 0x0F),
            State::SwitchedOn
        );
        assert_eq!(
            transition(state, cia402::SHUTDOWN, 0x0F),
            State::ReadyToSwitchOn
        );
        assert_eq!(
            transition(state, cia402::DISABLE_VOLTAGE, 0x0F),
            State::SwitchOnDisabled
        );
        // A fault leaves on a rising edge of bit 7 only.
        assert_eq!(
            transition(State::Fault, cia402::FAULT_RESET, cia402::FAULT_RESET),
            State::Fault
        );
        assert_eq!(
            transition(State::Fault, cia402::FAULT_RESET, 0),
            State::SwitchOnDisabled
        );
        assert_eq!(
            transition(State::Fault, cia402::ENABLE_OPERATION, 0),
            State::Fault
        );
        let mut state = State::Fault;
        let mut previous = cia402::FAULT_RESET;
        for _ in 0..6 {
            let cw = state.toward_enabled(previous);
            state = transition(state, cw, previous);
            previous = cw;
        }
        assert_eq!(state, State::OperationEnabled);
        for s in [
            State::NotReadyToSwitchOn,
            State::SwitchOnDisabled,
            State::ReadyToSwitchOn,
            State::SwitchedOn,
            State::OperationEnabled,
            State::QuickStopActive,
            State::FaultReactionActive,
            State::Fault,
        ] {
            assert_eq!(State::from_statusword(s.status_bits() | 0x0600), Some(s));
        }
        assert_eq!(Command::of(0x0F), Some(Command::EnableOperation));
        assert_eq!(Mode::CyclicPosition.supported_bit(), 1 << 7);
        assert_eq!(Mode::from_i8(9), Some(Mode::CyclicVelocity));
        assert_eq!(Mode::from_i8(2), None);
    }
}
