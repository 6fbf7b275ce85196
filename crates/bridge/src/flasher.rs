//! Installing a signed image on one unit over its link. The host verifies the image
//! before anything is sent; a unit already running it is skipped, one driving its
//! motors (a loop runs on it) is refused. Otherwise the image
//! goes over in chunks, two in flight, each acknowledged with the bytes the unit holds
//! — a refused chunk, a lost link or a restarted unit resumes from there — then the
//! unit verifies it, restarts into it on trial, answers a self-test, and is told to
//! keep it. A unit whose new image does not come up reverts by itself on its next
//! restart.

use std::path::Path;
use std::time::{Duration, Instant};

use embody_fwimage::ed25519_dalek::VerifyingKey;
use embody_fwimage::{ImageError, parse};
pub use embody_protocol::messages::FirmwareImage;
use embody_protocol::messages::{BridgeState, FLASH_CHUNK, FlashRefusal};

use crate::link::LinkError;
use crate::service::{FirmwareState, Service, ServiceError};

/// Chunks sent ahead of their acknowledgement: keeps the link busy while the unit
/// writes and answers.
const WINDOW: usize = 2;

/// An image checked on the host, ready to send.
#[derive(Clone, Copy, Debug)]
pub struct CheckedImage<'a> {
    /// The image's bytes.
    pub bytes: &'a [u8],
    /// Its identity (what the unit will report running).
    pub identity: FirmwareImage,
}

impl<'a> CheckedImage<'a> {
    /// Parses `bytes` and checks that `key` signed them.
    pub fn check(bytes: &'a [u8], key: &VerifyingKey) -> Result<CheckedImage<'a>, ImageError> {
        let image = parse(bytes)?;
        image.verify(key)?;
        let v = image.header.version;
        Ok(CheckedImage {
            bytes,
            identity: FirmwareImage {
                version: (v.major, v.minor, v.patch),
                counter: image.security_counter,
                digest: image.digest,
            },
        })
    }
}

/// How to flash.
#[derive(Clone, Debug)]
pub struct FlashOptions {
    /// Connect and report the plan; change nothing.
    pub dry_run: bool,
    /// How long a unit may take to come back after a restart or a lost link.
    pub reconnect_wait: Duration,
    /// Resumptions allowed before giving up on a unit.
    pub max_resumes: u32,
}

impl Default for FlashOptions {
    fn default() -> FlashOptions {
        FlashOptions {
            dry_run: false,
            reconnect_wait: Duration::from_secs(5),
            max_resumes: 5,
        }
    }
}

/// Where a unit's flashing is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Connected; what it runs.
    Connected(FirmwareState),
    /// Bytes the unit holds, of the total.
    Transfer {
        /// Acknowledged.
        sent: u64,
        /// Image size.
        total: u64,
    },
    /// The link was lost or a chunk refused; resuming at this offset.
    Resumed(u64),
    /// The unit verifies the image.
    Verifying,
    /// The unit restarts into it.
    Restarting,
    /// The new image answers its self-test.
    SelfTest,
}

/// What was done to a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It already ran the image.
    Skipped,
    /// Dry run: it would be flashed.
    WouldFlash,
    /// Flashed and confirmed.
    Flashed,
}

/// The result for one unit.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What was done.
    pub action: Action,
    /// What it ran before.
    pub before: FirmwareState,
    /// What it runs now.
    pub after: Option<FirmwareImage>,
    /// Image bytes sent (resent ones included).
    pub bytes_sent: u64,
    /// Time of the transfer alone.
    pub transfer: Duration,
    /// Time from connecting to confirmed.
    pub total: Duration,
    /// Times the transfer resumed.
    pub resumes: u32,
}

/// Why a unit could not be flashed.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    /// A request failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The unit did not come back running the new image on trial.
    #[error("{path}: after the restart the unit runs {running}, not the new image on trial")]
    NotStarted {
        /// The port.
        path: String,
        /// What it runs.
        running: String,
    },
    /// The unit is driving its motors: a loop runs on it.
    #[error(
        "{path}: the unit is {state}: its motors are being driven; stop what runs it (an update turns the motors off)"
    )]
    Running {
        /// The port.
        path: String,
        /// What its bridge is doing.
        state: BridgeState,
    },
    /// The transfer kept failing.
    #[error("{path}: gave up after {resumes} resumptions: {last}")]
    GaveUp {
        /// The port.
        path: String,
        /// Resumptions tried.
        resumes: u32,
        /// The last failure.
        last: Box<ServiceError>,
    },
}

impl From<LinkError> for FlashError {
    fn from(e: LinkError) -> FlashError {
        FlashError::Service(e.into())
    }
}

/// `v.w.x (counter n, digest 01234567…)`, or `no valid image`.
pub fn describe_image(image: Option<&FirmwareImage>) -> String {
    match image {
        Some(i) => format!(
            "{}.{}.{} (counter {}, {})",
            i.version.0,
            i.version.1,
            i.version.2,
            i.counter,
            short_digest(&i.digest)
        ),
        None => "no valid image".into(),
    }
}

/// The first 8 hex digits of a digest.
pub fn short_digest(digest: &[u8; 32]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Flashes `image` onto the unit at `path`. See the module docs.
pub fn flash_unit(
    path: &Path,
    image: &CheckedImage<'_>,
    options: &FlashOptions,
    progress: &mut dyn FnMut(Step),
) -> Result<Outcome, FlashError> {
    let started = Instant::now();
    let mut service = Service::open_within(path, options.reconnect_wait)?;
    let mut before = service.firmware()?;
    progress(Step::Connected(before));
    let runs_it = before.running.as_ref() == Some(&image.identity);
    let mut outcome = Outcome {
        action: Action::Skipped,
        before,
        after: before.running,
        bytes_sent: 0,
        transfer: Duration::ZERO,
        total: Duration::ZERO,
        resumes: 0,
    };
    if runs_it && !before.trial {
        outcome.total = started.elapsed();
        return Ok(outcome);
    }
    let state = service.status()?.state;
    if matches!(state, BridgeState::Active | BridgeState::Damping) {
        return Err(FlashError::Running {
            path: path.display().to_string(),
            state,
        });
    }
    if options.dry_run {
        outcome.action = Action::WouldFlash;
        outcome.total = started.elapsed();
        return Ok(outcome);
    }
    if let Some(running) = before.running
        && !before.trial
        && image.identity.counter < running.counter
    {
        // The unit would take it all and then refuse it: say so now.
        let downgrade = FlashRefusal::Downgrade {
            counter: image.identity.counter,
            min: running.counter,
        };
        return Err(service.flash_refused("the image", downgrade).into());
    }
    if !runs_it {
        if before.trial {
            // Another image on trial (an earlier flash cut short): back to the confirmed one.
            service.reboot()?;
            service = Service::open_within(path, options.reconnect_wait)?;
            before = service.firmware()?;
            outcome.before = before;
        }
        let t = Instant::now();
        service = transfer(path, service, image, options, progress, &mut outcome)?;
        outcome.transfer = t.elapsed();
        progress(Step::Verifying);
        service.finish()?;
        progress(Step::Restarting);
        service.reboot()?;
        service = Service::open_within(path, options.reconnect_wait)?;
    }
    progress(Step::SelfTest);
    let now = service.firmware()?;
    if now.running.as_ref() != Some(&image.identity) || !now.trial {
        return Err(FlashError::NotStarted {
            path: path.display().to_string(),
            running: describe_image(now.running.as_ref()),
        });
    }
    service.status()?;
    let kept = service.confirm()?;
    outcome.action = Action::Flashed;
    outcome.after = kept.running;
    outcome.total = started.elapsed();
    Ok(outcome)
}

/// Sends every byte; the session it ends on (a new one if the link was lost).
fn transfer(
    path: &Path,
    mut service: Service,
    image: &CheckedImage<'_>,
    options: &FlashOptions,
    progress: &mut dyn FnMut(Step),
    outcome: &mut Outcome,
) -> Result<Service, FlashError> {
    let total = image.bytes.len() as u32;
    service.begin(total)?;
    // What the unit holds, as it last said.
    let mut held = 0u32;
    loop {
        match send_from(&mut service, image, &mut held, outcome, progress) {
            Ok(()) => return Ok(service),
            Err(last) => {
                outcome.resumes += 1;
                if outcome.resumes > options.max_resumes {
                    return Err(FlashError::GaveUp {
                        path: path.display().to_string(),
                        resumes: outcome.resumes - 1,
                        last: Box::new(last),
                    });
                }
                tracing::warn!(port = %path.display(), held, "transfer interrupted ({last}); resuming");
                if matches!(last, ServiceError::Link(_)) {
                    service = Service::open_within(path, options.reconnect_wait)?;
                }
                // Ask where the unit is: a chunk at `held` is either taken or refused
                // with the offset it expects; a unit that restarted has no transfer.
                let probe = chunk_at(image.bytes, held);
                service.send_chunk(held, probe)?;
                outcome.bytes_sent += probe.len() as u64;
                match service.chunk_answer()? {
                    Ok(received) => held = received,
                    Err(FlashRefusal::OutOfOrder { expected }) => held = expected,
                    Err(FlashRefusal::NotReceiving) => {
                        service.begin(total)?;
                        held = 0;
                    }
                    Err(reason) => return Err(service.flash_refused("a chunk", reason).into()),
                }
                progress(Step::Resumed(held as u64));
            }
        }
    }
}

fn chunk_at(bytes: &[u8], offset: u32) -> &[u8] {
    let at = (offset as usize).min(bytes.len());
    &bytes[at..(at + FLASH_CHUNK).min(bytes.len())]
}

/// Streams the image from `held` with [`WINDOW`] chunks in flight until the unit holds
/// all of it; the first failure otherwise (after the answers still due are read).
fn send_from(
    service: &mut Service,
    image: &CheckedImage<'_>,
    held: &mut u32,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(Step),
) -> Result<(), ServiceError> {
    let total = image.bytes.len() as u32;
    let mut next = *held;
    // Chunks sent whose answer is still due.
    let mut in_flight = 0;
    let mut refused = None;
    while *held < total {
        while refused.is_none() && in_flight < WINDOW && next < total {
            let chunk = chunk_at(image.bytes, next);
            service.send_chunk(next, chunk)?;
            outcome.bytes_sent += chunk.len() as u64;
            next += chunk.len() as u32;
            in_flight += 1;
        }
        if in_flight == 0 {
            break;
        }
        in_flight -= 1;
        match service.chunk_answer()? {
            Ok(received) => {
                *held = received;
                progress(Step::Transfer {
                    sent: received as u64,
                    total: total as u64,
                });
            }
            Err(FlashRefusal::OutOfOrder { expected }) => {
                *held = expected;
                refused.get_or_insert(FlashRefusal::OutOfOrder { expected });
            }
            Err(reason) => {
                refused.get_or_insert(reason);
            }
        }
    }
    match refused {
        None => Ok(()),
        Some(reason) => Err(service.flash_refused("a chunk", reason)),
    }
}
