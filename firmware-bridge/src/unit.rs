//! The unit's persistent side as the host link reaches it: the firmware update (through
//! [`Updater`]) and the unit record in the config area (serial number, configuration
//! digest, calibration). The record is written in turn into the two halves of the
//! config area with a sequence number and a CRC, so a power cut while storing a new one
//! leaves the old one in force; firmware updates never touch the area.

use embedded_storage::nor_flash::NorFlash;
use embody_fwimage::ImageError;
use embody_fwimage::ed25519_dalek::VerifyingKey;
use embody_protocol::crc32;
use embody_protocol::messages::{
    BridgeMessage, FirmwareImage, FlashRefusal, HostMessage, UnitRecord, UnitRefusal,
};

use crate::update::{Boot, Layout, SlotImage, UpdateError, Updater, boot};

/// Records of protocol version 3 (with the applied setup, drives among its actuators);
/// an older record is not read back (the unit then holds none until the host stores
/// one again).
const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"EBR3");
/// Magic, sequence, length, CRC.
const RECORD_HEAD: usize = 16;
/// Largest encoded record: serial, robot and tool (33 bytes each), the digest (32),
/// the control settings (≤ 19), and for every one of 64 joints a calibration (≤ 6) and
/// an actuator (≤ 11) — 1,236 bytes at most.
const RECORD_MAX: usize = 1280;

/// The unit: its flash, what it booted, its record. See the module docs.
pub struct Unit<F> {
    flash: F,
    layout: Layout,
    updater: Updater,
    boot: Option<Boot>,
    record: Option<(u32, UnitRecord)>,
    reboot: bool,
}

/// An image's identity as the link reports it.
pub fn image_identity(image: &SlotImage) -> FirmwareImage {
    FirmwareImage {
        version: (
            image.version.major,
            image.version.minor,
            image.version.patch,
        ),
        counter: image.counter,
        digest: image.digest,
    }
}

impl<F: NorFlash> Unit<F> {
    /// Resets the unit: the bootloader decides what runs (`None` when neither slot holds
    /// a valid image: the unit then only takes an update) and the record is loaded.
    pub fn start(mut flash: F, layout: Layout, key: VerifyingKey) -> Result<Unit<F>, F> {
        let booted = match boot(&mut flash, &layout, &key) {
            Ok(b) => Some(b),
            Err(UpdateError::NoBootableImage) => None,
            Err(_) => return Err(flash),
        };
        let Ok(updater) = Updater::open(&mut flash, layout, key) else {
            return Err(flash);
        };
        let record = read_record(&mut flash, &layout);
        Ok(Unit {
            flash,
            layout,
            updater,
            boot: booted,
            record,
            reboot: false,
        })
    }

    /// What the bootloader started, if anything.
    pub fn booted(&self) -> Option<Boot> {
        self.boot
    }

    /// The stored record.
    pub fn record(&self) -> Option<&UnitRecord> {
        self.record.as_ref().map(|(_, r)| r)
    }

    /// The host asked for a restart.
    pub fn reboot_requested(&self) -> bool {
        self.reboot
    }

    /// The flash back, to restart the unit with.
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// Whether an image transfer is open (the motors stay off meanwhile).
    pub fn receiving(&self) -> bool {
        self.updater.status().receiving.is_some()
    }

    /// Answers a flashing or record message (any other gets `None`).
    pub fn handle(&mut self, message: &HostMessage) -> Option<BridgeMessage> {
        let f = &mut self.flash;
        Some(match message {
            HostMessage::FlashBegin { size } => match self.updater.begin(f, *size) {
                Ok(()) => BridgeMessage::FlashProgress {
                    received: 0,
                    size: *size,
                },
                Err(e) => BridgeMessage::FlashRefused(refusal(e)),
            },
            HostMessage::FlashChunk { offset, data, crc } => {
                match self.updater.chunk(f, *offset, data, *crc) {
                    Ok(received) => BridgeMessage::FlashProgress {
                        received,
                        size: self.updater.status().size,
                    },
                    Err(e) => BridgeMessage::FlashRefused(refusal(e)),
                }
            }
            HostMessage::FlashFinish => match self.updater.finish(f) {
                Ok(image) => BridgeMessage::FlashVerified(image_identity(&image)),
                Err(e) => BridgeMessage::FlashRefused(refusal(e)),
            },
            HostMessage::FlashConfirm => match self.updater.confirm(f) {
                Ok(()) => {
                    if let Some(b) = &mut self.boot {
                        b.trial = false;
                    }
                    self.firmware()
                }
                Err(e) => BridgeMessage::FlashRefused(refusal(e)),
            },
            HostMessage::Reboot => {
                self.reboot = true;
                self.firmware()
            }
            HostMessage::GetFirmware => self.firmware(),
            HostMessage::GetUnit => BridgeMessage::Unit(self.record().cloned()),
            HostMessage::SetUnit(record) => match self.store(record) {
                Ok(()) => BridgeMessage::UnitStored,
                Err(e) => BridgeMessage::UnitRefused(e),
            },
            _ => return None,
        })
    }

    fn firmware(&self) -> BridgeMessage {
        let state = self.updater.status().state;
        BridgeMessage::Firmware {
            running: self.boot.map(|b| image_identity(&b.image)),
            trial: self.boot.is_some_and(|b| b.trial),
            pending: state.pending.is_some() && !state.trial,
        }
    }

    /// Writes `record` into the half of the config area not holding the current one.
    fn store(&mut self, record: &UnitRecord) -> Result<(), UnitRefusal> {
        if !record.is_valid() {
            return Err(UnitRefusal::BadCalibration);
        }
        let mut buf = [0xFFu8; RECORD_HEAD + RECORD_MAX];
        let len = postcard::to_slice(record, &mut buf[RECORD_HEAD..])
            .map_err(|_| UnitRefusal::BadCalibration)?
            .len();
        let seq = self.record.as_ref().map_or(0, |(s, _)| *s).wrapping_add(1);
        let Some(at) = half(&self.layout, F::ERASE_SIZE, seq % 2) else {
            return Err(UnitRefusal::NoStorage);
        };
        buf[0..4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
        buf[4..8].copy_from_slice(&seq.to_le_bytes());
        buf[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        let crc = crc32(&buf[4..12]) ^ crc32(&buf[RECORD_HEAD..RECORD_HEAD + len]);
        buf[12..16].copy_from_slice(&crc.to_le_bytes());
        let w = F::WRITE_SIZE.max(1);
        let total = (RECORD_HEAD + len).div_ceil(w) * w;
        let erase = (total.div_ceil(F::ERASE_SIZE) * F::ERASE_SIZE) as u32;
        self.flash
            .erase(at, at + erase)
            .and_then(|()| self.flash.write(at, &buf[..total]))
            .map_err(|_| UnitRefusal::Flash)?;
        self.record = Some((seq, record.clone()));
        Ok(())
    }
}

/// Start of half `k` of the config area, if the area holds two halves of a sector or
/// more each.
fn half(layout: &Layout, erase: usize, k: u32) -> Option<u32> {
    let (at, len) = layout.config;
    let half = len / 2 / erase as u32 * erase as u32;
    (half as usize >= RECORD_HEAD + RECORD_MAX).then_some(at + k * half)
}

/// The valid record with the higher sequence number, if any.
fn read_record<F: NorFlash>(f: &mut F, layout: &Layout) -> Option<(u32, UnitRecord)> {
    let mut best: Option<(u32, UnitRecord)> = None;
    for k in 0..2 {
        let Some(at) = half(layout, F::ERASE_SIZE, k) else {
            continue;
        };
        let mut buf = [0u8; RECORD_HEAD + RECORD_MAX];
        if f.read(at, &mut buf).is_err() {
            continue;
        }
        let word = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let (seq, len) = (word(4), word(8) as usize);
        if word(0) != RECORD_MAGIC || len > RECORD_MAX {
            continue;
        }
        let body = &buf[RECORD_HEAD..RECORD_HEAD + len];
        if crc32(&buf[4..12]) ^ crc32(body) != word(12) {
            continue;
        }
        if let Ok(record) = postcard::from_bytes::<UnitRecord>(body)
            && best.as_ref().is_none_or(|(s, _)| seq > *s)
        {
            best = Some((seq, record));
        }
    }
    best
}

fn refusal(e: UpdateError) -> FlashRefusal {
    match e {
        UpdateError::Flash | UpdateError::NoBootableImage => FlashRefusal::Flash,
        UpdateError::NotReceiving => FlashRefusal::NotReceiving,
        UpdateError::TooLarge { .. } => FlashRefusal::TooLarge,
        UpdateError::OutOfOrder { expected, .. } => FlashRefusal::OutOfOrder { expected },
        UpdateError::PastEnd => FlashRefusal::PastEnd,
        UpdateError::ChunkCrc => FlashRefusal::ChunkCrc,
        UpdateError::Incomplete { .. } => FlashRefusal::Incomplete,
        UpdateError::Image(ImageError::WrongKey { .. }) => FlashRefusal::WrongKey,
        UpdateError::Image(ImageError::BadSignature) => FlashRefusal::BadSignature,
        UpdateError::Image(_) => FlashRefusal::BadImage,
        UpdateError::Downgrade { counter, min } => FlashRefusal::Downgrade { counter, min },
        UpdateError::NothingToConfirm => FlashRefusal::NothingToConfirm,
        UpdateError::TrialRunning => FlashRefusal::TrialRunning,
    }
}

/// The flash of a bridge built without one (tests, bench rigs): it cannot exist, so a
/// `Bridge<NoFlash>` has no unit and refuses flashing and records.
#[derive(Debug)]
pub enum NoFlash {}

impl embedded_storage::nor_flash::ErrorType for NoFlash {
    type Error = core::convert::Infallible;
}

impl embedded_storage::nor_flash::ReadNorFlash for NoFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, _: u32, _: &mut [u8]) -> Result<(), Self::Error> {
        match *self {}
    }

    fn capacity(&self) -> usize {
        match *self {}
    }
}

impl NorFlash for NoFlash {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = 1;

    fn erase(&mut self, _: u32, _: u32) -> Result<(), Self::Error> {
        match *self {}
    }

    fn write(&mut self, _: u32, _: &[u8]) -> Result<(), Self::Error> {
        match *self {}
    }
}

/// The answer of a bridge without a unit to a flashing or record message.
pub fn no_storage(message: &HostMessage) -> Option<BridgeMessage> {
    Some(match message {
        HostMessage::FlashBegin { .. }
        | HostMessage::FlashChunk { .. }
        | HostMessage::FlashFinish
        | HostMessage::FlashConfirm
        | HostMessage::Reboot => BridgeMessage::FlashRefused(FlashRefusal::NoStorage),
        HostMessage::GetFirmware => BridgeMessage::Firmware {
            running: None,
            trial: false,
            pending: false,
        },
        HostMessage::GetUnit => BridgeMessage::Unit(None),
        HostMessage::SetUnit(_) => BridgeMessage::UnitRefused(UnitRefusal::NoStorage),
        _ => return None,
    })
}
