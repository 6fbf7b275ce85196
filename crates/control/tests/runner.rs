//! The loop thread: absolute deadlines without drift on the system clock, lockstep on a
//! manual clock, real-time settings that fall back when refused, and a stop that hands
//! back the robot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use embody_control::{ControlConfig, ControlError, LoopCore, Request, RtConfig, spawn};
use embody_hal::{Clock, ManualClock, MockRobot, Robot, SystemClock, Timestamp};
use embody_model::robots;

fn arm_loop(rate_hz: f64) -> (LoopCore, embody_control::LoopClient, MockRobot) {
    let model = Arc::new(robots::load("arm7", None).expect("arm7"));
    let robot = MockRobot::new(&model);
    let config = ControlConfig {
        rate_hz,
        ..ControlConfig::default()
    };
    let (core, client) = LoopCore::new(model, robot.capabilities(), config).expect("loop");
    (core, client, robot)
}

#[test]
fn five_thousand_ticks_on_the_system_clock_keep_to_their_absolute_deadlines() {
    let (core, client, robot) = arm_loop(5000.0);
    client.request(Request::Arm).expect("queue");
    client.request(Request::Start).expect("queue");
    // Ask for everything; an unprivileged run is refused SCHED_FIFO and mlockall, and
    // must carry on regardless.
    let rt = RtConfig {
        priority: Some(10),
        cpu: Some(0),
        lock_memory: true,
    };
    let started = Instant::now();
    let handle = spawn(core, robot, SystemClock, rt).expect("spawn");
    assert!(handle.rt_status().priority.is_some() && handle.rt_status().cpu.is_some());
    while client.timing().ticks < 5000 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (core, _robot) = handle.stop().expect("loop stops");
    let timing = client.timing();
    // Ticks run plus deadlines skipped by overruns account for the time elapsed: the
    // loop neither drifted nor made up missed ticks in a burst.
    let scheduled = (timing.ticks + timing.missed_deadlines) as f64 / 5000.0;
    assert!(
        (scheduled - elapsed).abs() < 0.1,
        "{scheduled:.3} s of deadlines in {elapsed:.3} s"
    );
    assert_eq!(core.lifecycle(), embody_control::Lifecycle::Running);
    assert!(timing.jitter.count >= 5000 && timing.compute.p50_ns > 0);
}

#[test]
fn lockstep_on_a_manual_clock_runs_faster_than_real_time_and_exactly_on_the_period() {
    let (core, client, robot) = arm_loop(1000.0);
    let clock = ManualClock::new(Timestamp::ZERO);
    let started = Instant::now();
    let handle = spawn(core, robot, clock.clone(), RtConfig::default()).expect("spawn");
    while client.timing().ticks < 5000 {
        std::thread::yield_now();
    }
    let (_, _) = handle.stop().expect("loop stops");
    let ticks = client.timing().ticks;
    // Tick k (from 1) ran at exactly (k − 1) ms: the clock stands at the last tick's time.
    assert_eq!(clock.now().as_nanos(), (ticks - 1) * 1_000_000);
    assert!(
        started.elapsed().as_secs_f64() < ticks as f64 * 1e-3,
        "lockstep is faster than real time"
    );
    assert_eq!(client.timing().jitter.max_ns, 0);
}

#[test]
fn rates_outside_100_hz_to_10_khz_are_refused() {
    let model = Arc::new(robots::load("arm7", None).expect("arm7"));
    let robot = MockRobot::new(&model);
    for rate_hz in [50.0, 20_000.0, f64::NAN] {
        let config = ControlConfig {
            rate_hz,
            ..ControlConfig::default()
        };
        let err = LoopCore::new(model.clone(), robot.capabilities(), config).err();
        assert!(matches!(err, Some(ControlError::Rate(_))), "{rate_hz}");
    }
}
