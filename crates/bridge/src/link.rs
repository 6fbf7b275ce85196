//! Opening a connection to the bridge: the serial port, the version handshake, and the
//! configuration (bridge setup, drive buses and servo bus, then one message per
//! actuator, each acknowledged); where drives or servos are configured, the wait until
//! the bridge has set them up and they report. Runs off the loop thread (it allocates and blocks), at start and
//! on every reconnection.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use embody_protocol::cia402_master::DriveFailure;
use embody_protocol::messages::{
    BridgeMessage, BridgeState, HostMessage, PROTOCOL_VERSION, SetupError, StateBatch,
};
use embody_protocol::{FrameDecoder, FrameEncoder, MAX_FRAME, MotorFaults};

use crate::setup::UnitSetup;
use serialport::TTYPort;

use crate::fd_io::{self, FdStatus};

/// Why the bridge could not be reached or configured.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The port could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The port.
        path: PathBuf,
        /// The cause.
        source: serialport::Error,
    },
    /// Another program holds the port exclusively.
    #[error("{path} is in use by another program (it holds the port exclusively)")]
    InUse {
        /// The port.
        path: PathBuf,
    },
    /// No answer in time.
    #[error(
        "{path}: no answer to {what} within {timeout_ms} ms (is a bridge or `embody vmcu` on this port?)"
    )]
    NoAnswer {
        /// The port.
        path: PathBuf,
        /// The request.
        what: &'static str,
        /// How long we waited.
        timeout_ms: u64,
    },
    /// The bridge speaks another protocol version.
    #[error("{path}: the bridge speaks protocol version {theirs}, this host {PROTOCOL_VERSION}")]
    Version {
        /// The port.
        path: PathBuf,
        /// The bridge's version.
        theirs: u16,
    },
    /// The bridge refused the configuration.
    #[error("{path}: the bridge refused {what}: {reason}")]
    Refused {
        /// The port.
        path: PathBuf,
        /// Which message.
        what: String,
        /// Its reason.
        reason: SetupError,
    },
    /// The port went away during the exchange.
    #[error("{path}: the device disappeared")]
    Gone {
        /// The port.
        path: PathBuf,
    },
    /// The bridge gave up on a joint's CiA 402 drive while setting it up.
    #[error("{path}: the bridge gave up on the CiA 402 drive of joint {joint}: {failure}")]
    DriveFailed {
        /// The port.
        path: PathBuf,
        /// The joint (0-based, joint order).
        joint: u8,
        /// Why.
        failure: DriveFailure,
    },
    /// Drives or servos set up sent no state in time.
    #[error(
        "{path}: the {what} of joints {joints:?} did not report within {timeout_ms} ms of their setup (ids, bit or baud rate, wiring?)"
    )]
    DevicesSilent {
        /// The port.
        path: PathBuf,
        /// What they are: "CiA 402 drives", "servos".
        what: &'static str,
        /// The joints whose devices did not report.
        joints: Vec<u8>,
        /// How long we waited.
        timeout_ms: u64,
    },
}

/// What the handshake learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeInfo {
    /// Firmware version.
    pub firmware: [u8; 3],
    /// CAN buses.
    pub buses: u8,
}

/// An open, configured connection.
pub struct Connection {
    /// The port.
    pub port: TTYPort,
    /// What the bridge said of itself.
    pub info: BridgeInfo,
}

/// How long an answer usually may take.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_millis(1000);
/// How often an unanswered hello is repeated.
const HELLO_REPEAT: Duration = Duration::from_millis(200);
/// How long the bridge may take to set up its drives (a silent one is given up on
/// after three SDO timeouts of 100 ms) or to hear from its servos.
pub const DRIVES_TIMEOUT: Duration = Duration::from_millis(3000);
/// State batches in a row in which every drive reported: they run.
const DRIVES_FRESH: u32 = 3;

/// Requests and answers on an open port, one at a time.
pub(crate) struct Exchange {
    pub(crate) path: PathBuf,
    pub(crate) port: TTYPort,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    out: Box<[u8; MAX_FRAME]>,
    read_buf: Box<[u8; 1024]>,
    read_at: usize,
    read_len: usize,
}

impl Exchange {
    /// Opens `path` (shared: a reconnecting host must be able to open it again).
    pub(crate) fn open(path: &Path) -> Result<Exchange, LinkError> {
        let mut port = serialport::new(path.to_string_lossy(), 2_000_000)
            .timeout(Duration::from_millis(10))
            .open_native()
            .map_err(|source| {
                // serialport takes an exclusive flock by default, and says so in words.
                if source.to_string().contains("exclusive lock") {
                    LinkError::InUse {
                        path: path.to_path_buf(),
                    }
                } else {
                    LinkError::Open {
                        path: path.to_path_buf(),
                        source,
                    }
                }
            })?;
        let _ = port.set_exclusive(false);
        // What the device sent while nobody listened is stale; on a full buffer it
        // would also crowd out the answers to come.
        let _ = serialport::SerialPort::clear(&port, serialport::ClearBuffer::Input);
        // A zero flushes whatever half-frame the bridge may hold from an earlier session.
        let _ = fd_io::write_all(port.as_raw_fd(), &[0]);
        Ok(Exchange {
            path: path.to_path_buf(),
            port,
            encoder: FrameEncoder::default(),
            decoder: FrameDecoder::default(),
            out: Box::new([0u8; MAX_FRAME]),
            read_buf: Box::new([0u8; 1024]),
            read_at: 0,
            read_len: 0,
        })
    }

    pub(crate) fn send(&mut self, message: &HostMessage) -> Result<(), LinkError> {
        let n = self
            .encoder
            .encode(message, &mut self.out[..])
            .map_err(|_| self.gone())?;
        match fd_io::write_all(self.port.as_raw_fd(), &self.out[..n]) {
            FdStatus::Gone => Err(self.gone()),
            _ => Ok(()),
        }
    }

    pub(crate) fn gone(&self) -> LinkError {
        LinkError::Gone {
            path: self.path.clone(),
        }
    }

    pub(crate) fn no_answer(&self, what: &'static str, timeout: Duration) -> LinkError {
        LinkError::NoAnswer {
            path: self.path.clone(),
            what,
            timeout_ms: timeout.as_millis() as u64,
        }
    }

    /// The next answer that is not a state batch (those keep coming every cycle), within
    /// the usual time.
    pub(crate) fn answer(&mut self, what: &'static str) -> Result<BridgeMessage, LinkError> {
        self.answer_within(what, ANSWER_TIMEOUT)
    }

    /// The next answer that is not a state batch, within `timeout`. Bytes read past it
    /// stay for the next call: answers may arrive back to back.
    pub(crate) fn answer_within(
        &mut self,
        what: &'static str,
        timeout: Duration,
    ) -> Result<BridgeMessage, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_message(deadline)? {
                // What the bridge sends unasked: state batches, drives given up on.
                Some(BridgeMessage::Tick(_) | BridgeMessage::DriveFailed { .. }) => {}
                Some(message) => return Ok(message),
                None => return Err(self.no_answer(what, timeout)),
            }
        }
    }

    /// The next message the bridge sends, of any kind, before `deadline` (`None` then).
    fn next_message(&mut self, deadline: Instant) -> Result<Option<BridgeMessage>, LinkError> {
        loop {
            while self.read_at < self.read_len {
                let b = self.read_buf[self.read_at];
                self.read_at += 1;
                if let Some(Ok(_)) = self.decoder.push(b)
                    && let Ok(message) = self.decoder.message::<BridgeMessage>()
                {
                    return Ok(Some(message));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match fd_io::read(self.port.as_raw_fd(), &mut self.read_buf[..], 10_000) {
                FdStatus::Bytes(n) => (self.read_at, self.read_len) = (0, n),
                FdStatus::Timeout => {}
                FdStatus::Gone => return Err(self.gone()),
            }
        }
    }

    /// Waits until the drives or servos (`what`) of `joints` report, [`DRIVES_FRESH`]
    /// state batches in a row, while the bridge sets them up; a drive it gives up on, or
    /// a device still silent after `timeout`, is an error naming its joint.
    fn wait_for_devices(
        &mut self,
        joints: &[u8],
        what: &'static str,
        timeout: Duration,
    ) -> Result<(), LinkError> {
        let deadline = Instant::now() + timeout;
        let mut fresh = 0;
        let mut silent = joints.to_vec();
        loop {
            match self.next_message(deadline)? {
                Some(BridgeMessage::DriveFailed { joint, failure }) => {
                    return Err(LinkError::DriveFailed {
                        path: self.path.clone(),
                        joint,
                        failure,
                    });
                }
                Some(BridgeMessage::Tick(batch)) => {
                    silent = stale_devices(&batch, joints);
                    fresh = if silent.is_empty() { fresh + 1 } else { 0 };
                    if fresh >= DRIVES_FRESH {
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => {
                    return Err(LinkError::DevicesSilent {
                        path: self.path.clone(),
                        what,
                        joints: silent,
                        timeout_ms: timeout.as_millis() as u64,
                    });
                }
            }
        }
    }

    /// Sends `message` and waits for its answer, within the usual time.
    pub(crate) fn request(
        &mut self,
        message: &HostMessage,
        what: &'static str,
    ) -> Result<BridgeMessage, LinkError> {
        self.request_within(message, what, ANSWER_TIMEOUT)
    }

    /// Sends `message` and waits up to `timeout` for its answer.
    pub(crate) fn request_within(
        &mut self,
        message: &HostMessage,
        what: &'static str,
        timeout: Duration,
    ) -> Result<BridgeMessage, LinkError> {
        self.send(message)?;
        self.answer_within(what, timeout)
    }

    /// The version handshake, the hello repeated until answered: the first one can
    /// meet a device still starting, or a link still full of what it sent before.
    pub(crate) fn hello(&mut self) -> Result<BridgeInfo, LinkError> {
        let hello = HostMessage::Hello {
            version: PROTOCOL_VERSION,
        };
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let answer = loop {
            match self.request_within(&hello, "the handshake", HELLO_REPEAT) {
                Err(LinkError::NoAnswer { .. }) if Instant::now() < deadline => {}
                Err(LinkError::NoAnswer { .. }) => {
                    break Err(self.no_answer("the handshake", ANSWER_TIMEOUT));
                }
                other => break other,
            }
        };
        match answer? {
            BridgeMessage::Welcome {
                firmware,
                max_buses,
                ..
            } => Ok(BridgeInfo {
                firmware,
                buses: max_buses,
            }),
            BridgeMessage::VersionMismatch { version } => Err(LinkError::Version {
                path: self.path.clone(),
                theirs: version,
            }),
            _ => Err(self.no_answer("the handshake", ANSWER_TIMEOUT)),
        }
    }

    fn configure(&mut self, message: HostMessage, what: String) -> Result<(), LinkError> {
        match self.request(&message, "the configuration")? {
            BridgeMessage::SetupAccepted => Ok(()),
            BridgeMessage::SetupRefused(reason) => Err(LinkError::Refused {
                path: self.path.clone(),
                what,
                reason,
            }),
            _ => Err(self.no_answer("the configuration", ANSWER_TIMEOUT)),
        }
    }
}

/// The joints of `joints` whose drive or servo did not report in `batch` (or all of them, while
/// the bridge is not yet configured).
fn stale_devices(batch: &StateBatch, joints: &[u8]) -> Vec<u8> {
    if batch.state == BridgeState::Unconfigured {
        return joints.to_vec();
    }
    let reported = |j: u8| {
        (batch.joints.get(usize::from(j)))
            .is_some_and(|s| s.age_ticks == 0 && !s.faults.contains(MotorFaults::COMMS_LOST))
    };
    joints.iter().copied().filter(|&j| !reported(j)).collect()
}

/// Opens `path`, shakes hands and configures the bridge with `setup`; when it has
/// drives or servos, waits for the bridge to set them up (up to [`DRIVES_TIMEOUT`]).
pub fn connect(path: &Path, setup: &UnitSetup) -> Result<Connection, LinkError> {
    let mut exchange = Exchange::open(path)?;
    let info = exchange.hello()?;
    exchange.configure(
        HostMessage::Setup(setup.bridge.clone()),
        "the bridge setup".into(),
    )?;
    for bus in &setup.drive_buses {
        exchange.configure(
            HostMessage::DriveBus(*bus),
            format!("bus {} as a bus of CiA 402 drives", bus.bus),
        )?;
    }
    if let Some(bus) = &setup.servo_bus {
        exchange.configure(
            HostMessage::ServoBus(*bus),
            format!("the servo bus ({} at {} baud)", bus.family.name(), bus.baud),
        )?;
    }
    for actuator in &setup.actuators {
        exchange.configure(
            HostMessage::Actuator(*actuator),
            format!("actuator of joint {}", actuator.joint),
        )?;
    }
    for drive in &setup.drives {
        exchange.configure(
            HostMessage::Drive(*drive),
            format!("drive of joint {} (node {})", drive.joint, drive.node),
        )?;
    }
    for servo in &setup.servos {
        exchange.configure(
            HostMessage::Servo(*servo),
            format!("servo of joint {} (id {})", servo.joint, servo.id),
        )?;
    }
    let joints = setup.device_joints();
    if !joints.is_empty() {
        let what = match setup.drives.is_empty() {
            true => "servos",
            false => "CiA 402 drives",
        };
        exchange.wait_for_devices(&joints, what, DRIVES_TIMEOUT)?;
    }
    Ok(Connection {
        port: exchange.port,
        info,
    })
}
