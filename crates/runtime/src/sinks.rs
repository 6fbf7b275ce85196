//! Where a session's state goes besides the loop: Rerun recordings (one per unit, the
//! units of a fleet in one recording side by side) and the simulator's state record
//! (JSON Lines, every tick, the first unit). A simulated robot's recording shows its
//! scene too: the static boxes and the objects, moving, with their contact forces, and
//! its cameras' images (in lockstep).
//! Recorders run between lockstep ticks or on
//! their own thread in real time, never on the loop thread.

use std::io::BufWriter;
use std::path::Path;

use embody_control::{ControlConfig, StateSnapshot};
use embody_hal::Robot;
use embody_model::{Model, Shape};
use embody_sim::objects::ObjectShape;
use embody_viz::{Clock, Recorder, RecordingStream, SceneItem, VizConfig};

use crate::error::RuntimeError;
use crate::robot::AnyRobot;

/// The simulator's state record.
pub(crate) type StateRecorder = embody_sim::Recorder<BufWriter<std::fs::File>>;

/// `base` completed for unit `k` of `units` on `robot`: the timeline, its force sensors'
/// frames, the simulator's scene, a floating base's feet, and for a fleet its own name
/// and place.
pub(crate) fn viz_config(
    base: &VizConfig,
    model: &Model,
    robot: &AnyRobot,
    control: &ControlConfig,
    clock: Clock,
    (k, units): (usize, usize),
) -> VizConfig {
    let mut viz = base.clone();
    viz.clock = clock;
    viz.force_frames = (robot.capabilities().force_torque.iter())
        .map(|f| f.frame.clone())
        .collect();
    viz.scene = scene_items(robot);
    if model.free_flyer().is_some() {
        viz.feet = control.estimator.base.feet.clone();
    }
    if units > 1 {
        viz.unit = format!("{}-{k}", viz.unit);
        viz.origin = [0.0, 1.5 * k as f64, 0.0];
    }
    viz
}

/// A recorder for `viz`, into `stream` when a fleet shares one (which it then opens).
pub(crate) fn recorder(
    viz: VizConfig,
    model: &Model,
    stream: &mut Option<RecordingStream>,
) -> Result<Recorder, RuntimeError> {
    let recorder = match stream {
        Some(stream) => Recorder::on(stream.clone(), viz, model)?,
        None => Recorder::new(viz, model)?,
    };
    stream.get_or_insert_with(|| recorder.stream().clone());
    Ok(recorder)
}

/// The simulator's static boxes (`table_<k>`) and objects, to draw beside the robot.
fn scene_items(robot: &AnyRobot) -> Vec<SceneItem> {
    let Some(sim) = robot.sim() else {
        return Vec::new();
    };
    let world = sim.world();
    let environment = world.environment();
    let boxes = environment.boxes.iter().enumerate().map(|(k, b)| {
        let q = nalgebra::UnitQuaternion::from_matrix(&b.rotation());
        SceneItem {
            name: format!("box_{k}"),
            shape: Shape::Box {
                size: b.size.into(),
            },
            pose: [b.center[0], b.center[1], b.center[2], q.i, q.j, q.k, q.w],
            offset: [0.0; 3],
            fixed: true,
        }
    });
    let objects = world.objects();
    let moving = (environment.objects.iter().enumerate()).filter_map(|(k, object)| {
        let geometry = object.geometry().ok()?;
        let offset = match &geometry {
            ObjectShape::Hull(mesh) => mesh.centre.map(|c| -c),
            _ => [0.0; 3],
        };
        let shape = match geometry {
            ObjectShape::Box { size } => Shape::Box { size: size.into() },
            ObjectShape::Sphere { radius } => Shape::Sphere { radius },
            ObjectShape::Cylinder { radius, length } => Shape::Cylinder { radius, length },
            ObjectShape::Capsule { radius, length } => Shape::Capsule { radius, length },
            // The mesh file itself (Rerun reads STL and OBJ).
            ObjectShape::Hull(mesh) => Shape::Mesh {
                filename: mesh.path.display().to_string(),
                scale: nalgebra::Vector3::repeat(mesh.scale),
            },
        };
        Some(SceneItem {
            name: objects.names().get(k)?.clone(),
            shape,
            pose: objects.pose(k)?,
            offset,
            // Every object's pose comes each time, a fixed one's too.
            fixed: false,
        })
    });
    boxes.chain(moving).collect()
}

/// Records the simulated cameras' newest images (each once, at its capture time on the
/// loop's clock).
pub(crate) fn record_cameras(
    recorder: &mut Recorder,
    robot: &AnyRobot,
) -> Result<(), RuntimeError> {
    use embody_hal::Camera;
    let Some(sim) = robot.sim() else {
        return Ok(());
    };
    for camera in sim.cameras() {
        if let Some(image) = camera.images().latest() {
            recorder.camera(image.captured.as_secs_f64(), camera.info(), &image)?;
        }
    }
    Ok(())
}

/// Records the simulator's objects (poses and contact forces) at `t_s`.
pub(crate) fn record_scene(
    recorder: &mut Recorder,
    robot: &AnyRobot,
    t_s: f64,
) -> Result<(), RuntimeError> {
    let Some(sim) = robot.sim() else {
        return Ok(());
    };
    if !recorder.scene_due(t_s) {
        return Ok(()); // nothing to gather this tick
    }
    let objects = sim.world().objects();
    let poses: Vec<[f64; 7]> = (0..objects.len()).filter_map(|k| objects.pose(k)).collect();
    let contacts: Vec<[f64; 6]> = (objects.contact_forces().iter())
        .map(|c| c.to_array())
        .collect();
    Ok(recorder.scene_state(t_s, &poses, &contacts)?)
}

/// A state record of `robot`'s simulator into `path`.
pub(crate) fn state_recorder(path: &Path, robot: &AnyRobot) -> Result<StateRecorder, RuntimeError> {
    let io = |source| RuntimeError::Io {
        path: path.to_owned(),
        source,
    };
    let Some(sim) = robot.sim() else {
        return Err(RuntimeError::Invalid(
            "a state record needs the simulator".into(),
        ));
    };
    let file = std::fs::File::create(path).map_err(io)?;
    embody_sim::Recorder::new(BufWriter::new(file), sim.world()).map_err(io)
}

/// Overwrites the loop's view in `snapshot` with the simulator's truth: joint
/// positions, velocities and motor torques, and the base pose (references stay the
/// loop's).
pub(crate) fn true_state(robot: &AnyRobot, snapshot: &mut StateSnapshot) {
    let Some(sim) = robot.sim() else {
        return;
    };
    let world = sim.world();
    let model = world.model();
    let (q, v, tau) = (world.q(), world.v(), world.motor_torques());
    for (k, j) in model.actuated_joints().enumerate().take(snapshot.n) {
        let joint = &model.joints[j.0];
        snapshot.q[k] = q[joint.idx_q];
        snapshot.dq[k] = v[joint.idx_v];
        snapshot.tau_measured[k] = tau[k];
    }
    if model.free_flyer().is_some() {
        snapshot.base_pose.copy_from_slice(&q.as_slice()[..7]);
    }
}
