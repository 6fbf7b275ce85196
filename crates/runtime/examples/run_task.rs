//! Runs a task in simulation: `examples/tasks/pick_and_place.toml` on the built-in arm,
//! in lockstep under the real control loop, and prints each step as it ends and the
//! task's outcome. What `embody run examples/tasks/pick_and_place.toml` does, through
//! the library.
//!
//! `cargo run -p embody-runtime --example run_task [TASK.toml]`

use embody_planner::{Progress, Status};
use embody_runtime::{Backend, Drive, Observer, Session, Task, describe_progress};

/// Prints every step as it ends.
struct Steps;

impl Observer for Steps {
    fn progress(&mut self, _unit: usize, progress: &Progress) {
        if let Progress::Ended(_) = progress {
            let (at_s, text, _) = describe_progress(progress);
            println!("{at_s:6.2} s  {text}");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/tasks/pick_and_place.toml"
        )
        .into()
    });
    // Read and parsed now: a bad file is refused before any robot exists.
    let task = Task::load(path.as_ref())?;
    let session = Session::new(Backend::simulator(), Drive::Task(task));
    let report = session.run(&mut Steps)?;
    let unit = &report.units[0];
    let task = unit.task.as_ref().ok_or("no task ran")?;
    println!(
        "{} on {}: {:?} after {:.2} s of loop time ({:.0}× real time), final tracking error {:.4} rad",
        task.name,
        unit.name,
        task.status,
        unit.loop_s,
        unit.loop_s / report.wall_s,
        unit.tracking_error()
    );
    match task.status {
        Status::Succeeded => Ok(()),
        _ => Err("the task failed".into()),
    }
}
