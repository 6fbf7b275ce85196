//! The host loop the master tests (CiA 402 drives, servos) run their robots with.

use std::time::{Duration, Instant};

use embody_hal::{CommandFrame, JointCommand, Robot, SensorFrame, Timestamp};

/// Runs `robot` for `seconds` at about 200 Hz with `command(k)` for each of its `joints`
/// joints; says how many ticks' reads failed, of how many.
pub fn drive(
    robot: &mut dyn Robot,
    joints: usize,
    seconds: f64,
    command: impl Fn(usize) -> JointCommand,
    frame: &mut SensorFrame,
) -> (u64, u64) {
    let mut commands = CommandFrame::new(joints);
    for (k, c) in commands.joints.iter_mut().enumerate() {
        *c = command(k);
    }
    let start = Instant::now();
    let (mut failed, mut ticks) = (0, 0);
    while start.elapsed().as_secs_f64() < seconds {
        ticks += 1;
        let now = Timestamp::from_nanos(start.elapsed().as_nanos() as u64);
        if robot.read(now, frame).is_err() {
            failed += 1;
        }
        robot
            .write(now, &commands)
            .expect("a command for each joint");
        std::thread::sleep(Duration::from_millis(5));
    }
    (failed, ticks)
}
