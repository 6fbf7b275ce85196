//! `embody bench wire`: the wire path's figures (`embody_runtime::bench::wire`): the
//! link's codec, the bus budget per variant, and the host → bridge → host round trip
//! to `--port` or to a virtual MCU it starts.

use std::path::PathBuf;

use clap::Args;
use embody_runtime::bench::wire;

use crate::error::Result;
use crate::numbers::{count, float};

/// Arguments of `embody bench wire`.
#[derive(Args, Debug)]
pub struct WireArgs {
    /// A bridge's serial port; without it a virtual MCU is started for the round trip.
    #[arg(long)]
    port: Option<PathBuf>,
    /// Robot the bridge is configured for (its generated default map).
    #[arg(long, default_value = "arm7")]
    robot: String,
    /// Ticks of the round-trip measurement.
    #[arg(long, default_value_t = 10_000, value_parser = count::<u32>(1..=10_000_000))]
    ticks: u32,
    /// Control rate (Hz).
    #[arg(long, default_value_t = 1000.0, value_parser = float(100.0..=10_000.0, " Hz"))]
    rate: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench wire`.
pub fn run(args: &WireArgs) -> Result {
    let f = wire::run(&args.robot, args.port.as_deref(), args.rate, args.ticks)?;
    if args.json {
        println!("{}", serde_json::json!(f));
        return Ok(());
    }
    let (host, bridge) = (&f.codec.host_tick_30_joints, &f.codec.bridge_tick_30_joints);
    println!("codec, one tick's frame encoded and decoded (median):");
    println!(
        "  host → bridge, 30 joints: {} bytes, {:.0} ns",
        host.bytes, host.encode_decode_ns
    );
    println!(
        "  bridge → host, 30 joints: {} bytes, {:.0} ns",
        bridge.bytes, bridge.encode_decode_ns
    );
    println!("bus budget, 1 Mbit/s CAN at 1 kHz (worst-case stuffing):");
    for b in &f.scheduler_1mbit_1khz {
        println!(
            "  {}: {} µs per command+reply, {} actuators per bus, {:.0} % of the budget",
            b.variant,
            b.cycle_us_each,
            b.actuators_per_bus,
            100.0 * b.budget_used
        );
    }
    println!(
        "servo bus, 1 Mbaud at 500 Hz (sync write of goals, sync read of state, return delay 0):"
    );
    for b in &f.servo_bus_1mbaud_500hz {
        println!(
            "  {}: {:.0} µs a tick for 6 servos, {} servos per bus",
            b.family, b.tick_us_6_servos, b.servos_per_bus
        );
    }
    println!(
        "CiA 402 drives, 1 Mbit/s at 1 kHz in CSP (RPDO of controlword and target each, one SYNC, TPDOs):"
    );
    for b in &f.cia402_1mbit_1khz {
        println!(
            "  {} PDO layout: {:.0} µs a tick for 4 drives, {} drives per bus",
            b.layout, b.tick_us_4_drives, b.drives_per_bus
        );
    }
    let r = &f.round_trip;
    println!(
        "round trip host → bridge → host to {} at {} Hz over {} ticks: p50 {} µs, p99 {} µs, max {} µs, {} without a reply within 2 periods, {} bad frames",
        r.target, r.rate_hz, r.ticks, r.p50_us, r.p99_us, r.max_us, r.lost, r.bad_frames
    );
    Ok(())
}
