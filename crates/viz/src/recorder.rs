//! The recorder: turns the loop's state snapshots into Rerun data without touching the
//! loop thread. Joint series (measured and commanded position, velocity, torque) go out
//! in 50 ms columns with `send_columns`, one multi-series entity per quantity; link
//! poses from forward kinematics of the measured joints at a lower rate (60 Hz by
//! default); the model's visual shapes once, statically; loop events as text logs.
//!
//! Entity paths, under `robot/<unit>/`:
//! - `links/<link>`: the link's pose in the world (`Transform3D`), with its visual shapes
//!   as children `links/<link>/visual_<k>` (a static offset and the shape);
//! - `joints/q`, `joints/q_ref`, `joints/dq`, `joints/dq_ref`, `joints/tau`,
//!   `joints/tau_ref`: measured and commanded position, velocity and torque, one series
//!   per joint, named by the joint, in joint order;
//! - `base/position` (x, y, z in m) and `base/attitude` (roll, pitch, yaw in rad): the
//!   estimated base pose of a floating-base robot, whose attitude comes from the IMU;
//! - `contacts`: the feet in contact, as points at their sole frames (60 Hz);
//! - `contact_forces`: the force-torque sensors' forces as arrows at their frames, in the
//!   world, 1 mm per newton (60 Hz);
//! - `scene/<name>`: the simulator's static boxes and objects, an object's pose over
//!   time (at the link poses' rate), with its shape as the child `shape`;
//! - `scene/contact_forces`: the objects' contact forces as arrows at their points, in
//!   the world, 1 mm per newton (at the link poses' rate);
//! - `cameras/<name>`: a camera's pose and lens, with `rgb` (JPEG) and `depth` images
//!   as children, at each image's capture time ([`crate::cameras`]);
//! - `link`: the link's counters (frames intact and corrupted, timeouts, bus errors);
//! - `events`: lifecycle transitions, task steps and other events (`TextLog`);
//! - `timing/compute_us`, `timing/jitter_us`, `timing/overruns`: the loop's compute per
//!   tick and wake-up lateness (running medians) and its overruns so far;
//! - `viz/dropped`: snapshots the recorder skipped because it was behind.
//!
//! Joint and base series have a row per recorded snapshot; the slow counters (`link`,
//! `timing/*`, `viz/dropped`) one per block, at its end. Every block costs one chunk per
//! entity (about a kilobyte of framing in a file), so blocks are 100 ms by default.
//!
//! Time is on the `sim_time` timeline (seconds of loop time) for simulation, or on
//! `wall_time` (timestamps) for a robot on the wire.

use embody_control::StateSnapshot;
use embody_model::{Data, Model, Shape, forward_kinematics};
use nalgebra::{Quaternion, Rotation3, UnitQuaternion};
use rerun::{RecordingStream, TimeColumn};

use crate::sink::Sink;

/// Why a recording could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// Rerun refused the sink or the data.
    #[error("rerun: {0}")]
    Rerun(String),
}

fn rerun_err(e: impl std::fmt::Display) -> VizError {
    VizError::Rerun(e.to_string())
}

/// Recording settings.
#[derive(Clone, Debug)]
pub struct VizConfig {
    /// Where it goes.
    pub sink: Sink,
    /// The robot's unit id (entity prefix `robot/<unit>`).
    pub unit: String,
    /// Rate of link poses (Hz). Default 60.
    pub pose_hz: f64,
    /// Rate of the joint and timing series (Hz); `None` (the default): every snapshot.
    pub series_hz: Option<f64>,
    /// Length of a block of joint series (s). Default 0.1.
    pub block_s: f64,
    /// Which timeline the recording is on.
    pub clock: Clock,
    /// Frames of the feet, in the order of the snapshot's contact bits.
    pub feet: Vec<String>,
    /// Where the robot's world origin is drawn (m): units of a fleet side by side.
    pub origin: [f64; 3],
    /// Frames of the force-torque sensors, in the robot's sensor order.
    pub force_frames: Vec<String>,
    /// The simulator's static boxes and objects, drawn beside the robot.
    pub scene: Vec<SceneItem>,
}

/// Where `connect` goes without a URL.
const DEFAULT_VIEWER: &str = "rerun+http://127.0.0.1:9876/proxy";

/// Fails early, and clearly, when nothing listens at the viewer's address (the SDK would
/// retry forever).
fn check_viewer(url: &str) -> Result<(), VizError> {
    use std::net::ToSocketAddrs;
    let bad = |why: String| {
        VizError::Rerun(format!(
            "no Rerun viewer at {url}: {why}; start one with `rerun`, or use --rerun spawn or save=PATH"
        ))
    };
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("the address resolves to nothing".into()))?;
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
        .map(drop)
        .map_err(|e| bad(e.to_string()))
}

/// Opens a recording into `sink` (a viewer to connect to must answer first).
pub fn open(sink: &Sink) -> Result<RecordingStream, VizError> {
    if let Sink::Connect(url) = sink {
        check_viewer(url.as_deref().unwrap_or(DEFAULT_VIEWER))?;
    }
    let builder = rerun::RecordingStreamBuilder::new("embody");
    match sink {
        Sink::Spawn => builder.spawn(),
        Sink::Connect(None) => builder.connect_grpc(),
        Sink::Connect(Some(url)) => builder.connect_grpc_opts(url.clone()),
        Sink::Save(path) => builder.save(path),
        Sink::Serve => builder.serve_grpc(),
    }
    .map_err(rerun_err)
}

/// How long the end of a recording may take to reach a viewer over the network.
const NETWORK_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

/// Length of a contact force arrow per newton (m).
const ARROW_M_PER_N: f64 = 1e-3;

/// The timeline a recording is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `sim_time`: seconds of loop time (simulation).
    Sim,
    /// `wall_time`: timestamps, the loop's time anchored to the system clock (hardware).
    Wall,
    /// `wall_time`, every time given as seconds since the UNIX epoch (a fleet's units,
    /// each stamped by its own clock).
    Unix,
}

/// The loop's timing alongside a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoopStats {
    /// Tick compute, running median (µs).
    pub compute_us: f64,
    /// Wake-up lateness, running median (µs).
    pub jitter_us: f64,
}

impl LoopStats {
    /// The medians of the loop's timing report.
    pub fn of(timing: &embody_control::TimingReport) -> LoopStats {
        LoopStats {
            compute_us: timing.stages.p50_ns as f64 * 1e-3,
            jitter_us: timing.jitter.p50_ns as f64 * 1e-3,
        }
    }
}

impl VizConfig {
    /// Defaults for `unit` into `sink`.
    pub fn new(sink: Sink, unit: &str) -> VizConfig {
        VizConfig {
            sink,
            unit: unit.to_owned(),
            pose_hz: 60.0,
            series_hz: None,
            block_s: 0.1,
            clock: Clock::Sim,
            feet: Vec::new(),
            origin: [0.0; 3],
            force_frames: Vec::new(),
            scene: Vec::new(),
        }
    }
}

/// Joint series buffered for the next block.
#[derive(Default)]
struct Block {
    times: Vec<f64>,
    q: Vec<f64>,
    q_ref: Vec<f64>,
    dq: Vec<f64>,
    dq_ref: Vec<f64>,
    tau: Vec<f64>,
    tau_ref: Vec<f64>,
    base_position: Vec<f64>,
    base_attitude: Vec<f64>,
    /// The slow counters at the block's last row: stats, overruns, link, dropped.
    last: Option<(LoopStats, u64, [u64; 4], u64)>,
    /// Times of the link poses, and each time's poses of every link in link order.
    pose_times: Vec<f64>,
    poses: Vec<([f32; 3], [f32; 4])>,
}

/// A thing in the robot's world drawn beside it: a static box or an object.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneItem {
    /// Its name (the entity `scene/<name>`).
    pub name: String,
    /// Its shape, placed at `offset` in its frame.
    pub shape: Shape,
    /// Where its shape's origin is in its frame (m): a mesh's, from its centre of mass.
    pub offset: [f64; 3],
    /// Its pose `[x y z qx qy qz qw]` (world): where it stays, or where it starts.
    pub pose: [f64; 7],
    /// It never moves.
    pub fixed: bool,
}

/// Records one robot into a Rerun stream. See the module docs.
pub struct Recorder {
    stream: RecordingStream,
    config: VizConfig,
    model: Model,
    data: Data,
    /// Entity of each link, by joint index of the link's frame.
    links: Vec<(usize, String, embody_model::spatial::Transform)>,
    block: Block,
    block_start: Option<f64>,
    last_row: Option<f64>,
    last_pose: Option<f64>,
    joints: usize,
    floating: bool,
    /// Frame of each foot, by contact bit.
    feet: Vec<embody_model::FrameId>,
    /// Frame of each force-torque sensor (at most `MAX_FORCE_SENSORS`).
    force_frames: Vec<embody_model::FrameId>,
    timeline: Timeline,
    dropped: u64,
    /// Entities of the moving scene items, in the order their poses come.
    moving: Vec<String>,
    last_scene: Option<f64>,
    /// The camera images logged so far.
    cameras: crate::cameras::Logged,
}

impl Recorder {
    /// Opens the sink and logs `model`'s joints and visual shapes.
    pub fn new(config: VizConfig, model: &Model) -> Result<Recorder, VizError> {
        let stream = open(&config.sink)?;
        Recorder::on(stream, config, model)
    }

    /// Records a further robot into `stream`, another recorder's (a fleet in one
    /// recording; `config.sink` is ignored).
    pub fn on(
        stream: RecordingStream,
        config: VizConfig,
        model: &Model,
    ) -> Result<Recorder, VizError> {
        let prefix = format!("robot/{}", config.unit);
        let names: Vec<String> = model
            .actuated_joints()
            .map(|j| model.joints[j.0].name.clone())
            .collect();
        for quantity in ["q", "q_ref", "dq", "dq_ref", "tau", "tau_ref"] {
            stream
                .log_static(
                    format!("{prefix}/joints/{quantity}"),
                    &rerun::SeriesLines::new().with_names(names.iter().map(String::as_str)),
                )
                .map_err(rerun_err)?;
        }
        let floating = model.free_flyer().is_some();
        if floating {
            for (quantity, names) in [
                ("position", ["x", "y", "z"]),
                ("attitude", ["roll", "pitch", "yaw"]),
            ] {
                stream
                    .log_static(
                        format!("{prefix}/base/{quantity}"),
                        &rerun::SeriesLines::new().with_names(names),
                    )
                    .map_err(rerun_err)?;
            }
        }
        stream
            .log_static(
                format!("{prefix}/link"),
                &rerun::SeriesLines::new().with_names([
                    "frames_ok",
                    "frames_bad",
                    "timeouts",
                    "bus_errors",
                ]),
            )
            .map_err(rerun_err)?;
        let frames = |names: &[String], role: &str| {
            names
                .iter()
                .map(|name| {
                    model
                        .frame_id(name)
                        .ok_or_else(|| VizError::Rerun(format!("no frame '{name}' for a {role}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let feet = frames(&config.feet, "foot")?;
        let mut force_frames = frames(&config.force_frames, "force sensor")?;
        force_frames.truncate(embody_control::MAX_FORCE_SENSORS);
        let mut links = Vec::new();
        for link in &model.links {
            let frame = &model.frames[link.frame.0];
            let path = format!("{prefix}/links/{}", frame.name);
            for (k, visual) in link.visuals.iter().enumerate() {
                let entity = format!("{path}/visual_{k}");
                let o = &visual.origin;
                stream
                    .log_static(entity.as_str(), &transform(o))
                    .map_err(rerun_err)?;
                let color = visual.rgba.map(|c| {
                    rerun::Color::from_unmultiplied_rgba(
                        (c[0] * 255.0) as u8,
                        (c[1] * 255.0) as u8,
                        (c[2] * 255.0) as u8,
                        (c[3] * 255.0) as u8,
                    )
                });
                let color = color.unwrap_or(rerun::Color::from_rgb(170, 170, 180));
                log_shape(&stream, &entity, &visual.shape, o, color)?;
            }
            links.push((frame.joint.0, path, frame.placement));
        }
        let scene = config.scene.clone();
        let timeline = Timeline {
            clock: config.clock,
            epoch_s: None,
        };
        let mut recorder = Recorder {
            stream,
            joints: names.len(),
            data: Data::new(model),
            model: model.clone(),
            config,
            links,
            block: Block::default(),
            block_start: None,
            last_row: None,
            last_pose: None,
            floating,
            feet,
            force_frames,
            timeline,
            dropped: 0,
            moving: Vec::new(),
            last_scene: None,
            cameras: Default::default(),
        };
        recorder.scene(&scene)?;
        Ok(recorder)
    }

    /// The stream, for recording further robots into the same recording (fleet view).
    pub fn stream(&self) -> &RecordingStream {
        &self.stream
    }

    /// Counts snapshots skipped because the recorder was behind.
    pub fn note_dropped(&mut self, snapshots: u64) {
        self.dropped += snapshots;
    }

    fn set_time(&mut self, t_s: f64) {
        self.timeline.set(&self.stream, t_s);
    }

    fn time_column(&mut self, times: &[f64]) -> TimeColumn {
        self.timeline.column(times)
    }

    /// A logger of camera images into this recording for another thread, its clock set
    /// to match this recorder's (`now_t_s` is the loop time now).
    pub fn camera_log(&mut self, now_t_s: f64) -> crate::cameras::CameraLog {
        if self.timeline.clock == Clock::Wall {
            self.timeline
                .epoch_s
                .get_or_insert_with(|| epoch_now_s() - now_t_s);
        }
        crate::cameras::CameraLog {
            stream: self.stream.clone(),
            root: format!("robot/{}", self.config.unit),
            origin: self.config.origin,
            timeline: self.timeline,
            logged: Default::default(),
        }
    }

    /// Records the loop's state at `t_s` (loop time).
    pub fn record(
        &mut self,
        t_s: f64,
        snapshot: &StateSnapshot,
        stats: LoopStats,
    ) -> Result<(), VizError> {
        // Decimated to `series_hz` (a hair of slack: loop periods are not exact).
        let row_due = match (self.config.series_hz, self.last_row) {
            (Some(hz), Some(last)) => t_s - last >= 0.999 / hz,
            _ => true,
        };
        if row_due {
            self.last_row = Some(t_s);
            self.push_row(t_s, snapshot, stats);
        }
        let start = *self.block_start.get_or_insert(t_s);
        if t_s - start >= self.config.block_s {
            self.flush()?;
        }
        let due = self
            .last_pose
            .is_none_or(|last| t_s - last >= 1.0 / self.config.pose_hz);
        if due {
            self.last_pose = Some(t_s);
            self.log_poses(t_s, snapshot)?;
        }
        Ok(())
    }

    /// Poses the robot at `t_s` from its joint positions and base pose alone (a fleet
    /// unit's state in brief): link poses, sent with the next block; no joint series.
    pub fn posture(&mut self, t_s: f64, q: &[f64], base_pose: [f64; 7]) -> Result<(), VizError> {
        let mut snapshot = StateSnapshot::new(q.len());
        let n = snapshot.n;
        snapshot.q.copy_from_slice(&q[..n]);
        snapshot.base_pose = base_pose;
        self.log_poses(t_s, &snapshot)?;
        let start = *self.block_start.get_or_insert(t_s);
        if t_s - start >= self.config.block_s {
            self.flush()?;
        }
        Ok(())
    }

    fn push_row(&mut self, t_s: f64, snapshot: &StateSnapshot, stats: LoopStats) {
        let n = self.joints.min(snapshot.n);
        let b = &mut self.block;
        b.times.push(t_s);
        b.q.extend_from_slice(&snapshot.q[..n]);
        b.q_ref.extend_from_slice(&snapshot.q_ref[..n]);
        b.dq.extend_from_slice(&snapshot.dq[..n]);
        b.dq_ref.extend_from_slice(&snapshot.dq_ref[..n]);
        b.tau.extend_from_slice(&snapshot.tau_measured[..n]);
        b.tau_ref.extend_from_slice(&snapshot.tau_command[..n]);

        if self.floating {
            let p = &snapshot.base_pose;
            b.base_position.extend_from_slice(&p[..3]);
            let (roll, pitch, yaw) =
                UnitQuaternion::from_quaternion(Quaternion::new(p[6], p[3], p[4], p[5]))
                    .euler_angles();
            b.base_attitude.extend_from_slice(&[roll, pitch, yaw]);
        }
        b.last = Some((stats, snapshot.overruns, snapshot.link, self.dropped));
    }

    fn log_poses(&mut self, t_s: f64, snapshot: &StateSnapshot) -> Result<(), VizError> {
        let model = &self.model;
        let mut q = model.neutral_configuration();
        if model.free_flyer().is_some() {
            q.as_mut_slice()[..7].copy_from_slice(&snapshot.base_pose);
        }
        for (k, j) in model.actuated_joints().enumerate() {
            if k < snapshot.n {
                q[model.joints[j.0].idx_q] = snapshot.q[k];
            }
        }
        forward_kinematics(model, &mut self.data, q.as_slice());
        self.set_time(t_s);
        let o = self.config.origin;
        let origin = embody_model::spatial::Transform {
            rotation: nalgebra::Matrix3::identity(),
            translation: nalgebra::Vector3::new(o[0], o[1], o[2]),
        };
        // Link poses go out with the block, one column per link.
        self.block.pose_times.push(t_s);
        for (joint, _, placement) in &self.links {
            let world = origin.mul(&self.data.world_from_joint[*joint].mul(placement));
            self.block.poses.push(pose(&world));
        }
        if !self.feet.is_empty() {
            let points: Vec<[f32; 3]> = self
                .feet
                .iter()
                .enumerate()
                .filter(|(k, _)| snapshot.contacts & (1 << k) != 0)
                .map(|(_, &foot)| {
                    let f = &self.model.frames[foot.0];
                    let p = self.data.world_from_joint[f.joint.0]
                        .mul(&f.placement)
                        .translation;
                    [p.x as f32, p.y as f32, p.z as f32]
                })
                .collect();
            self.stream
                .log(
                    format!("robot/{}/contacts", self.config.unit),
                    &rerun::Points3D::new(points)
                        .with_radii([0.025])
                        .with_colors([rerun::Color::from_rgb(230, 90, 40)]),
                )
                .map_err(rerun_err)?;
        }
        if !self.force_frames.is_empty() {
            let (origins, vectors): (Vec<[f32; 3]>, Vec<[f32; 3]>) = self
                .force_frames
                .iter()
                .zip(&snapshot.forces)
                .map(|(&frame, f)| {
                    let fr = &self.model.frames[frame.0];
                    let world = self.data.world_from_joint[fr.joint.0].mul(&fr.placement);
                    let p = world.translation;
                    let v = world.rotation * nalgebra::Vector3::new(f[0], f[1], f[2]);
                    let v = v * ARROW_M_PER_N;
                    (
                        [
                            (p.x + o[0]) as f32,
                            (p.y + o[1]) as f32,
                            (p.z + o[2]) as f32,
                        ],
                        [v.x as f32, v.y as f32, v.z as f32],
                    )
                })
                .unzip();
            self.log_forces("contact_forces", origins, vectors)?;
        }
        Ok(())
    }

    /// Logs the scene's shapes, statically, and the fixed items' poses; the moving
    /// ones' poses come with [`Recorder::scene_state`], in this order.
    fn scene(&mut self, items: &[SceneItem]) -> Result<(), VizError> {
        let prefix = format!("robot/{}/scene", self.config.unit);
        for (k, item) in items.iter().enumerate() {
            let entity = format!("{prefix}/{}", item.name);
            let color = if item.fixed {
                rerun::Color::from_rgb(140, 120, 100)
            } else {
                // Objects in turn: orange, green, blue, red.
                [
                    rerun::Color::from_rgb(230, 140, 40),
                    rerun::Color::from_rgb(80, 170, 90),
                    rerun::Color::from_rgb(60, 120, 210),
                    rerun::Color::from_rgb(200, 60, 60),
                ][k % 4]
            };
            // The shape on a child, placed in the item's frame; the item's pose on it.
            let offset = embody_model::spatial::Transform {
                rotation: nalgebra::Matrix3::identity(),
                translation: nalgebra::Vector3::from(item.offset),
            };
            let shape = format!("{entity}/shape");
            self.stream
                .log_static(shape.as_str(), &transform(&offset))
                .map_err(rerun_err)?;
            log_shape(&self.stream, &shape, &item.shape, &offset, color)?;
            if item.fixed {
                let placed = self.scene_transform(&item.pose);
                self.stream
                    .log_static(entity.as_str(), &placed)
                    .map_err(rerun_err)?;
            } else {
                self.moving.push(entity);
            }
        }
        Ok(())
    }

    /// Records the moving scene items' poses (in [`VizConfig::scene`]'s order) and the
    /// contact forces `[px py pz fx fy fz]` at `t_s`, at the link poses' rate.
    pub fn scene_state(
        &mut self,
        t_s: f64,
        poses: &[[f64; 7]],
        contacts: &[[f64; 6]],
    ) -> Result<(), VizError> {
        if !self.scene_due(t_s) {
            return Ok(());
        }
        self.last_scene = Some(t_s);
        self.set_time(t_s);
        for (entity, pose) in self.moving.iter().zip(poses) {
            let placed = self.scene_transform(pose);
            self.stream
                .log(entity.as_str(), &placed)
                .map_err(rerun_err)?;
        }
        let o = self.config.origin;
        let (origins, vectors): (Vec<[f32; 3]>, Vec<[f32; 3]>) = (contacts.iter())
            .map(|c| {
                (
                    [0, 1, 2].map(|i| (c[i] + o[i]) as f32),
                    [3, 4, 5].map(|i| (c[i] * ARROW_M_PER_N) as f32),
                )
            })
            .unzip();
        self.log_forces("scene/contact_forces", origins, vectors)
    }

    /// Logs force arrows (already scaled to metres) at `robot/<unit>/<path>`.
    fn log_forces(
        &self,
        path: &str,
        origins: Vec<[f32; 3]>,
        vectors: Vec<[f32; 3]>,
    ) -> Result<(), VizError> {
        self.stream
            .log(
                format!("robot/{}/{path}", self.config.unit),
                &rerun::Arrows3D::from_vectors(vectors)
                    .with_origins(origins)
                    .with_colors([rerun::Color::from_rgb(240, 200, 40)]),
            )
            .map_err(rerun_err)
    }

    /// Records `camera`'s `image` at the time it was captured (`t_s`, on this
    /// recording's clock), unless it was recorded before: see the `cameras` entities in
    /// the module docs.
    pub fn camera(
        &mut self,
        t_s: f64,
        camera: &embody_hal::CameraInfo,
        image: &embody_hal::Image,
    ) -> Result<(), VizError> {
        if !self.cameras.take(&camera.name, image) {
            return Ok(()); // logged already
        }
        self.set_time(t_s);
        let root = format!("robot/{}", self.config.unit);
        crate::cameras::log(&self.stream, &root, self.config.origin, camera, image)
    }

    /// Records what a camera's image showed, at the time it was captured (`t_s`): see
    /// [`crate::Sighting`].
    pub fn sighting(&mut self, t_s: f64, sighting: &crate::Sighting) -> Result<(), VizError> {
        self.set_time(t_s);
        let root = format!("robot/{}", self.config.unit);
        crate::cameras::log_sighting(&self.stream, &root, self.config.origin, sighting)
    }

    /// Whether [`Recorder::scene_state`] would record at `t_s` (there are moving items
    /// and their rate's period has passed): the caller may skip gathering them.
    pub fn scene_due(&self, t_s: f64) -> bool {
        !self.moving.is_empty()
            && (self.last_scene).is_none_or(|last| t_s - last >= 1.0 / self.config.pose_hz)
    }

    /// The transform placing a scene item at `pose`, the robot's origin added.
    fn scene_transform(&self, pose: &[f64; 7]) -> rerun::Transform3D {
        let o = self.config.origin;
        rerun::Transform3D::from_translation_rotation(
            [0, 1, 2].map(|i| (pose[i] + o[i]) as f32),
            rerun::Quaternion::from_xyzw([3, 4, 5, 6].map(|i| pose[i] as f32)),
        )
    }

    /// Logs a loop event as text at `t_s`.
    pub fn event(&mut self, t_s: f64, text: &str, warning: bool) -> Result<(), VizError> {
        self.set_time(t_s);
        let level = if warning {
            rerun::TextLogLevel::WARN
        } else {
            rerun::TextLogLevel::INFO
        };
        self.stream
            .log(
                format!("robot/{}/events", self.config.unit),
                &rerun::TextLog::new(text).with_level(level),
            )
            .map_err(rerun_err)
    }

    /// Logs a driver's values at `t_s` as one multi-series entity under the robot
    /// (`policy/actions`, `policy/observation/joint_pos`, …).
    pub fn series(&mut self, t_s: f64, path: &str, values: &[f64]) -> Result<(), VizError> {
        self.set_time(t_s);
        self.stream
            .log(
                format!("robot/{}/{path}", self.config.unit),
                &rerun::Scalars::new(values.iter().copied()),
            )
            .map_err(rerun_err)
    }

    /// Logs the video file at `path` (MP4) once, for all time, under `entity`, for
    /// [`Recorder::video_frame`] to show frames of.
    pub fn video_asset(&mut self, entity: &str, path: &std::path::Path) -> Result<(), VizError> {
        let video = rerun::AssetVideo::from_file_path(path)
            .map_err(|e| VizError::Rerun(format!("{}: {e}", path.display())))?;
        self.stream
            .log_static(entity.to_owned(), &video)
            .map_err(rerun_err)
    }

    /// Shows, at `t_s` under the robot's `path`, the frame at `video_s` of the video
    /// logged under `video`.
    pub fn video_frame(
        &mut self,
        t_s: f64,
        path: &str,
        video: &str,
        video_s: f64,
    ) -> Result<(), VizError> {
        self.set_time(t_s);
        let frame =
            rerun::VideoFrameReference::new(rerun::components::VideoTimestamp::from_secs(video_s))
                .with_video_reference(video.to_owned());
        self.stream
            .log(format!("robot/{}/{path}", self.config.unit), &frame)
            .map_err(rerun_err)
    }

    /// Sends the buffered block of joint series.
    pub fn flush(&mut self) -> Result<(), VizError> {
        let block = std::mem::take(&mut self.block);
        self.block_start = None;
        let rows = block.times.len();
        let prefix = format!("robot/{}", self.config.unit);
        let time = self.time_column(&block.times);
        let series = [
            ("joints/q", &block.q),
            ("joints/q_ref", &block.q_ref),
            ("joints/dq", &block.dq),
            ("joints/dq_ref", &block.dq_ref),
            ("joints/tau", &block.tau),
            ("joints/tau_ref", &block.tau_ref),
            ("base/position", &block.base_position),
            ("base/attitude", &block.base_attitude),
        ];
        for (entity, values) in series {
            if values.is_empty() {
                continue; // an empty block, or base series of a fixed-base robot
            }
            let columns = rerun::Scalars::new(values.iter().copied())
                .columns(std::iter::repeat_n(values.len() / rows, rows))
                .map_err(rerun_err)?;
            self.stream
                .send_columns(format!("{prefix}/{entity}"), [time.clone()], columns)
                .map_err(rerun_err)?;
        }
        if !block.pose_times.is_empty() {
            let time = self.time_column(&block.pose_times);
            let links = self.links.len();
            for (k, (_, path, _)) in self.links.iter().enumerate() {
                let of_link = || block.poses.iter().skip(k).step_by(links);
                let columns = rerun::Transform3D::update_fields()
                    .with_many_translation(of_link().map(|(t, _)| *t))
                    .with_many_quaternion(of_link().map(|(_, q)| rerun::Quaternion::from_xyzw(*q)))
                    .columns_of_unit_batches()
                    .map_err(rerun_err)?;
                self.stream
                    .send_columns(path.as_str(), [time.clone()], columns)
                    .map_err(rerun_err)?;
            }
        }
        if let (Some((stats, overruns, link, dropped)), Some(&t_s)) =
            (block.last, block.times.last())
        {
            self.set_time(t_s);
            let counters = [
                ("timing/compute_us", vec![stats.compute_us]),
                ("timing/jitter_us", vec![stats.jitter_us]),
                ("timing/overruns", vec![overruns as f64]),
                ("link", link.iter().map(|&c| c as f64).collect()),
                ("viz/dropped", vec![dropped as f64]),
            ];
            for (entity, values) in counters {
                self.stream
                    .log(format!("{prefix}/{entity}"), &rerun::Scalars::new(values))
                    .map_err(rerun_err)?;
            }
        }
        Ok(())
    }

    /// Samples dropped because the recorder fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Flushes everything and closes the sink.
    pub fn finish(mut self) -> Result<(), VizError> {
        self.flush()?;
        let Recorder { stream, config, .. } = self;
        match config.sink {
            // A file takes as long as it takes.
            Sink::Save(_) => return stream.flush_blocking().map_err(rerun_err),
            // The server lives on with the stream, for the command to keep serving.
            Sink::Serve => {
                stream.flush_blocking().map_err(rerun_err)?;
                std::mem::forget(stream);
                return Ok(());
            }
            Sink::Spawn | Sink::Connect(_) => {}
        }
        // A viewer that stops answering must not hang the command.
        match stream.flush_with_timeout(NETWORK_FLUSH) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Dropping the stream would wait for the viewer forever: let it go.
                std::mem::forget(stream);
                Err(VizError::Rerun(format!(
                    "the end of the recording did not reach the viewer within {} s: {e}",
                    NETWORK_FLUSH.as_secs()
                )))
            }
        }
    }
}

/// The recording's timeline: simulated time, or the wall clock with loop time 0 at
/// `epoch_s` (fixed by the first time set).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    pub(crate) clock: Clock,
    /// Seconds since the epoch at loop time 0 (wall clock only).
    pub(crate) epoch_s: Option<f64>,
}

impl Timeline {
    /// Sets `stream`'s time on this thread to `t_s` of loop time.
    pub(crate) fn set(&mut self, stream: &RecordingStream, t_s: f64) {
        match self.clock {
            Clock::Sim => stream.set_duration_secs("sim_time", t_s),
            Clock::Unix => stream.set_timestamp_secs_since_epoch("wall_time", t_s),
            Clock::Wall => {
                let epoch = *self.epoch_s.get_or_insert_with(|| epoch_now_s() - t_s);
                stream.set_timestamp_secs_since_epoch("wall_time", epoch + t_s)
            }
        }
    }

    /// A time column of `times` (loop time).
    fn column(&mut self, times: &[f64]) -> TimeColumn {
        match self.clock {
            Clock::Sim => TimeColumn::new_duration_secs("sim_time", times.iter().copied()),
            Clock::Unix => {
                TimeColumn::new_timestamp_secs_since_epoch("wall_time", times.iter().copied())
            }
            Clock::Wall => {
                let epoch = *self
                    .epoch_s
                    .get_or_insert_with(|| epoch_now_s() - times.first().copied().unwrap_or(0.0));
                TimeColumn::new_timestamp_secs_since_epoch(
                    "wall_time",
                    times.iter().map(|t| epoch + t),
                )
            }
        }
    }
}

fn epoch_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Translation and quaternion `[x y z w]` of `t`, as Rerun takes them.
/// Logs `shape` (placed at `origin` in its entity) at `entity`, statically.
fn log_shape(
    stream: &RecordingStream,
    entity: &str,
    shape: &Shape,
    origin: &embody_model::spatial::Transform,
    color: rerun::Color,
) -> Result<(), VizError> {
    match shape {
        Shape::Box { size } => stream.log_static(
            entity,
            &rerun::Boxes3D::from_half_sizes([[
                size.x as f32 / 2.0,
                size.y as f32 / 2.0,
                size.z as f32 / 2.0,
            ]])
            .with_colors([color])
            .with_fill_mode(rerun::FillMode::Solid),
        ),
        Shape::Sphere { radius } => stream.log_static(
            entity,
            &rerun::Ellipsoids3D::from_radii([*radius as f32])
                .with_colors([color])
                .with_fill_mode(rerun::FillMode::Solid),
        ),
        Shape::Cylinder { radius, length } | Shape::Capsule { radius, length } => {
            stream.log_static(
                entity,
                &rerun::Capsules3D::from_lengths_and_radii(
                    [*length as f32],
                    [*radius as f32],
                )
                .with_translations([[0.0, 0.0, -(*length as f32) / 2.0]])
                .with_colors([color]),
            )
        }
        Shape::Mesh { filename, scale } => {
            match std::fs::read(filename) {
                Ok(bytes) => stream
                    .log_static(
                        entity,
                        &transform(origin).with_scale([
                            scale.x as f32,
                            scale.y as f32,
                            scale.z as f32,
                        ]),
                    )
                    .and_then(|()| {
                        stream.log_static(
                            entity,
                            &rerun::Asset3D::from_file_contents(
                                bytes,
                                rerun::MediaType::guess_from_path(filename),
                            ),
                        )
                    }),
                // A mesh the host cannot read (missing, or in a package not found):
                // the link is drawn without it, and the user told why.
                Err(e) => {
                    tracing::warn!(
                        "{entity}: mesh {filename} cannot be read ({e}): the link is drawn without it"
                    );
                    Ok(())
                }
            }
        }
    }
    .map_err(rerun_err)
}

fn pose(t: &embody_model::spatial::Transform) -> ([f32; 3], [f32; 4]) {
    let q = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(t.rotation));
    (
        [
            t.translation.x as f32,
            t.translation.y as f32,
            t.translation.z as f32,
        ],
        [q.i as f32, q.j as f32, q.k as f32, q.w as f32],
    )
}

fn transform(t: &embody_model::spatial::Transform) -> rerun::Transform3D {
    let (translation, q) = pose(t);
    rerun::Transform3D::from_translation_rotation(translation, rerun::Quaternion::from_xyzw(q))
}
