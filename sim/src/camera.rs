//! Simulated cameras: a scenario's `[[cameras]]` ([`CameraConfig`]), each rendered on
//! its own thread ([`SimCamera`]). At the camera's rate in simulated time the simulator
//! hands the thread a snapshot of the state (the configuration and the objects' poses,
//! in buffers that go back and forth, so nothing is allocated on the loop's side); the
//! thread places the scene ([`crate::view`]), draws it ([`crate::render`]), adds seeded
//! depth noise and publishes the image in the camera's [`ImagePool`], stamped with the
//! time of the state it shows. In real time a camera still drawing when its next frame
//! is due skips that frame (counted): the simulator never waits for it. In lockstep
//! ([`SimCamera::wait_for_frames`]) simulated time stands still while the camera draws,
//! so every frame is drawn and a run is the same each time.
//!
//! ```toml
//! [[cameras]]
//! name = "overhead"
//! width = 640                  # px; default 640 × 480
//! height = 480
//! rate_hz = 30.0               # default 30
//! depth = true                 # default true
//! fov_deg = 70.0               # horizontal, an ideal pinhole; or intrinsics = { fx, fy, cx, cy }
//! xyz = [0.5, -0.9, 1.0]       # in the world, or on `frame = "tcp"` at this offset
//! look_at = [-0.3, 0.1, 0.2]   # or rpy = [r, p, y] (rad): OpenCV's axes, z forward, y down
//! depth_noise_m = 0.001        # σ of the depth's noise; default 0
//! ```

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use embody_hal::{Camera, CameraInfo, ImagePool, Intrinsics, Mount, Timestamp};
use embody_model::Model;
use rand::SeedableRng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

use crate::contact::Environment;
use crate::render::{Lighting, Rasterizer};
use crate::view::{SceneView, look_at};
use crate::world::World;

fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    480
}
fn default_rate() -> f64 {
    30.0
}
fn default_true() -> bool {
    true
}

/// A camera as a scenario writes it (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Its name.
    pub name: String,
    /// Image width (px).
    #[serde(default = "default_width")]
    pub width: u32,
    /// Image height (px).
    #[serde(default = "default_height")]
    pub height: u32,
    /// Frames per second of simulated time.
    #[serde(default = "default_rate")]
    pub rate_hz: f64,
    /// Whether it measures depth.
    #[serde(default = "default_true")]
    pub depth: bool,
    /// Horizontal field of view (deg) of an ideal pinhole.
    #[serde(default)]
    pub fov_deg: Option<f64>,
    /// Or its lens, as calibrated.
    #[serde(default)]
    pub intrinsics: Option<Intrinsics>,
    /// The robot frame (a link or URDF frame) it rides on; none: fixed in the world.
    #[serde(default)]
    pub frame: Option<String>,
    /// Its position in that frame, or in the world (m).
    #[serde(default)]
    pub xyz: [f64; 3],
    /// Its rotation there (rad; OpenCV's camera axes).
    #[serde(default)]
    pub rpy: Option<[f64; 3]>,
    /// A world camera's aim instead of `rpy`: the point it looks at, level.
    #[serde(default)]
    pub look_at: Option<[f64; 3]>,
    /// σ of the Gaussian noise on depth (m).
    #[serde(default)]
    pub depth_noise_m: f64,
}

impl CameraConfig {
    /// What the camera is on `model`; `(key, reason)` when it makes no sense.
    pub fn info(&self, model: &Model) -> Result<CameraInfo, (String, String)> {
        let fail = |key: &str, reason: String| Err((key.to_owned(), reason));
        if self.name.is_empty() {
            return fail("name", "a camera needs a name".into());
        }
        for (key, side) in [("width", self.width), ("height", self.height)] {
            if !(16..=8192).contains(&side) {
                return fail(key, format!("{side} px: each side is 16 to 8192 px"));
            }
        }
        if !(self.rate_hz.is_finite() && self.rate_hz > 0.0 && self.rate_hz <= 1000.0) {
            return fail(
                "rate_hz",
                format!("{}: must be in (0, 1000] Hz", self.rate_hz),
            );
        }
        if !(self.depth_noise_m.is_finite() && (0.0..=1.0).contains(&self.depth_noise_m)) {
            return fail("depth_noise_m", "must be in [0, 1] m".into());
        }
        let intrinsics = match (self.fov_deg, self.intrinsics) {
            (Some(_), Some(_)) => {
                return fail("fov_deg", "give fov_deg or intrinsics, not both".into());
            }
            (Some(fov), None) if fov.is_finite() && (1.0..=179.0).contains(&fov) => {
                Intrinsics::from_fov(self.width, self.height, fov.to_radians())
            }
            (Some(fov), None) => return fail("fov_deg", format!("{fov}°: must be 1 to 179°")),
            (None, Some(k)) => {
                k.check().map_err(|why| ("intrinsics".to_owned(), why))?;
                k
            }
            (None, None) => Intrinsics::from_fov(self.width, self.height, 70f64.to_radians()),
        };
        if !self.xyz.iter().all(|x| x.is_finite() && x.abs() <= 1e3) {
            return fail("xyz", "must be finite, within 1 km".into());
        }
        if let Some(rpy) = self.rpy
            && !rpy.iter().all(|x| x.is_finite() && x.abs() <= 10.0)
        {
            return fail("rpy", "must be finite angles (rad)".into());
        }
        let mount = match (&self.frame, self.look_at) {
            (Some(_), Some(_)) => {
                return fail(
                    "look_at",
                    "a camera on a robot frame is aimed by rpy".into(),
                );
            }
            (Some(frame), None) => {
                if model.frame_id(frame).is_none() {
                    return fail(
                        "frame",
                        format!("no frame named '{frame}' in {}", model.name),
                    );
                }
                Mount::Frame {
                    frame: frame.clone(),
                    xyz: self.xyz,
                    rpy: self.rpy.unwrap_or_default(),
                }
            }
            (None, Some(target)) => {
                if self.rpy.is_some() {
                    return fail("look_at", "give rpy or look_at, not both".into());
                }
                let Some(eye) = look_at(self.xyz, target) else {
                    return fail(
                        "look_at",
                        "the camera would look straight up or down (or at itself): aim it by rpy"
                            .into(),
                    );
                };
                Mount::in_world(&eye)
            }
            (None, None) => Mount::World {
                xyz: self.xyz,
                rpy: self.rpy.unwrap_or_default(),
            },
        };
        Ok(CameraInfo {
            name: self.name.clone(),
            width: self.width,
            height: self.height,
            rate_hz: self.rate_hz,
            depth: self.depth,
            intrinsics,
            mount,
        })
    }
}

/// The state one frame shows: when, the configuration, the objects' poses.
struct Snapshot {
    at: Timestamp,
    q: Vec<f64>,
    poses: Vec<[f64; 7]>,
}

/// A simulated camera and its rendering thread. Dropping it stops the thread.
pub struct SimCamera {
    info: CameraInfo,
    pool: ImagePool,
    /// Snapshots the thread is done with, and the way to hand it one.
    free: Receiver<Snapshot>,
    todo: Option<SyncSender<Snapshot>>,
    /// Snapshots back from the thread and not yet reused.
    idle: Vec<Snapshot>,
    period_ns: u64,
    next_ns: Option<u64>,
    skipped: u64,
    /// Wait for each frame to be drawn (lockstep).
    wait: bool,
    thread: Option<JoinHandle<()>>,
}

/// Images in a camera's pool: one being drawn, the latest, two being read.
const POOL_IMAGES: usize = 4;

impl SimCamera {
    /// Starts a camera `info` looking at `model` in `environment` (its meshes loaded),
    /// its depth noise seeded by `seed`.
    pub fn spawn(
        info: CameraInfo,
        depth_noise_m: f64,
        model: Arc<Model>,
        environment: &Environment,
        seed: u64,
    ) -> SimCamera {
        let pool = ImagePool::new(&info, POOL_IMAGES);
        // Two snapshots: one the thread draws while the simulator fills the other.
        let (give_back, free) = sync_channel(2);
        for _ in 0..2 {
            let _ = give_back.send(Snapshot {
                at: Timestamp::from_nanos(0),
                q: vec![0.0; model.nq],
                poses: vec![[0.0; 7]; environment.objects.len()],
            });
        }
        let (todo, work) = sync_channel::<Snapshot>(1);
        let mut view = SceneView::new(model, environment);
        let mut raster = Rasterizer::new(
            info.width,
            info.height,
            info.intrinsics,
            Lighting::default(),
        );
        let (mount, images) = (info.mount.clone(), pool.clone());
        let name = info.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("camera {name}"))
            .spawn(move || {
                let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
                let noise = rand_distr::Normal::new(0.0, depth_noise_m).ok();
                for snapshot in work {
                    view.place(&snapshot.q, &snapshot.poses);
                    if let Some(eye) = view.camera_pose(&mount) {
                        let q = nalgebra::UnitQuaternion::from_rotation_matrix(
                            &nalgebra::Rotation3::from_matrix_unchecked(eye.rotation),
                        );
                        let p = eye.translation;
                        let pose = [p.x, p.y, p.z, q.i, q.j, q.k, q.w];
                        images.fill(snapshot.at, |image| {
                            image.pose = Some(pose);
                            raster.render(&eye, view.drawables(), image);
                            if let Some(noise) = noise.filter(|_| depth_noise_m > 0.0) {
                                for d in image.depth.iter_mut().filter(|d| **d > 0.0) {
                                    *d = (*d + noise.sample(&mut rng) as f32).max(0.0);
                                }
                            }
                        });
                    }
                    if give_back.send(snapshot).is_err() {
                        break;
                    }
                }
            })
            .ok();
        SimCamera {
            period_ns: (1e9 / info.rate_hz).round().max(1.0) as u64,
            info,
            pool,
            free,
            todo: Some(todo),
            idle: Vec::with_capacity(2),
            next_ns: None,
            skipped: 0,
            wait: false,
            thread,
        }
    }

    /// Hands the thread the state of `world` at `now` when a frame is due. Never waits:
    /// when the thread is still drawing the frame is skipped.
    pub fn offer(&mut self, now: Timestamp, world: &World) {
        let t = now.as_nanos();
        let due = *self.next_ns.get_or_insert(t);
        if t < due {
            return;
        }
        // The next frame on the camera's own grid (frames missed by a slow caller are
        // not made up).
        self.next_ns = Some(due + self.period_ns * ((t - due) / self.period_ns + 1));
        let snapshot = (self.idle.pop()).or_else(|| self.free.try_recv().ok());
        let Some(mut snapshot) = snapshot else {
            self.skipped += 1;
            return;
        };
        snapshot.at = now;
        snapshot.q.copy_from_slice(world.q().as_slice());
        let objects = world.objects();
        for (k, pose) in snapshot.poses.iter_mut().enumerate() {
            *pose = objects.pose(k).unwrap_or(*pose);
        }
        match self.todo.as_ref().map(|todo| todo.try_send(snapshot)) {
            Some(Ok(())) if self.wait => match self.free.recv() {
                // Drawn and published: simulated time may go on.
                Ok(back) => self.idle.push(back),
                Err(_) => self.skipped += 1,
            },
            Some(Ok(())) => {}
            Some(Err(TrySendError::Full(back) | TrySendError::Disconnected(back))) => {
                self.idle.push(back);
                self.skipped += 1;
            }
            None => self.skipped += 1,
        }
    }

    /// Makes [`SimCamera::offer`] wait until each frame is drawn and published (for
    /// lockstep, where simulated time does not run on its own).
    pub fn wait_for_frames(&mut self, wait: bool) {
        self.wait = wait;
        // Every snapshot at hand, so the one handed over is the one waited for.
        while let Ok(snapshot) = self.free.try_recv() {
            self.idle.push(snapshot);
        }
    }

    /// Frames skipped because the camera was still drawing (or its pool was held).
    pub fn skipped(&self) -> u64 {
        self.skipped + self.pool.dropped()
    }
}

impl Camera for SimCamera {
    fn info(&self) -> &CameraInfo {
        &self.info
    }

    fn images(&self) -> &ImagePool {
        &self.pool
    }
}

impl Drop for SimCamera {
    fn drop(&mut self) {
        self.todo = None; // the thread's queue ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
