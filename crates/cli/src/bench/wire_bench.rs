//! `embody bench wire`: the wire path's figures. (1) Encoding and decoding one tick's
//! frame each way for 30 joints (postcard + CRC-32 + COBS). (2) The bus scheduler: MIT
//! actuators per 1 Mbit/s CAN bus at 1 kHz and the share of the bus budget they use.
//! (3) The round trip host → bridge → host over a serial link, one command batch per
//! tick at the control rate: to a bridge on `--port`, or to a virtual MCU this command
//! starts on a pseudo-terminal.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use embody_bridge::BridgeRobot;
use embody_firmware_bridge::schedule::variant_cycle_us;
use embody_hal::{Clock, CommandFrame, Robot, SystemClock, Timestamp};
use embody_model::robots;
use embody_protocol::messages::{
    BridgeMessage, BridgeState, BusStats, CommandBatch, HostMessage, StateBatch, WireCommand,
    WireJointState,
};
use embody_protocol::{FrameDecoder, FrameEncoder, MAX_FRAME, MitVariant, MotorFaults};
use embody_vmcu::{Control, VmcuConfig};
use serde_json::json;

/// Arguments of `embody bench wire`.
#[derive(Args, Debug)]
pub struct WireArgs {
    /// A bridge's serial port; without it a virtual MCU is started for the round trip.
    #[arg(long)]
    port: Option<PathBuf>,
    /// Robot the bridge is configured for.
    #[arg(long, default_value = "arm7")]
    robot: String,
    /// Ticks of the round-trip measurement.
    #[arg(long, default_value_t = 10_000)]
    ticks: u32,
    /// Control rate (Hz).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
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

/// Median ns of one encode + decode of `message`.
fn codec_ns<T: serde::Serialize + serde::de::DeserializeOwned>(message: &T) -> (f64, usize) {
    let mut encoder = FrameEncoder::default();
    let mut decoder = Box::<FrameDecoder>::default();
    let mut out = [0u8; MAX_FRAME];
    let mut len = 0;
    let mut samples = Vec::new();
    for _ in 0..51 {
        let iterations = 2000;
        let start = Instant::now();
        for _ in 0..iterations {
            len = encoder.encode(black_box(message), &mut out).unwrap_or(0);
            let mut rest = &out[..len];
            while !rest.is_empty() {
                let (taken, _) = decoder.feed(rest);
                rest = &rest[taken..];
            }
            black_box(decoder.message::<T>().ok());
        }
        samples.push(start.elapsed().as_nanos() as f64 / iterations as f64);
    }
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], len)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct RoundTrip {
    samples_us: Vec<u64>,
    /// Ticks without a reply within two periods.
    lost: u32,
    /// Frames the host's decoder refused (CRC, framing, overflow).
    bad_frames: u64,
}

fn round_trip(args: &WireArgs, port: &std::path::Path) -> Result<RoundTrip, String> {
    let model = robots::load(&args.robot, Some(false)).map_err(|e| e.to_string())?;
    let mut robot = BridgeRobot::connect(port, &model, args.rate).map_err(|e| e.to_string())?;
    let n = robot.capabilities().joints.len();
    let commands = CommandFrame::new(n);
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let clock = SystemClock;
    let mut deadline = clock.now();
    let mut samples_us = Vec::with_capacity(args.ticks as usize);
    let mut lost = 0;
    for _ in 0..args.ticks {
        deadline = deadline.saturating_add(period);
        clock.sleep_until(deadline);
        robot
            .write(Timestamp::from_nanos(deadline.as_nanos()), &commands)
            .map_err(|e| e.to_string())?;
        match robot.wait_for_echo((2.0 * 1e6 / args.rate) as u64) {
            Ok(ns) => samples_us.push(ns / 1000),
            Err(_) => lost += 1,
        }
    }
    samples_us.sort_unstable();
    Ok(RoundTrip {
        samples_us,
        lost,
        bad_frames: robot.link_health().frames_bad,
    })
}

pub fn run(args: &WireArgs) -> Result<(), String> {
    if !(args.rate >= 100.0 && args.rate <= 10_000.0) {
        return Err(format!("--rate {} is outside 100–10000 Hz", args.rate));
    }
    let (host_ns, host_len) = codec_ns(&host_tick(30));
    let (bridge_ns, bridge_len) = codec_ns(&bridge_tick(30));

    let per_bus: Vec<(MitVariant, u32, u32)> = [
        MitVariant::Classic,
        MitVariant::DaMiao,
        MitVariant::Robstride,
    ]
    .into_iter()
    .map(|variant| {
        let cost = variant_cycle_us(variant, 1_000_000);
        (variant, 1000 / cost, cost)
    })
    .collect();

    let (rt, target) = match &args.port {
        Some(port) => (round_trip(args, port)?, port.display().to_string()),
        None => {
            let dir =
                std::env::temp_dir().join(format!("embody-bench-wire-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let link = dir.join("bridge");
            let control = Arc::new(Control::default());
            let config = VmcuConfig {
                rate_hz: args.rate,
                ..VmcuConfig::new(&args.robot, link.clone())
            };
            let vmcu = {
                let control = control.clone();
                std::thread::spawn(move || embody_vmcu::run(&config, control))
            };
            let start = Instant::now();
            while !link.exists() && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let result = round_trip(args, &link);
            control.stop();
            let _ = vmcu.join();
            let _ = std::fs::remove_dir_all(&dir);
            (result?, "a virtual MCU on a pseudo-terminal".to_owned())
        }
    };
    let s = &rt.samples_us;
    let (p50, p99, max) = (
        percentile(s, 0.5),
        percentile(s, 0.99),
        s.last().copied().unwrap_or(0),
    );
    if args.json {
        let out = json!({
            "codec": {
                "host_tick_30_joints": {"bytes": host_len, "encode_decode_ns": host_ns},
                "bridge_tick_30_joints": {"bytes": bridge_len, "encode_decode_ns": bridge_ns},
            },
            "scheduler_1mbit_1khz": per_bus.iter().map(|(v, n, cost)| json!({
                "variant": format!("{v:?}"), "actuators_per_bus": n, "cycle_us_each": cost,
                "budget_used": (*n * *cost) as f64 / 1000.0,
            })).collect::<Vec<_>>(),
            "round_trip": {"target": target, "rate_hz": args.rate, "ticks": args.ticks,
                "lost": rt.lost, "bad_frames": rt.bad_frames, "p50_us": p50, "p99_us": p99, "max_us": max},
        });
        println!("{out}");
        return Ok(());
    }
    println!("codec, one tick's frame encoded and decoded (median):");
    println!("  host → bridge, 30 joints: {host_len} bytes, {host_ns:.0} ns");
    println!("  bridge → host, 30 joints: {bridge_len} bytes, {bridge_ns:.0} ns");
    println!("bus scheduler, 1 Mbit/s CAN at 1 kHz (worst-case stuffing):");
    for (variant, n, cost) in &per_bus {
        println!(
            "  {variant:?}: {cost} µs per command+reply, {n} actuators per bus, {:.0} % of the budget",
            (*n * *cost) as f64 / 10.0
        );
    }
    println!(
        "round trip host → bridge → host to {target} at {} Hz over {} ticks: p50 {p50} µs, p99 {p99} µs, max {max} µs, {} without a reply within 2 periods, {} bad frames",
        args.rate, args.ticks, rt.lost, rt.bad_frames
    );
    Ok(())
}
