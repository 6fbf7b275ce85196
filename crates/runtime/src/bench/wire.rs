//! The wire path's figures: (1) encoding and decoding one tick's frame each way for 30
//! joints (postcard + CRC-32 + COBS); (2) the bus budget: MIT actuators per 1 Mbit/s
//! CAN bus at 1 kHz and the share of the budget they use, per variant, servos per
//! 1 Mbaud servo bus at 500 Hz, per family, and CiA 402 drives per 1 Mbit/s bus at 1 kHz,
//! per PDO layout; (3) the round
//! trip host → bridge → host over a serial link, one command batch per tick at the
//! control rate — to a bridge on a port, or to a virtual MCU it starts on a
//! pseudo-terminal.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use embody_bridge::{BridgeRobot, Cia402Setup, PdoLayout, ServoFamily, variant_name};
use embody_fleet::defaults::{self, DefaultMap};
use embody_hal::{Clock, CommandFrame, Robot, SystemClock, Timestamp};
use embody_model::robots;
use embody_protocol::budget::{actuators_per_bus, variant_cycle_us};
use embody_protocol::messages::{
    BridgeMessage, BridgeState, BusStats, CommandBatch, HostMessage, StateBatch, WireCommand,
    WireJointState,
};
use embody_protocol::{FrameDecoder, FrameEncoder, MAX_FRAME, MitVariant, MotorFaults};
use embody_vmcu::{VmcuConfig, VmcuThread};
use serde::Serialize;

use super::Scratch;
use crate::error::RuntimeError;

/// One frame's codec figures.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CodecFigures {
    /// Encoded size (bytes).
    pub bytes: usize,
    /// Encoding and decoding it, median (ns).
    pub encode_decode_ns: f64,
}

/// Both directions of a tick.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Codec {
    /// Host → bridge, 30 joints.
    pub host_tick_30_joints: CodecFigures,
    /// Bridge → host, 30 joints.
    pub bridge_tick_30_joints: CodecFigures,
}

/// One variant on a 1 Mbit/s bus at 1 kHz.
#[derive(Clone, Debug, Serialize)]
pub struct BusFigures {
    /// The variant.
    pub variant: String,
    /// Actuators that fit.
    pub actuators_per_bus: u32,
    /// A command and its reply (µs).
    pub cycle_us_each: u32,
    /// Share of the period they use.
    pub budget_used: f64,
}

/// One servo family on a 1 Mbaud bus at 500 Hz: one tick's sync write of goals and sync
/// read of state (position, velocity, current or load).
#[derive(Clone, Debug, Serialize)]
pub struct ServoBusFigures {
    /// The family.
    pub family: String,
    /// One tick's exchange with six servos (µs, no turnarounds).
    pub tick_us_6_servos: f64,
    /// Servos that fit the 2 ms period.
    pub servos_per_bus: usize,
}

/// CiA 402 drives on a 1 Mbit/s bus at 1 kHz in CSP: each drive's RPDO (controlword,
/// target), one SYNC, each drive's TPDOs.
#[derive(Clone, Debug, Serialize)]
pub struct Cia402BusFigures {
    /// The PDO layout.
    pub layout: String,
    /// One tick with four drives (µs, worst-case stuffing).
    pub tick_us_4_drives: f64,
    /// Drives that fit the 1 ms period.
    pub drives_per_bus: usize,
}

/// The round trip.
#[derive(Clone, Debug, Serialize)]
pub struct RoundTrip {
    /// What answered.
    pub target: String,
    /// Control rate (Hz).
    pub rate_hz: f64,
    /// Ticks measured.
    pub ticks: u32,
    /// Ticks without a reply within two periods.
    pub lost: u32,
    /// Frames the host's decoder refused.
    pub bad_frames: u64,
    /// Median (µs).
    pub p50_us: u64,
    /// 99th percentile (µs).
    pub p99_us: u64,
    /// Slowest (µs).
    pub max_us: u64,
}

/// The wire's figures.
#[derive(Clone, Debug, Serialize)]
pub struct WireFigures {
    /// The link's codec.
    pub codec: Codec,
    /// The bus budget per variant.
    pub scheduler_1mbit_1khz: Vec<BusFigures>,
    /// The servo bus budget per family.
    pub servo_bus_1mbaud_500hz: Vec<ServoBusFigures>,
    /// The CiA 402 bus budget per PDO layout.
    pub cia402_1mbit_1khz: Vec<Cia402BusFigures>,
    /// The round trip.
    pub round_trip: RoundTrip,
}

fn host_tick(joints: usize) -> HostMessage {
    let mut batch = CommandBatch {
        seq: 12345,
        host_time_us: 987_654_321,
        ..CommandBatch::default()
    };
    for k in 0..joints {
        let _ = batch.commands.push(WireCommand::Impedance {
            q: 0.1 * k as f32,
            dq: -0.2,
            kp: 120.0,
            kd: 3.5,
            tau_ff: 1.25,
        });
    }
    HostMessage::Tick(batch)
}

fn bridge_tick(joints: usize) -> BridgeMessage {
    let mut batch = StateBatch {
        seq: 12345,
        bridge_time_us: 987_654_321,
        state: BridgeState::Active,
        ..StateBatch::default()
    };
    for k in 0..joints {
        let _ = batch.joints.push(WireJointState {
            q: 0.1 * k as f32,
            dq: 0.3,
            tau: -2.0,
            temperature_c: 41.5,
            faults: MotorFaults::NONE,
            age_ticks: 0,
        });
    }
    for _ in 0..8 {
        let _ = batch.buses.push(BusStats::default());
    }
    BridgeMessage::Tick(batch)
}

/// Median ns of one encode + decode of `message`, and its encoded size.
fn codec<T: serde::Serialize + serde::de::DeserializeOwned>(message: &T) -> CodecFigures {
    let mut encoder = FrameEncoder::default();
    let mut decoder = Box::<FrameDecoder>::default();
    let mut out = [0u8; MAX_FRAME];
    let mut bytes = 0;
    let mut samples = Vec::new();
    for _ in 0..51 {
        let iterations = 2000;
        let start = Instant::now();
        for _ in 0..iterations {
            bytes = encoder.encode(black_box(message), &mut out).unwrap_or(0);
            let mut rest = &out[..bytes];
            while !rest.is_empty() {
                let (taken, _) = decoder.feed(rest);
                rest = &rest[taken..];
            }
            black_box(decoder.message::<T>().ok());
        }
        samples.push(start.elapsed().as_nanos() as f64 / iterations as f64);
    }
    CodecFigures {
        bytes,
        encode_decode_ns: super::median(samples),
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `ticks` round trips to the bridge at `port` configured for `robot`'s generated map
/// at `rate_hz`.
fn round_trip(
    robot: &str,
    port: &Path,
    rate_hz: f64,
    ticks: u32,
) -> Result<RoundTrip, RuntimeError> {
    let model = robots::load(robot, Some(false))?;
    let map = DefaultMap {
        rate_hz,
        ..DefaultMap::default()
    };
    let setup = defaults::setup(&model, robot, &map).map_err(|e| RuntimeError::Fleet(e.into()))?;
    let mut robot =
        BridgeRobot::connect(port, &model, &setup).map_err(|e| RuntimeError::Fleet(e.into()))?;
    let commands = CommandFrame::new(robot.capabilities().joints.len());
    let period = Duration::from_secs_f64(1.0 / rate_hz);
    let clock = SystemClock;
    let mut deadline = clock.now();
    let mut samples_us = Vec::with_capacity(ticks as usize);
    let mut lost = 0;
    for _ in 0..ticks {
        deadline = deadline.saturating_add(period);
        clock.sleep_until(deadline);
        // A failed write shows as a lost tick.
        let _ = robot.write(Timestamp::from_nanos(deadline.as_nanos()), &commands);
        match robot.wait_for_echo((2.0 * 1e6 / rate_hz) as u64) {
            Ok(ns) => samples_us.push(ns / 1000),
            Err(_) => lost += 1,
        }
    }
    samples_us.sort_unstable();
    Ok(RoundTrip {
        target: port.display().to_string(),
        rate_hz,
        ticks,
        lost,
        bad_frames: robot.link_health().frames_bad,
        p50_us: percentile(&samples_us, 0.5),
        p99_us: percentile(&samples_us, 0.99),
        max_us: samples_us.last().copied().unwrap_or(0),
    })
}

/// Measures the wire for `robot`: the round trip to `port`, or to a virtual MCU.
pub fn run(
    robot: &str,
    port: Option<&Path>,
    rate_hz: f64,
    ticks: u32,
) -> Result<WireFigures, RuntimeError> {
    if !(100.0..=10_000.0).contains(&rate_hz) || !(1..=10_000_000).contains(&ticks) {
        return Err(RuntimeError::Invalid(format!(
            "the rate must be 100–10000 Hz and the ticks 1–10,000,000 (got {rate_hz} Hz, {ticks})"
        )));
    }
    let codec = Codec {
        host_tick_30_joints: codec(&host_tick(30)),
        bridge_tick_30_joints: codec(&bridge_tick(30)),
    };
    let scheduler_1mbit_1khz = [
        MitVariant::Classic,
        MitVariant::DaMiao,
        MitVariant::Robstride,
    ]
    .into_iter()
    .map(|variant| {
        let cost = variant_cycle_us(variant, 1_000_000);
        let n = actuators_per_bus(variant, 1_000_000, 1000);
        BusFigures {
            variant: variant_name(variant).to_owned(),
            actuators_per_bus: n,
            cycle_us_each: cost,
            budget_used: f64::from(n * cost) / 1000.0,
        }
    })
    .collect();
    let servo_bus_1mbaud_500hz = [ServoFamily::Dynamixel, ServoFamily::Feetech]
        .into_iter()
        .map(|family| ServoBusFigures {
            family: family.name().to_owned(),
            tick_us_6_servos: family.tick_us(6, 1_000_000),
            servos_per_bus: family.servos_per_bus(1_000_000, 500.0),
        })
        .collect();
    let cia402_1mbit_1khz = [PdoLayout::Full, PdoLayout::Compact]
        .into_iter()
        .map(|layout| {
            let setup = Cia402Setup {
                layout,
                ..Cia402Setup::default_for(4)
            };
            Cia402BusFigures {
                layout: layout.name().to_owned(),
                tick_us_4_drives: setup.tick_us(),
                drives_per_bus: setup.drives_per_bus(),
            }
        })
        .collect();
    let round_trip = match port {
        Some(port) => round_trip(robot, port, rate_hz, ticks)?,
        None => {
            let dir = Scratch::new("wire").map_err(|source| RuntimeError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
            let link = dir.0.join("bridge");
            let map = DefaultMap {
                rate_hz,
                ..DefaultMap::default()
            };
            let vmcu = VmcuConfig::with_map(robot, link.clone(), &map)
                .and_then(VmcuThread::start)
                .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
            let result = round_trip(robot, &link, rate_hz, ticks);
            drop(vmcu);
            RoundTrip {
                target: "a virtual MCU on a pseudo-terminal".into(),
                ..result?
            }
        }
    };
    Ok(WireFigures {
        codec,
        scheduler_1mbit_1khz,
        servo_bus_1mbaud_500hz,
        cia402_1mbit_1khz,
        round_trip,
    })
}
