//! The control loop drives `arm7` over the whole wire path: the runtime's real-time loop
//! → `BridgeRobot` → serial link (a pseudo-terminal) → virtual MCU (the firmware core) →
//! simulated CAN buses → simulated MIT motors (the simulator's physics), at 1 kHz, with
//! the robot's generated default map on both sides.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embody_bridge::{BridgeRobot, SlcanRobot, UnitSetup};
use embody_control::{
    Cause, ControlConfig, EventKind, Interpolation, JointPoint, Lifecycle, LoopClient, Request,
    RtConfig, Segment, StateSnapshot,
};
use embody_fleet::defaults::{self, DefaultMap};
use embody_hal::Robot;
use embody_model::{Model, robots};
use embody_runtime::RealtimeLoop;
use embody_vmcu::{Control, VmcuConfig};

/// The tests run real-time loops: one at a time on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Real-time priorities where the OS grants them (root, or CAP_SYS_NICE): on a
/// 2-core machine a stall of a few milliseconds in either thread would otherwise show
/// as stale sensors. Refused elsewhere, and the tests run as before.
const LOOP_PRIORITY: i32 = 80;
const VMCU_PRIORITY: i32 = 70;

fn realtime() -> RtConfig {
    RtConfig {
        priority: Some(LOOP_PRIORITY),
        ..RtConfig::default()
    }
}

const HOME: [f64; 8] = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];

struct Vmcu {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
    link: PathBuf,
}

impl Vmcu {
    fn start(name: &str) -> Vmcu {
        Vmcu::start_with(name, false)
    }

    fn start_with(name: &str, slcan: bool) -> Vmcu {
        let dir = std::env::temp_dir().join(format!("embody-e2e-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let link = dir.join("bridge");
        let control = Arc::new(Control::default());
        let thread = {
            let config = if slcan {
                VmcuConfig::slcan("arm7", link.clone())
            } else {
                VmcuConfig::new("arm7", link.clone())
            }
            .expect("arm7 maps");
            let control = control.clone();
            std::thread::spawn(move || {
                // Refused without the privilege: the test then runs as before.
                let _ = embody_control::set_fifo_priority(VMCU_PRIORITY);
                embody_vmcu::run(&config, control).expect("vmcu runs")
            })
        };
        wait_for(|| link.exists(), "the link to appear");
        Vmcu {
            control,
            thread: Some(thread),
            link,
        }
    }
}

impl Drop for Vmcu {
    fn drop(&mut self) {
        self.control.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn wait_for(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn snapshot(client: &LoopClient) -> StateSnapshot {
    let mut s = StateSnapshot::new(8);
    assert!(client.snapshots().read(&mut s));
    s
}

/// arm7 and its generated default map (one bus for an SLCAN adapter).
fn arm7(one_bus: bool) -> (Arc<Model>, UnitSetup) {
    let model = Arc::new(robots::load("arm7", None).expect("arm7"));
    let map = DefaultMap {
        one_bus,
        ..DefaultMap::default()
    };
    let setup = defaults::setup(&model, "arm7", &map).expect("arm7 maps");
    (model, setup)
}

/// The loop on `robot`, on its own thread at 1 kHz, not yet armed. It waits 40 ms for a
/// new joint state (a robot's 5 ms is shorter than the stalls of CI's virtual machine,
/// which faulted the tracking test on stale sensors with overruns of up to 9 ticks).
fn start<R: Robot + 'static>(model: &Arc<Model>, robot: R) -> (RealtimeLoop<R>, LoopClient) {
    let mut control = ControlConfig::default();
    control.set_sensor_timeout(40.0);
    let running =
        RealtimeLoop::start(model, robot, control, realtime(), false, None).expect("loop thread");
    let client = running.client.clone();
    (running, client)
}

fn start_loop(link: &Path) -> (RealtimeLoop<BridgeRobot>, LoopClient) {
    let (model, setup) = arm7(false);
    let robot = BridgeRobot::connect(link, &model, &setup).expect("bridge answers");
    start(&model, robot)
}

fn arm_sine(t: f64) -> JointPoint {
    let w = std::f64::consts::PI;
    let mut p = JointPoint::at_rest(&HOME);
    for j in 0..7 {
        let a = 0.2 * if j % 2 == 0 { 1.0 } else { 0.5 };
        p.q[j] += a * (1.0 - (w * t).cos());
        p.dq[j] = a * w * (w * t).sin();
        p.ddq[j] = a * w * w * (w * t).cos();
    }
    p
}

fn stream(client: &LoopClient, end: JointPoint, duration_s: f64) {
    client
        .send_segment(Segment {
            duration_s,
            end,
            interpolation: Interpolation::Quintic,
        })
        .expect("queue");
}

#[test]
fn the_loop_tracks_a_trajectory_over_the_wire_and_survives_unplugging() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vmcu = Vmcu::start("track");
    let (handle, client) = start_loop(&vmcu.link);
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        snapshot(&client).lifecycle,
        Lifecycle::Running,
        "{:?}",
        client.drain_events()
    );
    stream(&client, JointPoint::at_rest(&HOME), 1.5);
    std::thread::sleep(Duration::from_millis(1700));

    // A 100 Hz planner, two segments ahead, judged over a window of 3 s; while the
    // machine stalls the loop too often to judge it, the sine goes on and the next 3 s
    // are judged instead (three windows at most).
    let start = Instant::now();
    let mut window = 1;
    let mut sent = 0u32;
    // Every sample's error; those of samples no stall of the machine touched (no 5 ms or
    // more of the loop's deadlines missed in the 150 ms before them) apart: a stalled virtual machine (CI's) holds the
    // loop or the virtual MCU up for tens of milliseconds, and the joints then trail the
    // reference for as long, however well the loop tracks.
    let mut errors = Vec::new();
    let mut undisturbed = Vec::new();
    let mut missed = client.timing().missed_deadlines;
    let mut stalled_at = Instant::now();
    loop {
        let t = start.elapsed().as_secs_f64();
        if t >= 3.0 * f64::from(window) {
            if undisturbed.len() >= errors.len() / 2 || window == 3 {
                break;
            }
            eprintln!(
                "window {window}: {} of {} samples undisturbed, judging the next 3 s",
                undisturbed.len(),
                errors.len()
            );
            (errors, undisturbed, window) = (Vec::new(), Vec::new(), window + 1);
        }
        while f64::from(sent) * 0.01 < t + 0.02 {
            sent += 1;
            stream(&client, arm_sine(f64::from(sent) * 0.01), 0.01);
        }
        let s = snapshot(&client);
        let now_missed = client.timing().missed_deadlines;
        if now_missed >= missed + 5 {
            stalled_at = Instant::now();
        }
        missed = now_missed;
        if t > 0.5 + 3.0 * f64::from(window - 1) {
            let error = (0..7)
                .map(|j| (s.q[j] - s.q_ref[j]).abs())
                .fold(0.0, f64::max);
            errors.push(error);
            if stalled_at.elapsed() > Duration::from_millis(150) {
                undisturbed.push(error);
            }
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    let events = client.drain_events();
    assert_eq!(
        snapshot(&client).lifecycle,
        Lifecycle::Running,
        "{events:?}"
    );
    // One tick of link latency each way, 16-bit positions on the wire (measured ~2.5 mrad):
    // the 99th percentile of the undisturbed samples, every 3 ms. A stall shows in the
    // others (0.034 rad seen under a parallel build; CI once had 0.021 rad in more than
    // 1 % of its samples with a fifth of the loop's deadlines missed); the worst of all
    // must stay that small.
    errors.sort_by(f64::total_cmp);
    undisturbed.sort_by(f64::total_cmp);
    let worst = errors[errors.len() - 1];
    let timing = client.timing();
    eprintln!(
        "over the wire: {} samples, {} undisturbed by a stall; tracking error p99 of those {:.4} rad, worst of all {worst:.4} rad; {} ticks, {} deadlines missed",
        errors.len(),
        undisturbed.len(),
        undisturbed
            .get(undisturbed.len() * 99 / 100)
            .unwrap_or(&f64::NAN),
        timing.ticks,
        timing.missed_deadlines,
    );
    assert!(
        undisturbed.len() >= errors.len() / 2,
        "the machine stalled the loop too often to judge its tracking: {} overruns",
        timing.overruns
    );
    let p99 = undisturbed[undisturbed.len() * 99 / 100];
    assert!(p99 < 0.01, "tracking error over the wire: p99 {p99:.4} rad");
    assert!(
        worst < 0.1,
        "tracking error over the wire: worst {worst:.4} rad"
    );
    // The loop ran or accounted for every deadline of the ~4.9 s, most of them run.
    assert!(timing.ticks + timing.missed_deadlines > 4500, "{timing:?}");
    assert!(timing.ticks > 3000, "{timing:?}");

    // Unplug: the host sees the link go, the loop damps then switches off; the bridge,
    // hearing nothing, damps and disables the motors on its side.
    vmcu.control.set_unplugged(true);
    wait_for(
        || snapshot(&client).lifecycle == Lifecycle::Fault,
        "the loop to fault",
    );
    wait_for(
        || vmcu.control.bridge_state() == 4,
        "the bridge to disable the motors",
    );
    let events = client.drain_events();
    assert!(
        events.iter().any(|e| matches!(
            e.kind,
            EventKind::Transition {
                to: Lifecycle::Fault,
                cause: Cause::Link { .. },
                ..
            }
        )),
        "{events:?}"
    );

    // Plug back in: the host reconnects and reconfigures; a reset brings the loop back.
    vmcu.control.set_unplugged(false);
    wait_for(
        || {
            let _ = client.request(Request::Reset);
            std::thread::sleep(Duration::from_millis(100));
            snapshot(&client).lifecycle == Lifecycle::Idle
        },
        "the loop to recover to idle",
    );
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    wait_for(
        || snapshot(&client).lifecycle == Lifecycle::Running,
        "running again",
    );
    wait_for(
        || vmcu.control.bridge_state() == 2,
        "the bridge to be active again",
    );
    let (_, robot, _) = handle.stop().expect("loop stops");
    assert_eq!(robot.reconnections(), 1);
}

#[test]
fn corrupted_bytes_both_ways_are_counted_and_survived() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vmcu = Vmcu::start("garbage");
    let (handle, client) = start_loop(&vmcu.link);
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    std::thread::sleep(Duration::from_millis(200));
    // Bridge → host: one flipped bit every 3000 bytes (a frame in ten or so).
    vmcu.control.corrupt_output(3000);
    // Host → bridge: garbage and a truncated frame from a second writer on the port.
    {
        use std::io::Write;
        let mut port = std::fs::OpenOptions::new()
            .write(true)
            .open(&vmcu.link)
            .expect("open the port");
        for _ in 0..20 {
            port.write_all(&[0x00, 0x13, 0x37, 0xFF, 0x00, 0x05, 0x01, 0x02, 0x00])
                .expect("write");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    vmcu.control.corrupt_output(0);
    std::thread::sleep(Duration::from_millis(200));
    let events = client.drain_events();
    assert_eq!(
        snapshot(&client).lifecycle,
        Lifecycle::Running,
        "{events:?}"
    );
    assert!(
        vmcu.control.frames_bad() >= 20,
        "bridge counted {}",
        vmcu.control.frames_bad()
    );
    let (_, robot, _) = handle.stop().expect("loop stops");
    let health = robot.link_health();
    eprintln!(
        "link health {health:?}, bridge dropped {}",
        vmcu.control.frames_bad()
    );
    assert!(
        health.frames_bad > 10,
        "host counted {} bad frames",
        health.frames_bad
    );
    assert!(health.frames_ok > 1000);
}

#[test]
fn the_loop_drives_mit_motors_through_an_slcan_adapter() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vmcu = Vmcu::start_with("slcan", true);
    let (model, setup) = arm7(true);
    let robot = SlcanRobot::connect(&vmcu.link, &model, &setup).expect("adapter answers");
    let (handle, client) = start(&model, robot);
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    std::thread::sleep(Duration::from_millis(200));
    stream(&client, JointPoint::at_rest(&HOME), 1.0);
    std::thread::sleep(Duration::from_millis(1500));
    let s = snapshot(&client);
    let events = client.drain_events();
    assert_eq!(s.lifecycle, Lifecycle::Running, "{events:?}");
    for (j, (q, home)) in s.q.iter().zip(HOME).take(7).enumerate() {
        assert!((q - home).abs() < 0.01, "joint {j} at {q} not {home}");
    }
    let (_, robot, _) = handle.stop().expect("loop stops");
    assert!(robot.link_health().frames_ok > 1000);
}
