//! [`SimRobot`]: the simulator behind the HAL [`Robot`] interface. `read(now)` advances
//! the world in whole steps up to `now` (in lockstep the loop's manual clock decides how
//! far; in real time the wall clock does) and returns the sensors' view, `write` queues
//! the commands the actuators follow. Command and feedback latency, and faults injected
//! through [`SimFaults`] from any thread, act here; the scene objects' poses are
//! published to any thread through [`ObjectView`]. Real-time safe: `read` and `write`
//! never allocate.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use embody_hal::{
    Capabilities, CommandFrame, CommandModes, FaultBits, FaultSwitches, ForceTorqueInfo, HalError,
    JointCommand, LinkHealth, Robot, SensorFrame, Timestamp,
};
use embody_model::{FrameId, Model};

use crate::config::SimConfig;
use crate::contact::Environment;
use crate::sensors::{MeasureInput, Sensors};
use crate::world::{JointFault, World};

/// Longest latency (ticks), command or feedback, spikes included.
pub const MAX_LATENCY_TICKS: usize = 63;

/// The scene objects' poses `[x y z qx qy qz qw]` as of the robot's last read, in
/// [`crate::objects::Objects::names`]' order; clones share them. The robot updates
/// them when nobody is reading (it never waits), so they lag by a read at most.
#[derive(Clone, Debug, Default)]
pub struct ObjectView(Arc<Mutex<Vec<[f64; 7]>>>);

impl ObjectView {
    /// Copies the poses into `into`.
    pub fn read(&self, into: &mut Vec<[f64; 7]>) {
        match self.0.lock() {
            Ok(poses) => into.clone_from(&poses),
            Err(poisoned) => into.clone_from(&poisoned.into_inner()),
        }
    }

    fn publish(&self, objects: &crate::objects::Objects) {
        if let Ok(mut poses) = self.0.try_lock() {
            for (k, pose) in poses.iter_mut().enumerate() {
                if let Some(p) = objects.pose(k) {
                    *pose = p;
                }
            }
        }
    }
}

/// Faults to inject into a running [`SimRobot`]; clones share the same switches. The
/// common ones ([`FaultSwitches`]: link down, frozen, e-stop, IMU dropout, actuator fault
/// bits) are reached through it; a drive reporting fault bits also stops producing
/// torque here. The rest are the simulator's own.
#[derive(Clone, Debug)]
pub struct SimFaults {
    inner: Arc<Switches>,
}

#[derive(Debug)]
struct Switches {
    common: FaultSwitches,
    joints_dropout: AtomicBool,
    force_dropout: AtomicBool,
    extra_latency: AtomicUsize,
    stuck: Vec<AtomicBool>,
}

impl std::ops::Deref for SimFaults {
    type Target = FaultSwitches;

    fn deref(&self) -> &FaultSwitches {
        &self.inner.common
    }
}

impl SimFaults {
    fn new(n: usize) -> SimFaults {
        SimFaults {
            inner: Arc::new(Switches {
                common: FaultSwitches::new(n),
                joints_dropout: AtomicBool::new(false),
                force_dropout: AtomicBool::new(false),
                extra_latency: AtomicUsize::new(0),
                stuck: (0..n).map(|_| AtomicBool::new(false)).collect(),
            }),
        }
    }

    /// Joint readings stop arriving: reads time out while set.
    pub fn set_joints_dropout(&self, dropout: bool) {
        self.inner.joints_dropout.store(dropout, Ordering::Release);
    }

    /// The force-torque sensors stop producing samples while set.
    pub fn set_force_dropout(&self, dropout: bool) {
        self.inner.force_dropout.store(dropout, Ordering::Release);
    }

    /// Extra feedback latency in ticks (a latency spike), 0 to clear.
    pub fn set_extra_latency(&self, ticks: usize) {
        self.inner.extra_latency.store(ticks, Ordering::Release);
    }

    /// The joint's gearbox sticks where it is while set. Ignored for an unknown joint.
    pub fn set_stuck(&self, joint: usize, stuck: bool) {
        if let Some(s) = self.inner.stuck.get(joint) {
            s.store(stuck, Ordering::Release);
        }
    }
}

/// Where the simulated robot carries its IMU and force-torque sensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensorMounts {
    /// Frame of the IMU.
    pub imu_frame: Option<String>,
    /// Frames of the force-torque sensors.
    pub force_torque_frames: Vec<String>,
}

impl SensorMounts {
    /// The usual mounts found by frame name: an IMU in the first frame whose name
    /// contains `imu` (floating-base robots only), force-torque sensors in frames ending
    /// in `sole`.
    pub fn detect(model: &Model) -> SensorMounts {
        let imu_frame = model
            .free_flyer()
            .and_then(|_| model.frames.iter().find(|f| f.name.contains("imu")))
            .map(|f| f.name.clone());
        let force_torque_frames = model
            .frames
            .iter()
            .filter(|f| f.name.ends_with("sole"))
            .map(|f| f.name.clone())
            .collect();
        SensorMounts {
            imu_frame,
            force_torque_frames,
        }
    }
}

/// Errors building a simulated robot.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SimError {
    /// A sensor mount names a frame the model does not have.
    #[error("no frame named '{0}' to mount a sensor on")]
    UnknownFrame(String),
    /// A camera makes no sense.
    #[error("cameras[{index}].{key}: {reason}")]
    BadCamera {
        /// Its index.
        index: usize,
        /// The key.
        key: String,
        /// Why it is refused.
        reason: String,
    },
    /// A setting is out of range.
    #[error("sim.{key}: {reason}")]
    BadSetting {
        /// The setting.
        key: String,
        /// Why it is refused.
        reason: String,
    },
}

/// A simulated robot. See the module docs.
pub struct SimRobot {
    world: World,
    caps: Capabilities,
    sensors: Sensors,
    faults: SimFaults,
    objects: ObjectView,
    cameras: Vec<crate::camera::SimCamera>,
    health: LinkHealth,
    dt_ns: u64,
    start: Option<Timestamp>,
    last_measure: Option<Timestamp>,
    seq: u64,
    /// Measured frames, newest at `reads % len`.
    feedback: Vec<SensorFrame>,
    reads: usize,
    /// Read index of the frame delivered last.
    delivered: usize,
    /// Commands written, newest at `writes % len`.
    commands: Vec<Vec<JointCommand>>,
    writes: usize,
    fault_bits: Vec<FaultBits>,
}

impl SimRobot {
    /// Starts `configs`' cameras on this robot, each on its own thread, their depth noise
    /// seeded from `seed`. They draw the simulator's state at their rate as time
    /// advances (see [`crate::camera`]).
    pub fn add_cameras(
        &mut self,
        configs: &[crate::camera::CameraConfig],
        seed: u64,
    ) -> Result<(), SimError> {
        for (index, config) in configs.iter().enumerate() {
            let info = (config.info(self.world.model()))
                .map_err(|(key, reason)| SimError::BadCamera { index, key, reason })?;
            self.cameras.push(crate::camera::SimCamera::spawn(
                info,
                config.depth_noise_m,
                self.world.model().clone(),
                self.world.environment(),
                seed.wrapping_add(index as u64),
            ));
        }
        Ok(())
    }

    /// Its cameras.
    pub fn cameras(&self) -> &[crate::camera::SimCamera] {
        &self.cameras
    }

    /// Its cameras, to inject faults into.
    pub fn cameras_mut(&mut self) -> &mut [crate::camera::SimCamera] {
        &mut self.cameras
    }

    /// Makes its cameras draw every frame before simulated time goes on (lockstep), or
    /// skip the frames due while they draw (real time, the default).
    pub fn cameras_wait_for_frames(&mut self, wait: bool) {
        for camera in &mut self.cameras {
            camera.wait_for_frames(wait);
        }
    }

    /// `model` in `environment` with sensors at `mounts`, at its neutral configuration.
    pub fn new(
        model: Arc<Model>,
        environment: &Environment,
        config: SimConfig,
        mounts: &SensorMounts,
    ) -> Result<SimRobot, SimError> {
        check(&config)?;
        let frame = |name: &String| {
            model
                .frame_id(name)
                .ok_or_else(|| SimError::UnknownFrame(name.clone()))
        };
        let imu: Option<FrameId> = mounts.imu_frame.as_ref().map(frame).transpose()?;
        let ft: Vec<FrameId> = mounts
            .force_torque_frames
            .iter()
            .map(frame)
            .collect::<Result<_, _>>()?;
        let mut caps = Capabilities::from_model(&model, CommandModes::ALL);
        caps.imu_frame = mounts.imu_frame.clone();
        caps.force_torque = mounts
            .force_torque_frames
            .iter()
            .map(|f| ForceTorqueInfo {
                name: f.clone(),
                frame: f.clone(),
            })
            .collect();
        caps.max_rate_hz = 1.0 / config.dt_s;
        let dt_ns = (config.dt_s * 1e9).round() as u64;
        let peak: Vec<f64> = model
            .actuated_joints()
            .map(|j| model.joints[j.0].limits.effort * config.actuator.peak_torque_scale)
            .collect();
        let n = peak.len();
        let sensors = Sensors::new(&model, &config.sensors, config.seed, imu, ft, peak);
        crate::objects::Objects::check(environment).map_err(|e| SimError::BadSetting {
            key: format!("environment.objects[{}]", e.index),
            reason: format!("{}: {}", e.name, e.reason),
        })?;
        let world = World::new(model, environment, config);
        let objects = ObjectView(Arc::new(Mutex::new(vec![[0.0; 7]; world.objects().len()])));
        objects.publish(world.objects());
        let frame = SensorFrame::for_robot(&caps);
        Ok(SimRobot {
            feedback: vec![frame; MAX_LATENCY_TICKS + 1],
            commands: vec![vec![JointCommand::Off; n]; MAX_LATENCY_TICKS + 1],
            fault_bits: vec![FaultBits::NONE; n],
            faults: SimFaults::new(n),
            objects,
            cameras: Vec::new(),
            world,
            caps,
            sensors,
            health: LinkHealth::default(),
            dt_ns,
            start: None,
            last_measure: None,
            seq: 0,
            reads: 0,
            delivered: 0,
            writes: 0,
        })
    }

    /// The simulated world (state, contacts, energy).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The simulated world, to set its state before a run.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The switches that inject faults into this robot.
    pub fn faults(&self) -> SimFaults {
        self.faults.clone()
    }

    /// The scene objects' poses, readable from any thread while the robot runs.
    pub fn object_view(&self) -> ObjectView {
        self.objects.clone()
    }

    /// Sets the actuated joints' positions (rad), in joint order, at rest.
    pub fn set_joint_positions(&mut self, positions: &[f64]) {
        let model = self.world.model().clone();
        let mut q = self.world.q().clone();
        for (j, &value) in model.actuated_joints().zip(positions) {
            q[model.joints[j.0].idx_q] = value;
        }
        let v = vec![0.0; model.nv];
        self.world.set_state(q.as_slice(), &v);
    }

    fn sync_faults(&mut self) {
        let switches = &self.faults.inner;
        for k in 0..self.fault_bits.len() {
            let bits = self.faults.joint_faults(k);
            self.fault_bits[k] = bits;
            let stuck = switches.stuck[k].load(Ordering::Acquire);
            let current = self.world.fault(k);
            let stuck_at = match (stuck, current.stuck_at) {
                (true, Some(at)) => Some(at),
                (true, None) => Some(self.world.joint(k).0),
                (false, _) => None,
            };
            self.world.set_fault(
                k,
                JointFault {
                    disabled: !bits.is_empty(),
                    stuck_at,
                },
            );
        }
    }

    fn advance_to(&mut self, now: Timestamp) {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.nanos_since(start).max(0) as u64;
        let target = elapsed / self.dt_ns.max(1);
        while self.world.steps() < target {
            self.world.step();
        }
        if !self.world.objects().is_empty() {
            self.objects.publish(self.world.objects());
        }
        for camera in &mut self.cameras {
            camera.offer(now, &self.world);
        }
    }

    fn measure(&mut self, now: Timestamp) {
        let switches = &self.faults.inner;
        let previous = self.reads % self.feedback.len();
        self.reads += 1;
        let slot = self.reads % self.feedback.len();
        // The new slot starts as a copy of the newest frame: what a frozen sensor or a
        // dropped-out IMU keeps reporting.
        copy_slot(&mut self.feedback, previous, slot);
        if self.faults.frozen() {
            return;
        }
        let elapsed_s = self
            .last_measure
            .map_or(0.0, |last| now.nanos_since(last).max(0) as f64 * 1e-9);
        self.last_measure = Some(now);
        self.seq += 1;
        let frame = &mut self.feedback[slot];
        frame.stamp = now;
        frame.seq = self.seq;
        frame.estop = self.faults.estop();
        self.sensors.measure(
            MeasureInput {
                world: &self.world,
                now,
                elapsed_s,
                faults: &self.fault_bits,
                imu_live: !self.faults.imu_dropout(),
                ft_live: !switches.force_dropout.load(Ordering::Acquire),
            },
            frame,
        );
    }
}

/// Copies frame `from` over frame `to` in a ring.
fn copy_slot(frames: &mut [SensorFrame], from: usize, to: usize) {
    if from == to {
        return;
    }
    let (lo, hi) = (from.min(to), from.max(to));
    let (left, right) = frames.split_at_mut(hi);
    if from < to {
        copy_frame(&mut right[0], &left[lo]);
    } else {
        copy_frame(&mut left[lo], &right[0]);
    }
}

/// Copies `src` into `dst` without allocating (same robot, same sizes).
fn copy_frame(dst: &mut SensorFrame, src: &SensorFrame) {
    dst.stamp = src.stamp;
    dst.seq = src.seq;
    dst.estop = src.estop;
    dst.imu = src.imu;
    let n = dst.joints.len().min(src.joints.len());
    dst.joints[..n].copy_from_slice(&src.joints[..n]);
    let m = dst.force_torque.len().min(src.force_torque.len());
    dst.force_torque[..m].copy_from_slice(&src.force_torque[..m]);
}

fn check(config: &SimConfig) -> Result<(), SimError> {
    config
        .check()
        .map_err(|(key, reason)| SimError::BadSetting { key, reason })
}

impl Robot for SimRobot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        self.sync_faults();
        self.advance_to(now);
        let switches = Arc::clone(&self.faults.inner);
        if switches.common.link_down() {
            self.health.connected = false;
            self.health.timeouts += 1;
            return Err(HalError::LinkDown);
        }
        HalError::check_joint_count(self.fault_bits.len(), frame.joints.len())?;
        if switches.joints_dropout.load(Ordering::Acquire) {
            self.health.timeouts += 1;
            return Err(HalError::Timeout);
        }
        self.measure(now);
        let latency = (self.world.config().sensors.feedback_latency_ticks
            + switches.extra_latency.load(Ordering::Acquire))
        .min(MAX_LATENCY_TICKS)
        .min(self.reads - 1);
        // Never deliver an older frame than last time: a growing delay stalls.
        let index = (self.reads - latency).max(self.delivered);
        self.delivered = index;
        let len = self.feedback.len();
        copy_frame(frame, &self.feedback[index % len]);
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        Ok(())
    }

    fn write(&mut self, _now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        if self.faults.link_down() {
            return Err(HalError::LinkDown);
        }
        HalError::check_joint_count(self.fault_bits.len(), frame.joints.len())?;
        self.writes += 1;
        let len = self.commands.len();
        self.commands[self.writes % len].copy_from_slice(&frame.joints);
        let latency = self
            .world
            .config()
            .sensors
            .command_latency_ticks
            .min(self.writes - 1);
        let applied = (self.writes - latency) % len;
        self.world.set_commands(&self.commands[applied]);
        Ok(())
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}
