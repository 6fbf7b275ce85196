//! Records a robot to Rerun: the humanoid holds its stance in simulation for two
//! seconds while the loop's snapshots — the model posed from the joints, joint series,
//! contact forces, events and timing — go into a recording file that the Rerun viewer
//! opens (`rerun humanoid.rrd`). Any other sink works the same way: `Sink::Spawn` starts
//! a viewer, `Sink::Connect` streams to a running one.
//!
//! `cargo run -p embody-runtime --example record_rerun [OUT.rrd]`

use embody_runtime::{Backend, Drive, Quiet, Session};
use embody_viz::{Sink, VizConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("humanoid.rrd")
            .display()
            .to_string()
    });
    let session = Session {
        robot: Some("humanoid".into()),
        rerun: Some(VizConfig::new(Sink::Save(out.clone().into()), "humanoid")),
        stop_after_s: Some(2.0),
        ..Session::new(Backend::simulator(), Drive::Hold)
    };
    let report = session.run(&mut Quiet)?;
    let unit = &report.units[0];
    let base = unit.base_pose.ok_or("the humanoid has a floating base")?;
    let size = std::fs::metadata(&out)?.len();
    println!(
        "recorded {:.1} s of {} to {out} ({size} bytes); the loop is {:?}, the base at {:.3} m",
        unit.loop_s, unit.name, unit.snapshot.lifecycle, base[2]
    );
    if size == 0 || base[2] < 0.9 {
        return Err("the recording is empty or the humanoid fell".into());
    }
    Ok(())
}
