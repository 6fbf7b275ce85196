//! Recording a simulated run as JSON Lines: a header naming the robot, its joints, the
//! step and the dynamic objects, then one line per recorded tick with the time, the full
//! state, the motor torques, the robot's contact count and summed contact force (its
//! ground reaction when it stands), each object's pose and the objects' contact forces.
//! Floats are written shortest-round-trip, so two runs are bit-identical exactly when
//! their recordings are byte-identical. Not for the loop thread: it formats and writes.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::world::World;

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordHeader {
    /// Robot name.
    pub robot: String,
    /// Actuated joint names, in order.
    pub joints: Vec<String>,
    /// Physics step (s).
    pub dt_s: f64,
    /// Sizes of `q` and `v`.
    pub nq: usize,
    /// Size of `v`.
    pub nv: usize,
    /// The dynamic objects, in the order of each line's `objects`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
}

/// One recorded tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateRecord {
    /// Simulated time (s).
    pub t: f64,
    /// Configuration.
    pub q: Vec<f64>,
    /// Velocity.
    pub v: Vec<f64>,
    /// Motor torques (N·m), joint order.
    pub tau: Vec<f64>,
    /// Active contact points.
    pub contacts: usize,
    /// The sum of their forces on the robot (world; N): standing, its ground reaction.
    #[serde(default)]
    pub contact_force_n: [f64; 3],
    /// Each object's pose, `x y z qx qy qz qw` (world).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<[f64; 7]>,
    /// The objects' contact forces: point and force on the pair's second body,
    /// `px py pz fx fy fz` (world; m, N).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_contacts: Vec<[f64; 6]>,
}

/// Writes a recording.
pub struct Recorder<W: Write> {
    out: W,
    lines: u64,
}

impl<W: Write> Recorder<W> {
    /// Starts a recording of `world` into `out` with its header.
    pub fn new(mut out: W, world: &World) -> std::io::Result<Recorder<W>> {
        let model = world.model();
        let header = RecordHeader {
            robot: model.name.clone(),
            joints: model
                .actuated_joints()
                .map(|j| model.joints[j.0].name.clone())
                .collect(),
            dt_s: world.config().dt_s,
            nq: model.nq,
            nv: model.nv,
            objects: world.objects().names().to_vec(),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(Recorder { out, lines: 1 })
    }

    /// Appends the world's current state.
    pub fn record(&mut self, world: &World) -> std::io::Result<()> {
        let record = StateRecord {
            t: world.time_s(),
            q: world.q().as_slice().to_vec(),
            v: world.v().as_slice().to_vec(),
            tau: world.motor_torques().to_vec(),
            contacts: world.contacts().active().len(),
            contact_force_n: (world.contacts().active().iter())
                .fold([0.0; 3], |sum, c| [0, 1, 2].map(|i| sum[i] + c.force[i])),
            objects: (0..world.objects().len())
                .filter_map(|k| world.objects().pose(k))
                .collect(),
            object_contacts: (world.objects().contact_forces().iter())
                .map(|c| c.to_array())
                .collect(),
        };
        serde_json::to_writer(&mut self.out, &record)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    /// Lines written so far, header included.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
