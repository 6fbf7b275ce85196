//! Simulated cameras: a scenario's `[[cameras]]` ([`CameraConfig`]), each rendered on
//! its own thread ([`SimCamera`]). At the camera's rate in simulated time the simulator
//! leaves a snapshot of the state (the configuration and the objects' poses) in a slot
//! the thread looks at every millisecond — no channel, so the loop's side makes no
//! system call, and buffers that change hands, so it allocates nothing; the thread
//! places the scene ([`crate::view`]), draws it ([`crate::render`]), adds seeded
//! depth noise and publishes the image in the camera's [`ImagePool`], stamped with the
//! time of the state it shows. In real time a camera that has not taken its last frame
//! when the next is due skips it (counted): the simulator never waits for it. In lockstep
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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use embody_hal::{Camera, CameraInfo, ImagePool, Intrinsics, Mount, Timestamp};
use embody_model::Model;
use rand::SeedableRng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

use crate::contact::Environment;
use crate::render::Rasterizer;
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

/// Where the simulator leaves a frame's state for the camera's thread.
struct Slot {
    snapshot: Snapshot,
    /// Left and not yet taken.
    fresh: bool,
}

/// What the simulator and a camera's thread share.
struct Shared {
    slot: Mutex<Slot>,
    /// The thread is stalled (an injected fault): it takes nothing until it is not.
    stalled: AtomicBool,
    /// The simulator waits for each frame (lockstep): the thread must not run idle.
    lockstep: AtomicBool,
    stop: AtomicBool,
}

/// How long the thread sleeps between looks at the slot when it finds nothing there.
const IDLE: Duration = Duration::from_millis(1);

/// A simulated camera and its rendering thread. Dropping it stops the thread.
pub struct SimCamera {
    info: CameraInfo,
    pool: ImagePool,
    shared: Arc<Shared>,
    /// A frame drawn and published (lockstep waits on it).
    drawn: Receiver<()>,
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
        let blank = || Snapshot {
            at: Timestamp::from_nanos(0),
            q: vec![0.0; model.nq],
            poses: vec![[0.0; 7]; environment.objects.len()],
        };
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                snapshot: blank(),
                fresh: false,
            }),
            stalled: AtomicBool::new(false),
            lockstep: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let (tell_drawn, drawn) = sync_channel(1);
        let mut view = SceneView::new(model.clone(), environment);
        let mut raster = Rasterizer::new(
            info.width,
            info.height,
            info.intrinsics,
            environment.light.lighting(),
        );
        let (mount, images) = (info.mount.clone(), pool.clone());
        let name = info.name.clone();
        let mut mine = blank();
        let thread = std::thread::Builder::new()
            .name(format!("camera {name}"))
            .spawn({
                let shared = shared.clone();
                move || {
                    // Drawing waits for the loop, never the loop for drawing: at nice 10,
                    // and in real time idle (decided at the first frame, once the
                    // simulator has said whether it waits).
                    let _ = embody_hal::thread::run_in_background();
                    let mut idle = None;
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
                    let noise = rand_distr::Normal::new(0.0, depth_noise_m).ok();
                    while !shared.stop.load(Ordering::Acquire) {
                        let took = !shared.stalled.load(Ordering::Acquire)
                            && shared.slot.lock().is_ok_and(|mut slot| {
                                let fresh = slot.fresh;
                                if fresh {
                                    // The buffers change hands: nothing is allocated.
                                    std::mem::swap(&mut slot.snapshot, &mut mine);
                                    slot.fresh = false;
                                }
                                fresh
                            });
                        if !took {
                            std::thread::sleep(IDLE);
                            continue;
                        }
                        let realtime = !shared.lockstep.load(Ordering::Acquire);
                        if idle != Some(realtime) {
                            let _ = embody_hal::thread::run_when_idle(realtime);
                            idle = Some(realtime);
                        }
                        view.place(&mine.q, &mine.poses);
                        if let Some(eye) = view.camera_pose(&mount) {
                            let pose = eye.to_pose();
                            images.fill(mine.at, |image| {
                                image.pose = Some(pose);
                                raster.render(&eye, view.drawables(), image);
                                if let Some(noise) = noise.filter(|_| depth_noise_m > 0.0) {
                                    for d in image.depth.iter_mut().filter(|d| **d > 0.0) {
                                        *d = (*d + noise.sample(&mut rng) as f32).max(0.0);
                                    }
                                }
                            });
                        }
                        // Full when nobody waits (real time): then nothing to wake.
                        let _ = tell_drawn.try_send(());
                    }
                }
            })
            .ok();
        SimCamera {
            period_ns: (1e9 / info.rate_hz).round().max(1.0) as u64,
            info,
            pool,
            shared,
            drawn,
            next_ns: None,
            skipped: 0,
            wait: false,
            thread,
        }
    }

    /// Leaves the state of `world` at `now` for the thread when a frame is due. In real
    /// time it never waits and makes no system call: when the thread still has the slot
    /// or has not taken the last frame, the frame is skipped (counted).
    pub fn offer(&mut self, now: Timestamp, world: &World) {
        let t = now.as_nanos();
        let due = *self.next_ns.get_or_insert(t);
        if t < due {
            return;
        }
        // The next frame on the camera's own grid (frames missed by a slow caller are
        // not made up).
        self.next_ns = Some(due + self.period_ns * ((t - due) / self.period_ns + 1));
        let stalled = self.shared.stalled.load(Ordering::Acquire);
        if self.wait {
            // A stalled thread in lockstep would stop simulated time: its frames are
            // skipped instead (in real time the thread itself stalls).
            if stalled || self.thread.is_none() {
                self.skipped += 1;
                return;
            }
            while self.drawn.try_recv().is_ok() {} // an earlier frame's
        }
        // Lockstep may wait for the lock; real time only tries it.
        let slot = if self.wait {
            self.shared.slot.lock().ok()
        } else {
            self.shared.slot.try_lock().ok()
        };
        let left = match slot {
            Some(mut slot) if !slot.fresh || self.wait => {
                slot.snapshot.at = now;
                slot.snapshot.q.copy_from_slice(world.q().as_slice());
                let objects = world.objects();
                for (k, pose) in slot.snapshot.poses.iter_mut().enumerate() {
                    *pose = objects.pose(k).unwrap_or(*pose);
                }
                slot.fresh = true;
                true
            }
            // The thread is taking the slot, or has not taken the last frame yet.
            _ => false,
        };
        // Lockstep: drawn and published before simulated time goes on.
        let drawn = left && (!self.wait || self.drawn.recv().is_ok());
        if !drawn {
            self.skipped += 1;
        }
    }

    /// Makes [`SimCamera::offer`] wait until each frame is drawn and published (for
    /// lockstep, where simulated time does not run on its own).
    pub fn wait_for_frames(&mut self, wait: bool) {
        self.wait = wait;
        self.shared.lockstep.store(wait, Ordering::Release);
    }

    /// Stalls its thread (an injected fault: it draws nothing) or lets it go on.
    pub fn stall(&mut self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::Release);
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
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
