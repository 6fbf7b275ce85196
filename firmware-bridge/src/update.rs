//! A/B firmware update and boot selection on the bridge's NOR flash, safe against power
//! loss at any moment. The flash holds two image slots, two boot-state sectors written
//! in turn (a record torn by a power cut fails its CRC and the other one stands), and a
//! configuration area that updates never touch.
//!
//! The update runs from the host: [`Updater::begin`] erases the slot not running,
//! [`Updater::chunk`] writes the image in order with a CRC per chunk (a transfer that
//! stops resumes from [`Status::received`]), [`Updater::finish`] verifies the image in
//! flash — digest, signature, security counter — and only then marks it pending.
//! [`boot`] (the bootloader's decision) starts a pending image once, on trial; the new
//! firmware calls [`Updater::confirm`] after its self-test, and a trial that ends in a
//! reset without it reverts to the old image. No image below the highest security
//! counter confirmed is ever installed or booted.

use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use embody_fwimage::ed25519_dalek::VerifyingKey;
use embody_fwimage::{
    HEADER_LEN, ImageError, ImageHasher, TRAILER_LEN, Version, digested_len, image_len,
    parse_header, parse_trailer, verify_trailer,
};
use embody_protocol::crc32;

/// Where things are on the flash. Every region starts on an erase boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Start of slot 0 and slot 1.
    pub slots: [u32; 2],
    /// Length of each slot.
    pub slot_len: u32,
    /// Start of the two boot-state sectors.
    pub state: [u32; 2],
    /// Length of one boot-state sector (an erase unit).
    pub state_len: u32,
    /// Start and length of the configuration area (config and calibration).
    pub config: (u32, u32),
}

impl Layout {
    /// Two slots of `slot_len`, then two state sectors of `erase` bytes, then the
    /// configuration area of `config_len`.
    pub const fn new(slot_len: u32, erase: u32, config_len: u32) -> Layout {
        Layout {
            slots: [0, slot_len],
            slot_len,
            state: [2 * slot_len, 2 * slot_len + erase],
            state_len: erase,
            config: (2 * slot_len + 2 * erase, config_len),
        }
    }

    /// Bytes of flash the layout needs.
    pub const fn capacity(&self) -> u32 {
        self.config.0 + self.config.1
    }
}

/// Which slot runs, which waits, and the security floor. Persisted in the state sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootState {
    /// Record sequence number: the higher valid record wins.
    pub seq: u32,
    /// The confirmed slot.
    pub active: u8,
    /// A verified slot to try next.
    pub pending: Option<u8>,
    /// The pending slot has been booted once, on trial.
    pub trial: bool,
    /// The highest security counter confirmed: nothing below it is installed or booted.
    pub min_counter: u32,
}

const STATE_MAGIC: u32 = u32::from_le_bytes(*b"EBST");
const STATE_LEN: usize = 20;

impl BootState {
    /// The state of a fresh unit: slot 0, nothing pending.
    pub const FACTORY: BootState = BootState {
        seq: 0,
        active: 0,
        pending: None,
        trial: false,
        min_counter: 0,
    };

    fn encode(&self) -> [u8; STATE_LEN] {
        let mut b = [0u8; STATE_LEN];
        b[0..4].copy_from_slice(&STATE_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8] = self.active;
        b[9] = self.pending.unwrap_or(0xFF);
        b[10] = u8::from(self.trial);
        b[12..16].copy_from_slice(&self.min_counter.to_le_bytes());
        let crc = crc32(&b[..16]);
        b[16..20].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8; STATE_LEN]) -> Option<BootState> {
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        if word(0) != STATE_MAGIC || word(16) != crc32(&b[..16]) || b[8] > 1 {
            return None;
        }
        Some(BootState {
            seq: word(4),
            active: b[8],
            pending: match b[9] {
                0xFF => None,
                s @ 0..=1 => Some(s),
                _ => return None,
            },
            trial: b[10] != 0,
            min_counter: word(12),
        })
    }
}

/// Why an update step or a boot failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateError {
    /// The flash refused an operation.
    Flash,
    /// A chunk or finish without a transfer begun.
    NotReceiving,
    /// The image does not fit in a slot.
    TooLarge {
        /// Bytes offered.
        size: u32,
        /// Bytes a slot holds.
        slot: u32,
    },
    /// A chunk not at the next offset (resume from [`Status::received`]).
    OutOfOrder {
        /// Where the next chunk must start.
        expected: u32,
        /// Where this one started.
        got: u32,
    },
    /// A chunk running past the announced size.
    PastEnd,
    /// A chunk whose CRC does not match its bytes.
    ChunkCrc,
    /// Finish before every byte arrived.
    Incomplete {
        /// Bytes received.
        received: u32,
        /// Bytes announced.
        size: u32,
    },
    /// The image in flash is not a valid image signed by the device's key.
    Image(ImageError),
    /// The image's security counter is below the one the device has confirmed.
    Downgrade {
        /// The image's counter.
        counter: u32,
        /// The lowest counter the device accepts.
        min: u32,
    },
    /// Confirm with no trial running.
    NothingToConfirm,
    /// An update while a new image runs on trial: confirm it (or reset) first.
    TrialRunning,
    /// Neither slot holds a bootable image.
    NoBootableImage,
}

/// Where an update stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The persisted boot state.
    pub state: BootState,
    /// The slot being written, if a transfer is open.
    pub receiving: Option<u8>,
    /// Bytes of it received and written.
    pub received: u32,
    /// Bytes announced.
    pub size: u32,
}

/// What a verified slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotImage {
    /// The image's version.
    pub version: Version,
    /// Its security counter.
    pub counter: u32,
    /// Its digest (the image's identity: the host skips units already running it).
    pub digest: [u8; 32],
}

/// What the bootloader decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boot {
    /// The slot to run.
    pub slot: u8,
    /// It runs on trial: it must confirm, or the next boot reverts.
    pub trial: bool,
    /// A trial ended without confirmation and was rolled back.
    pub reverted: bool,
    /// What it runs.
    pub image: SlotImage,
}

/// Chunk of flash read at a time when verifying.
const READ_CHUNK: usize = 256;

fn flash<T, E>(r: Result<T, E>) -> Result<T, UpdateError> {
    r.map_err(|_| UpdateError::Flash)
}

/// Reads both state records; the valid one with the higher sequence, or the factory
/// state on a blank unit.
pub fn read_state<F: ReadNorFlash>(f: &mut F, layout: &Layout) -> Result<BootState, UpdateError> {
    let mut best: Option<BootState> = None;
    for at in layout.state {
        let mut raw = [0u8; STATE_LEN];
        flash(f.read(at, &mut raw))?;
        if let Some(s) = BootState::decode(&raw)
            && best.is_none_or(|b| s.seq > b.seq)
        {
            best = Some(s);
        }
    }
    Ok(best.unwrap_or(BootState::FACTORY))
}

/// Persists `state` with the next sequence number into the sector not holding the
/// current record: a cut mid-write leaves the current one in force.
fn write_state<F: NorFlash>(
    f: &mut F,
    layout: &Layout,
    state: &mut BootState,
) -> Result<(), UpdateError> {
    state.seq = state.seq.wrapping_add(1);
    let at = layout.state[(state.seq % 2) as usize];
    flash(f.erase(at, at + layout.state_len))?;
    flash(f.write(at, &state.encode()))
}

/// Verifies the image in `slot`: structure, digest over the flash contents, signature,
/// and the security floor.
pub fn verify_slot<F: ReadNorFlash>(
    f: &mut F,
    layout: &Layout,
    slot: u8,
    key: &VerifyingKey,
    min_counter: u32,
) -> Result<SlotImage, UpdateError> {
    let base = layout.slots[usize::from(slot & 1)];
    let mut head = [0u8; HEADER_LEN];
    flash(f.read(base, &mut head))?;
    let header = parse_header(&head).map_err(UpdateError::Image)?;
    let total = image_len(header.payload_len as usize);
    if total > layout.slot_len as usize {
        return Err(UpdateError::Image(ImageError::TooLarge(header.payload_len)));
    }
    let mut raw = [0u8; TRAILER_LEN];
    flash(f.read(base + (total - TRAILER_LEN) as u32, &mut raw))?;
    let trailer = parse_trailer(&raw).map_err(UpdateError::Image)?;
    let mut hasher = ImageHasher::default();
    let mut buf = [0u8; READ_CHUNK];
    let covered = digested_len(&header);
    let mut at = 0;
    while at < covered {
        let n = READ_CHUNK.min(covered - at);
        flash(f.read(base + at as u32, &mut buf[..n]))?;
        hasher.update(&buf[..n]);
        at += n;
    }
    if hasher.finish() != trailer.digest {
        return Err(UpdateError::Image(ImageError::DigestMismatch));
    }
    verify_trailer(&trailer, key).map_err(UpdateError::Image)?;
    if trailer.security_counter < min_counter {
        return Err(UpdateError::Downgrade {
            counter: trailer.security_counter,
            min: min_counter,
        });
    }
    Ok(SlotImage {
        version: header.version,
        counter: trailer.security_counter,
        digest: trailer.digest,
    })
}

/// The bootloader's decision at reset. Never boots an image that does not verify; on
/// the way it records a trial start, a rollback, or a move to the one good slot.
pub fn boot<F: NorFlash>(
    f: &mut F,
    layout: &Layout,
    key: &VerifyingKey,
) -> Result<Boot, UpdateError> {
    let mut state = read_state(f, layout)?;
    let mut reverted = false;
    if let Some(pending) = state.pending {
        if !state.trial
            && let Ok(image) = verify_slot(f, layout, pending, key, state.min_counter)
        {
            state.trial = true;
            write_state(f, layout, &mut state)?;
            return Ok(Boot {
                slot: pending,
                trial: true,
                reverted: false,
                image,
            });
        }
        // A trial that reset without confirming, or a pending image gone bad: back.
        reverted = state.trial;
        state.pending = None;
        state.trial = false;
        write_state(f, layout, &mut state)?;
    }
    if let Ok(image) = verify_slot(f, layout, state.active, key, state.min_counter) {
        return Ok(Boot {
            slot: state.active,
            trial: false,
            reverted,
            image,
        });
    }
    // The active slot is damaged: the other one, if it holds a good image.
    let other = 1 - state.active;
    let image = verify_slot(f, layout, other, key, state.min_counter)
        .map_err(|_| UpdateError::NoBootableImage)?;
    state.active = other;
    write_state(f, layout, &mut state)?;
    Ok(Boot {
        slot: other,
        trial: false,
        reverted,
        image,
    })
}

/// The running firmware's side of an update. See the module docs.
#[derive(Debug)]
pub struct Updater {
    layout: Layout,
    key: VerifyingKey,
    state: BootState,
    /// The slot being received, bytes written, bytes announced.
    rx: Option<(u8, u32, u32)>,
}

impl Updater {
    /// The updater of a unit whose bootloader decided `boot`.
    pub fn open<F: NorFlash>(
        f: &mut F,
        layout: Layout,
        key: VerifyingKey,
    ) -> Result<Updater, UpdateError> {
        Ok(Updater {
            state: read_state(f, &layout)?,
            layout,
            key,
            rx: None,
        })
    }

    /// Where things stand.
    pub fn status(&self) -> Status {
        let (receiving, received, size) = match self.rx {
            Some((slot, received, size)) => (Some(slot), received, size),
            None => (None, 0, 0),
        };
        Status {
            state: self.state,
            receiving,
            received,
            size,
        }
    }

    /// Starts receiving an image of `size` bytes: cancels anything pending and erases
    /// the target slot (as much of it as the image needs).
    pub fn begin<F: NorFlash>(&mut self, f: &mut F, size: u32) -> Result<(), UpdateError> {
        if size > self.layout.slot_len || (size as usize) < HEADER_LEN + TRAILER_LEN {
            return Err(UpdateError::TooLarge {
                size,
                slot: self.layout.slot_len,
            });
        }
        if self.state.trial {
            return Err(UpdateError::TrialRunning);
        }
        self.rx = None;
        if self.state.pending.is_some() {
            // A newer image replaces the one waiting for a reboot.
            self.state.pending = None;
            write_state(f, &self.layout, &mut self.state)?;
        }
        // The slot not running: the confirmed image stays as the fallback.
        let target = 1 - self.state.active;
        let base = self.layout.slots[usize::from(target)];
        let erase = F::ERASE_SIZE as u32;
        let len = size.div_ceil(erase) * erase;
        flash(f.erase(base, base + len))?;
        self.rx = Some((target, 0, size));
        Ok(())
    }

    /// Writes the chunk at `offset` (it must be the next one) if `crc` matches; the bytes
    /// received so far. Chunks other than the last are a multiple of the flash's write
    /// size.
    pub fn chunk<F: NorFlash>(
        &mut self,
        f: &mut F,
        offset: u32,
        data: &[u8],
        crc: u32,
    ) -> Result<u32, UpdateError> {
        let (slot, received, size) = self.rx.ok_or(UpdateError::NotReceiving)?;
        if offset != received {
            return Err(UpdateError::OutOfOrder {
                expected: received,
                got: offset,
            });
        }
        let end = offset as usize + data.len();
        if end > size as usize {
            return Err(UpdateError::PastEnd);
        }
        if crc32(data) != crc {
            return Err(UpdateError::ChunkCrc);
        }
        let base = self.layout.slots[usize::from(slot)] + offset;
        let w = F::WRITE_SIZE;
        let whole = data.len() / w * w;
        flash(f.write(base, &data[..whole]))?;
        if whole < data.len() {
            // The image's tail, padded to the write size with erased bytes.
            let mut tail = [0xFFu8; 64];
            let rest = &data[whole..];
            let padded = tail.get_mut(..w).ok_or(UpdateError::Flash)?;
            padded[..rest.len()].copy_from_slice(rest);
            flash(f.write(base + whole as u32, padded))?;
        }
        let received = end as u32;
        self.rx = Some((slot, received, size));
        Ok(received)
    }

    /// Verifies the received image in flash and marks it pending for the next boot.
    pub fn finish<F: NorFlash>(&mut self, f: &mut F) -> Result<SlotImage, UpdateError> {
        let (slot, received, size) = self.rx.ok_or(UpdateError::NotReceiving)?;
        if received != size {
            return Err(UpdateError::Incomplete { received, size });
        }
        let image = verify_slot(f, &self.layout, slot, &self.key, self.state.min_counter)?;
        self.rx = None;
        self.state.pending = Some(slot);
        write_state(f, &self.layout, &mut self.state)?;
        Ok(image)
    }

    /// Confirms the image on trial (after its self-test): it becomes the active image and
    /// its security counter the floor.
    pub fn confirm<F: NorFlash>(&mut self, f: &mut F) -> Result<(), UpdateError> {
        let (Some(slot), true) = (self.state.pending, self.state.trial) else {
            return Err(UpdateError::NothingToConfirm);
        };
        let image = verify_slot(f, &self.layout, slot, &self.key, self.state.min_counter)?;
        self.state.active = slot;
        self.state.pending = None;
        self.state.trial = false;
        self.state.min_counter = self.state.min_counter.max(image.counter);
        write_state(f, &self.layout, &mut self.state)
    }
}
