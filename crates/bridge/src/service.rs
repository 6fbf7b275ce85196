//! The service side of the link: what integrators do to a unit rather than run it —
//! read and install firmware, read and store the unit record. One request, one answer,
//! over the same framing as the loop's link; every refusal comes back with its reason.

use std::path::Path;
use std::time::{Duration, Instant};

use embody_protocol::messages::{
    BridgeMessage, BridgeStatus, FLASH_CHUNK, FirmwareImage, FlashRefusal, HostMessage,
    PROTOCOL_VERSION, UnitRecord, UnitRefusal,
};

use crate::link::{ANSWER_TIMEOUT, BridgeInfo, Exchange, LinkError};

/// Why a service request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The link failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The unit refused a flashing step.
    #[error("{path}: the unit refused {what}: {}", describe(reason))]
    Flash {
        /// The port.
        path: String,
        /// The step.
        what: &'static str,
        /// Its reason.
        reason: FlashRefusal,
    },
    /// The unit's firmware speaks another protocol version: it can be updated, but its
    /// record has another layout.
    #[error(
        "{path}: the unit's firmware speaks protocol version {theirs}, this host {PROTOCOL_VERSION}: update its firmware (`embody flash`) before reading or storing its record"
    )]
    OtherProtocol {
        /// The port.
        path: String,
        /// The unit's version.
        theirs: u16,
    },
    /// The unit refused its record.
    #[error("{path}: the unit refused the record: {reason}")]
    Unit {
        /// The port.
        path: String,
        /// Its reason.
        reason: UnitRefusal,
    },
}

/// A refusal in words.
pub fn describe(reason: &FlashRefusal) -> String {
    match reason {
        FlashRefusal::NotReceiving => "no transfer is open (the unit restarted?)".into(),
        FlashRefusal::TooLarge => "the image does not fit a slot".into(),
        FlashRefusal::OutOfOrder { expected } => format!("expected the chunk at {expected}"),
        FlashRefusal::PastEnd => "a chunk past the image's end".into(),
        FlashRefusal::ChunkCrc => "a chunk's CRC does not match".into(),
        FlashRefusal::Incomplete => "not every byte arrived".into(),
        FlashRefusal::BadImage => "not a valid image, or corrupted".into(),
        FlashRefusal::WrongKey => "signed by a key the unit does not trust".into(),
        FlashRefusal::BadSignature => "the signature does not verify".into(),
        FlashRefusal::Downgrade { counter, min } => {
            format!("security counter {counter} is below the unit's {min} (downgrade)")
        }
        FlashRefusal::NothingToConfirm => "no image runs on trial".into(),
        FlashRefusal::TrialRunning => "an image runs on trial: confirm it or reboot first".into(),
        FlashRefusal::Flash => "its flash failed".into(),
        FlashRefusal::NoStorage => "it has no firmware flash".into(),
    }
}

/// How long erasing a slot or verifying an image may take on the unit.
const FLASH_WORK_TIMEOUT: Duration = Duration::from_secs(10);

/// What a unit runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirmwareState {
    /// The running image (`None`: no valid image; the unit only takes an update).
    pub running: Option<FirmwareImage>,
    /// It runs on trial, unconfirmed.
    pub trial: bool,
    /// A verified image waits for the next boot.
    pub pending: bool,
}

fn firmware_state(answer: &BridgeMessage) -> Option<FirmwareState> {
    match *answer {
        BridgeMessage::Firmware {
            running,
            trial,
            pending,
        } => Some(FirmwareState {
            running,
            trial,
            pending,
        }),
        _ => None,
    }
}

/// An open service session with one unit.
pub struct Service {
    exchange: Exchange,
    info: BridgeInfo,
    /// The unit's protocol version: firmware messages are the same in every version, the
    /// record is not.
    protocol: u16,
}

impl Service {
    /// Opens `path` and shakes hands. A unit speaking another protocol version is still
    /// served for its firmware (so it can be updated), not for its record.
    pub fn open(path: &Path) -> Result<Service, LinkError> {
        let mut exchange = Exchange::open(path)?;
        let (info, protocol) = match exchange.hello() {
            Ok(info) => (info, PROTOCOL_VERSION),
            Err(LinkError::Version { theirs, .. }) => (
                BridgeInfo {
                    firmware: [0; 3],
                    buses: 0,
                },
                theirs,
            ),
            Err(e) => return Err(e),
        };
        Ok(Service {
            exchange,
            info,
            protocol,
        })
    }

    /// Refuses record messages to a unit of another protocol version.
    fn same_protocol(&self) -> Result<(), ServiceError> {
        if self.protocol == PROTOCOL_VERSION {
            Ok(())
        } else {
            Err(ServiceError::OtherProtocol {
                path: self.path(),
                theirs: self.protocol,
            })
        }
    }

    /// Opens `path` and shakes hands, trying again until `wait` has passed (a unit
    /// restarting, a link coming back).
    pub fn open_within(path: &Path, wait: Duration) -> Result<Service, LinkError> {
        let deadline = Instant::now() + wait;
        loop {
            match Service::open(path) {
                Ok(s) => return Ok(s),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// What the handshake learned.
    pub fn info(&self) -> BridgeInfo {
        self.info
    }

    fn path(&self) -> String {
        self.exchange.path.display().to_string()
    }

    /// The unit refused flashing step `what` for `reason`.
    pub(crate) fn flash_refused(&self, what: &'static str, reason: FlashRefusal) -> ServiceError {
        ServiceError::Flash {
            path: self.path(),
            what,
            reason,
        }
    }

    fn unexpected(&self, what: &'static str) -> ServiceError {
        self.exchange.no_answer(what, ANSWER_TIMEOUT).into()
    }

    /// What the unit runs.
    pub fn firmware(&mut self) -> Result<FirmwareState, ServiceError> {
        let answer = self
            .exchange
            .request(&HostMessage::GetFirmware, "GetFirmware")?;
        firmware_state(&answer).ok_or_else(|| self.unexpected("GetFirmware"))
    }

    /// The unit's health.
    pub fn status(&mut self) -> Result<BridgeStatus, ServiceError> {
        match self
            .exchange
            .request(&HostMessage::GetStatus, "GetStatus")?
        {
            BridgeMessage::Status(status) => Ok(status),
            _ => Err(self.unexpected("GetStatus")),
        }
    }

    /// The record in the unit's config area.
    pub fn unit(&mut self) -> Result<Option<UnitRecord>, ServiceError> {
        self.same_protocol()?;
        match self.exchange.request(&HostMessage::GetUnit, "GetUnit")? {
            BridgeMessage::Unit(record) => Ok(record),
            _ => Err(self.unexpected("GetUnit")),
        }
    }

    /// Stores `record` in the unit's config area.
    pub fn store_unit(&mut self, record: &UnitRecord) -> Result<(), ServiceError> {
        self.same_protocol()?;
        match self
            .exchange
            .request(&HostMessage::SetUnit(record.clone()), "SetUnit")?
        {
            BridgeMessage::UnitStored => Ok(()),
            BridgeMessage::UnitRefused(reason) => Err(ServiceError::Unit {
                path: self.path(),
                reason,
            }),
            _ => Err(self.unexpected("SetUnit")),
        }
    }

    /// Opens a transfer of `size` bytes (erasing the idle slot takes a while).
    pub fn begin(&mut self, size: u32) -> Result<(), ServiceError> {
        match self.exchange.request_within(
            &HostMessage::FlashBegin { size },
            "FlashBegin",
            FLASH_WORK_TIMEOUT,
        )? {
            BridgeMessage::FlashProgress { .. } => Ok(()),
            BridgeMessage::FlashRefused(reason) => Err(self.flash_refused("the transfer", reason)),
            _ => Err(self.unexpected("FlashBegin")),
        }
    }

    /// Sends the chunk at `offset` without waiting for its answer.
    pub fn send_chunk(&mut self, offset: u32, data: &[u8]) -> Result<(), ServiceError> {
        let data = heapless::Vec::<u8, FLASH_CHUNK>::from_slice(data)
            .map_err(|()| self.flash_refused("a chunk", FlashRefusal::PastEnd))?;
        let crc = embody_protocol::crc32(&data);
        self.exchange
            .send(&HostMessage::FlashChunk { offset, data, crc })?;
        Ok(())
    }

    /// The answer to a chunk: the bytes the unit holds so far, or its refusal.
    pub fn chunk_answer(&mut self) -> Result<Result<u32, FlashRefusal>, ServiceError> {
        match self.exchange.answer("FlashChunk")? {
            BridgeMessage::FlashProgress { received, .. } => Ok(Ok(received)),
            BridgeMessage::FlashRefused(reason) => Ok(Err(reason)),
            _ => Err(self.unexpected("FlashChunk")),
        }
    }

    /// Ends the transfer: the unit verifies the image and marks it for the next boot.
    pub fn finish(&mut self) -> Result<FirmwareImage, ServiceError> {
        match self.exchange.request_within(
            &HostMessage::FlashFinish,
            "FlashFinish",
            FLASH_WORK_TIMEOUT,
        )? {
            BridgeMessage::FlashVerified(image) => Ok(image),
            BridgeMessage::FlashRefused(reason) => Err(self.flash_refused("the image", reason)),
            _ => Err(self.unexpected("FlashFinish")),
        }
    }

    /// Restarts the unit; the session ends.
    pub fn reboot(mut self) -> Result<(), ServiceError> {
        match self.exchange.request(&HostMessage::Reboot, "Reboot")? {
            BridgeMessage::Firmware { .. } => Ok(()),
            BridgeMessage::FlashRefused(reason) => Err(self.flash_refused("the reboot", reason)),
            _ => Err(self.unexpected("Reboot")),
        }
    }

    /// Keeps the image running on trial.
    pub fn confirm(&mut self) -> Result<FirmwareState, ServiceError> {
        match self
            .exchange
            .request(&HostMessage::FlashConfirm, "FlashConfirm")?
        {
            BridgeMessage::FlashRefused(reason) => {
                Err(self.flash_refused("the confirmation", reason))
            }
            answer => firmware_state(&answer).ok_or_else(|| self.unexpected("FlashConfirm")),
        }
    }
}
