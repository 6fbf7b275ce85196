//! Dynamic objects: boxes, spheres, cylinders, capsules and convex meshes that rest,
//! slide, topple and stack on the ground, on static boxes (tilted ones too) and on each
//! other; and fixed ones (`fixed = true`), of any of those shapes, held where they are —
//! a post, a fixture — that the free objects and the robot's links touch.
//!
//! Why this contact law. Contact is compliant — a spring and damper along the normal and,
//! along the surface, a stiction spring anchored where the contact began, its force
//! capped by the friction cone — as the robot's contact already is. It is the one law
//! here that holds static friction exactly (a box on a slope below `atan μ` and a grasped
//! box keep a constant spring deflection: no creep, which MuJoCo's soft constraints show
//! by design), it needs no iterations (deterministic, and the cheapest per step), and it
//! couples to the robot's articulated dynamics as plain link forces. What makes it work
//! for light objects is how it is stepped: each pair's stiffness comes from a time
//! constant `T` and the pair's effective mass (`k = m·(2π/T)²`, critically damped, split
//! over the manifold's points, as MuJoCo's `solref` scales its constraints), and the
//! objects take their contact springs and dampers implicitly — one linear solve per step
//! over every free object, `(M + dt·Gᵀ·D·G)·Δξ = dt·(f + Gᵀ·(F₀ − D·G·ξ))` — so a 50 g
//! object is as stable as a 5 kg one. Stick or slip is decided per point from the
//! start-of-step trial force; a slipping point's friction is `μ·f_n` against the sliding
//! direction and its anchor is dragged along. A pair with a restitution `e` is damped
//! at the ratio with which this very contact law, stepped at this `dt`, lets go at `e`
//! of the speed it met ([`bounce_damping`], found once per object by bisection on a
//! one-dimensional bounce); otherwise critically, which still leaves a small bounce (a
//! ball dropped 0.3 m rises about 4 mm: the contact lets go rather than pulls).
//!
//! Geometry is parry's (`parry3d-f64`): contact manifolds between convex shapes, with
//! each point's spring deflection carried from step to step by its feature ids. The
//! ground is a static box whose top face is the ground plane. Buffers are sized once,
//! and objects at rest step without allocating; a manifold parry recomputes from
//! scratch (objects landing, rolling, toppling; capsules) may still allocate inside
//! parry — a known limit of this first step.
//!
//! The robot's moving links touch objects through their collision shapes — primitives,
//! and meshes as their convex hulls ([`Objects::step_with_robot`]): a link is a body of
//! known motion in the objects' solve, counted with its own body's mass (a lower bound of its effective mass, so the
//! spring is never too stiff for the robot's explicit side), and each contact's
//! reaction joins the robot's link forces in the same step.
//!
//! Known limit: a box balanced on a round link (a cylinder's side) rocks with a slowly
//! growing amplitude and falls off after some seconds — rolling contact on curved shapes
//! gains energy here.
//!
//! Self-collision (`ContactConfig::self_collision`) makes every pair of moving links
//! that are not a joint's two sides, nor disabled, a pair here too: both are bodies of
//! known motion, so their contact force is the spring and damper's at the step's start,
//! and each link takes its side of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use embody_model::spatial::{Force, Mat3, Transform, Vec3};
use embody_model::{Data, Model, Shape as ModelShape};
use nalgebra::{DMatrix, DVector, Rotation3, UnitQuaternion};
use parry3d_f64::math::{Pose, Rotation, Vector};
use parry3d_f64::query::{ContactManifold, DefaultQueryDispatcher, PersistentQueryDispatcher};
use parry3d_f64::shape::{Ball, Capsule, ConvexPolyhedron, Cuboid, Cylinder, Shape};
use serde::{Deserialize, Serialize};

use crate::contact::{Environment, StaticBox};

/// An object's shape, in its own frame (cylinders and capsules along z).
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectShape {
    /// A box of these full side lengths (m).
    Box {
        /// Side lengths (m).
        size: [f64; 3],
    },
    /// A sphere.
    Sphere {
        /// Radius (m).
        radius: f64,
    },
    /// A cylinder along z.
    Cylinder {
        /// Radius (m).
        radius: f64,
        /// Length (m).
        length: f64,
    },
    /// A capsule along z: a cylinder of `length` capped by hemispheres.
    Capsule {
        /// Radius (m).
        radius: f64,
        /// Length of the cylindrical part (m).
        length: f64,
    },
    /// The convex hull of a mesh file, in the mesh's frame.
    Hull(Arc<LoadedMesh>),
}

/// A mesh file read for an object: where it is, and its convex hull.
#[derive(Clone, Debug)]
pub struct LoadedMesh {
    /// The file.
    pub path: PathBuf,
    /// Its scale.
    pub scale: f64,
    /// Its convex hull (scaled), in the mesh's frame.
    pub hull: ConvexPolyhedron,
    /// Its hull's centre of mass in the mesh's frame (m): the object's frame is the
    /// mesh's moved there.
    pub centre: [f64; 3],
}

impl PartialEq for LoadedMesh {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.scale == other.scale
    }
}

/// Which shape an object has, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    /// `size = [x, y, z]`.
    Box,
    /// `radius`.
    Sphere,
    /// `radius`, `length`.
    Cylinder,
    /// `radius`, `length`.
    Capsule,
    /// `mesh` (an .stl or .obj file), optionally `scale`.
    Mesh,
}

/// An object as a scenario writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// Its name (for records and tasks).
    pub name: String,
    /// Its shape: `box` (with `size`), `sphere` (`radius`), `cylinder` or `capsule`
    /// (`radius`, `length`, along the object's z).
    pub shape: ShapeKind,
    /// A box's full side lengths (m).
    #[serde(default)]
    pub size: Option<[f64; 3]>,
    /// A sphere's, cylinder's or capsule's radius (m).
    #[serde(default)]
    pub radius: Option<f64>,
    /// A cylinder's length, or a capsule's between its caps' centres (m).
    #[serde(default)]
    pub length: Option<f64>,
    /// A mesh's file (.stl or .obj), relative to the scenario or task file. The object
    /// is its convex hull, in the mesh's frame moved to its centre of mass:
    /// `position_m` places that centre.
    #[serde(default)]
    pub mesh: Option<String>,
    /// A mesh's scale (its units to metres; 0.001 for millimetres). Default 1.
    #[serde(default)]
    pub scale: Option<f64>,
    /// The mesh, read ([`Environment::load_meshes`]).
    #[serde(skip)]
    pub loaded: Option<Arc<LoadedMesh>>,
    /// Mass (kg); default from `density_kgpm3`.
    #[serde(default)]
    pub mass_kg: Option<f64>,
    /// Density (kg/m³) when no mass is given. Default 1000 (water).
    #[serde(default)]
    pub density_kgpm3: Option<f64>,
    /// Coulomb friction coefficient; a pair uses the larger of its two. Default 0.8.
    #[serde(default = "default_friction")]
    pub friction: f64,
    /// Coefficient of restitution in [0, 1): the share of the approach speed it leaves
    /// a contact with; a pair uses the larger of its two. Default 0 (no bounce).
    #[serde(default)]
    pub restitution: f64,
    /// Principal moments of inertia about its centre, along its axes (kg·m²); default
    /// from the shape, taken as uniform.
    #[serde(default)]
    pub inertia_kgm2: Option<[f64; 3]>,
    /// Where it starts (m).
    pub position_m: [f64; 3],
    /// How it is turned: roll, pitch, yaw (rad).
    #[serde(default)]
    pub rpy_rad: [f64; 3],
    /// Its starting velocity (m/s).
    #[serde(default)]
    pub velocity_mps: [f64; 3],
    /// Its starting angular velocity (rad/s, world).
    #[serde(default)]
    pub angular_velocity_radps: [f64; 3],
    /// Held where it is, as the static boxes are (its mass then plays no part). Default
    /// false: it moves freely.
    #[serde(default)]
    pub fixed: bool,
    /// Its colour as cameras see it, RGB 0–1. Default orange.
    #[serde(default)]
    pub color: Option<[f64; 3]>,
    /// An AprilTag printed on a box's top face (+z), centred, its x and y along the
    /// box's. Default none.
    #[serde(default)]
    pub tag: Option<PrintedTag>,
    /// Where it starts drawn afresh for each run's seed ([`Environment::placed`]).
    /// Default none: where `position_m` and `rpy_rad` put it.
    #[serde(default)]
    pub random: Option<RandomPlacement>,
}

/// Offsets drawn for each run's seed, each uniformly within its range, added to an
/// object's `position_m` and to its yaw. A range left out is no offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomPlacement {
    /// Along x (m).
    pub x_m: [f64; 2],
    /// Along y (m).
    pub y_m: [f64; 2],
    /// About the vertical (rad).
    pub yaw_rad: [f64; 2],
}

impl RandomPlacement {
    fn check(&self) -> Result<(), String> {
        for (key, [lo, hi], limit) in [
            ("x_m", self.x_m, 10.0),
            ("y_m", self.y_m, 10.0),
            ("yaw_rad", self.yaw_rad, std::f64::consts::PI),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi && lo >= -limit && hi <= limit) {
                return Err(format!(
                    "random.{key} [{lo}, {hi}]: a range from low to high within ±{limit}"
                ));
            }
        }
        Ok(())
    }
}

/// An AprilTag 36h11 printed on an object.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintedTag {
    /// Its id, 0–586.
    pub id: u16,
    /// The side of its black square (m); its white ring adds a quarter of that.
    pub size_m: f64,
}

impl PrintedTag {
    /// Checks it fits the top face of a box of `size`.
    fn check(&self, shape: &ObjectShape) -> Result<(), String> {
        if self.id >= embody_vision::tags::TAG36H11_COUNT {
            return Err(format!(
                "tag id {} is not in 36h11 (0–{})",
                self.id,
                embody_vision::tags::TAG36H11_COUNT - 1
            ));
        }
        let ObjectShape::Box { size } = shape else {
            return Err("a tag is printed on a box's top face; this is no box".into());
        };
        let printed = self.size_m * (embody_vision::TAG_CELLS as f64)
            / (embody_vision::TAG_BLACK_CELLS as f64);
        if !(self.size_m.is_finite() && self.size_m > 0.0 && printed <= size[0].min(size[1])) {
            return Err(format!(
                "tag size_m {} m: with its white ring ({printed:.4} m) it must fit the top \
                 face ({} × {} m)",
                self.size_m, size[0], size[1]
            ));
        }
        Ok(())
    }
}

impl Object {
    /// An object of `shape` with everything else at its default, at rest at `position_m`.
    pub fn new(name: &str, shape: ObjectShape, position_m: [f64; 3]) -> Object {
        let (kind, size, radius, length) = match &shape {
            ObjectShape::Box { size } => (ShapeKind::Box, Some(*size), None, None),
            ObjectShape::Sphere { radius } => (ShapeKind::Sphere, None, Some(*radius), None),
            ObjectShape::Cylinder { radius, length } => {
                (ShapeKind::Cylinder, None, Some(*radius), Some(*length))
            }
            ObjectShape::Capsule { radius, length } => {
                (ShapeKind::Capsule, None, Some(*radius), Some(*length))
            }
            ObjectShape::Hull(_) => (ShapeKind::Mesh, None, None, None),
        };
        let loaded = match &shape {
            ObjectShape::Hull(mesh) => Some(mesh.clone()),
            _ => None,
        };
        Object {
            name: name.to_owned(),
            shape: kind,
            size,
            radius,
            length,
            mesh: loaded.as_ref().map(|m| m.path.display().to_string()),
            scale: None,
            loaded,
            mass_kg: None,
            density_kgpm3: None,
            friction: default_friction(),
            restitution: 0.0,
            inertia_kgm2: None,
            position_m,
            rpy_rad: [0.0; 3],
            velocity_mps: [0.0; 3],
            angular_velocity_radps: [0.0; 3],
            fixed: false,
            color: None,
            tag: None,
            random: None,
        }
    }

    /// Its shape, from the keys its kind takes (and no others).
    pub fn geometry(&self) -> Result<ObjectShape, String> {
        let given = [
            ("size", self.size.is_some()),
            ("radius", self.radius.is_some()),
            ("length", self.length.is_some()),
            ("mesh", self.mesh.is_some()),
        ];
        let takes: &[&str] = match self.shape {
            ShapeKind::Box => &["size"],
            ShapeKind::Sphere => &["radius"],
            ShapeKind::Cylinder | ShapeKind::Capsule => &["radius", "length"],
            ShapeKind::Mesh => &["mesh"],
        };
        for (key, is_given) in given {
            if is_given != takes.contains(&key) {
                let verb = if is_given { "does not take" } else { "needs" };
                return Err(format!("a {:?} {verb} `{key}`", self.shape).to_lowercase());
            }
        }
        if self.scale.is_some() && self.shape != ShapeKind::Mesh {
            return Err(format!("a {:?} does not take `scale`", self.shape).to_lowercase());
        }
        if self.shape == ShapeKind::Mesh {
            return match &self.loaded {
                Some(mesh) => Ok(ObjectShape::Hull(mesh.clone())),
                None => Err(format!(
                    "mesh '{}' was not read: a mesh is given in a scenario or task file, whose folder its path is relative to",
                    self.mesh.as_deref().unwrap_or_default()
                )),
            };
        }
        let (r, l) = (self.radius.unwrap_or(0.0), self.length.unwrap_or(0.0));
        Ok(match self.shape {
            ShapeKind::Box => ObjectShape::Box {
                size: self.size.unwrap_or([0.0; 3]),
            },
            ShapeKind::Sphere => ObjectShape::Sphere { radius: r },
            ShapeKind::Cylinder => ObjectShape::Cylinder {
                radius: r,
                length: l,
            },
            ShapeKind::Capsule => ObjectShape::Capsule {
                radius: r,
                length: l,
            },
            ShapeKind::Mesh => unreachable!("returned above"),
        })
    }
}

/// The damping ratio at which a contact of this law — a spring of `ω²` and a damper of
/// `2ζω` per unit mass, taken implicitly, pushing only — stepped at `dt` sends a body
/// back at `e` of the speed it came in with; `None` when no damping is low enough (the
/// step's own damping loses more), in which case the least (0) is the nearest.
pub fn bounce_damping(e: f64, omega: f64, dt: f64) -> Option<f64> {
    let bounce = |zeta: f64| {
        let (k, c) = (omega * omega, 2.0 * zeta * omega);
        // Depth and approach speed (into the surface), from touching at unit speed.
        let (mut x, mut v) = (0.0, 1.0);
        for _ in 0..100_000 {
            let pushing = k * x + c * v;
            if x > 0.0 && pushing > 0.0 {
                v = (v - dt * k * x) / (1.0 + dt * (c + dt * k));
            }
            x += dt * v;
            if x < 0.0 {
                return -v;
            }
        }
        0.0
    };
    if bounce(0.0) < e {
        return None;
    }
    let (mut lo, mut hi) = (0.0, 4.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if bounce(mid) > e {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

impl Environment {
    /// This environment with each object that asks for it ([`Object::random`]) placed,
    /// and its light varied if it asks ([`crate::render::Light::random`]), by `seed`:
    /// the same seed, the same places and light.
    pub fn placed(&self, seed: u64) -> Environment {
        use rand::{Rng, SeedableRng};
        let mut placed = self.clone();
        // Its own stream: the sensors' noise does not shift with the objects.
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ 0x006f_626a_6563_7473);
        let mut draw = |[lo, hi]: [f64; 2]| {
            if hi > lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            }
        };
        for object in &mut placed.objects {
            if let Some(r) = object.random {
                object.position_m[0] += draw(r.x_m);
                object.position_m[1] += draw(r.y_m);
                object.rpy_rad[2] += draw(r.yaw_rad);
            }
        }
        // After the objects: a scene that adds a random light keeps its objects' places.
        placed.light = self.light.drawn(&mut draw);
        placed
    }

    /// Reads the mesh of every object that names one (its path relative to `folder`,
    /// the scenario's or task file's); on failure the object's key and why.
    pub fn load_meshes(&mut self, folder: &Path) -> Result<(), (String, String)> {
        for (k, object) in self.objects.iter_mut().enumerate() {
            let Some(file) = &object.mesh else { continue };
            let key = || format!("objects[{k}].mesh");
            let scale = object.scale.unwrap_or(1.0);
            if !(scale.is_finite() && scale > 0.0 && scale <= 1e3) {
                return Err((
                    format!("objects[{k}].scale"),
                    format!("{}: must be in (0, 1000], not {scale}", object.name),
                ));
            }
            let path = folder.join(file);
            let hull = crate::mesh::load_hull(&path, [scale; 3])
                .map_err(|why| (key(), format!("{}: {why}", object.name)))?;
            let c = hull.mass_properties(1.0).local_com;
            object.loaded = Some(Arc::new(LoadedMesh {
                path,
                scale,
                hull,
                centre: [c.x, c.y, c.z],
            }));
        }
        Ok(())
    }
}

fn default_friction() -> f64 {
    0.8
}

/// How object contacts are stiff and damped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectContact {
    /// Time constant of a contact's spring (s): `k = m·(2π/T)²`.
    pub time_constant_s: f64,
    /// Damping ratio (1: critical).
    pub damping_ratio: f64,
    /// Friction of the ground and static boxes.
    pub environment_friction: f64,
    /// The physics step (s): a restitution's damping is worked out for it.
    pub dt_s: f64,
    /// The robot's links touch each other too.
    pub self_collision: bool,
}

impl Default for ObjectContact {
    fn default() -> Self {
        ObjectContact {
            time_constant_s: 0.02,
            damping_ratio: 1.0,
            environment_friction: 0.8,
            dt_s: 0.001,
            self_collision: false,
        }
    }
}

/// A shape parry can collide.
#[derive(Clone, Debug)]
enum Solid {
    Cuboid(Cuboid),
    Ball(Ball),
    Cylinder(Cylinder),
    Capsule(Capsule),
    Hull(ConvexPolyhedron),
}

impl Solid {
    /// A primitive's solid (a hull's is made with its mass properties: [`hull_body`]).
    fn of(shape: &ObjectShape) -> Solid {
        match *shape {
            ObjectShape::Box { size } => {
                Solid::Cuboid(Cuboid::new(Vector::new(size[0], size[1], size[2]) * 0.5))
            }
            ObjectShape::Sphere { radius } => Solid::Ball(Ball::new(radius)),
            ObjectShape::Cylinder { radius, length } => {
                Solid::Cylinder(Cylinder::new(0.5 * length, radius))
            }
            ObjectShape::Capsule { radius, length } => {
                Solid::Capsule(Capsule::new_z(0.5 * length, radius))
            }
            ObjectShape::Hull(ref mesh) => Solid::Hull(mesh.hull.clone()),
        }
    }

    fn shape(&self) -> &dyn Shape {
        match self {
            Solid::Cuboid(s) => s,
            Solid::Ball(s) => s,
            Solid::Cylinder(s) => s,
            Solid::Capsule(s) => s,
            Solid::Hull(s) => s,
        }
    }

    /// parry's cylinder lies along y; ours along z.
    fn frame(&self) -> UnitQuaternion<f64> {
        match self {
            Solid::Cylinder(_) => {
                UnitQuaternion::from_euler_angles(std::f64::consts::FRAC_PI_2, 0.0, 0.0)
            }
            _ => UnitQuaternion::identity(),
        }
    }
}

/// Volume (m³) and the unit-density inertia about the centre of mass, in the object's
/// frame (kg·m² per kg/m³; principal for the primitives).
fn volume_and_inertia(shape: &ObjectShape) -> (f64, Mat3) {
    use std::f64::consts::PI;
    let principal = |v: f64, i: [f64; 3]| (v, Mat3::from_diagonal(&Vec3::from(i)));
    match *shape {
        ObjectShape::Box { size: [a, b, c] } => {
            let v = a * b * c;
            principal(
                v,
                [
                    v * (b * b + c * c) / 12.0,
                    v * (a * a + c * c) / 12.0,
                    v * (a * a + b * b) / 12.0,
                ],
            )
        }
        ObjectShape::Sphere { radius: r } => {
            let v = 4.0 / 3.0 * PI * r.powi(3);
            let i = 0.4 * v * r * r;
            principal(v, [i, i, i])
        }
        ObjectShape::Cylinder {
            radius: r,
            length: h,
        } => {
            let v = PI * r * r * h;
            let side = v * (3.0 * r * r + h * h) / 12.0;
            principal(v, [side, side, 0.5 * v * r * r])
        }
        ObjectShape::Capsule {
            radius: r,
            length: h,
        } => {
            // A cylinder and a sphere split into two caps at its ends.
            let (vc, vs) = (PI * r * r * h, 4.0 / 3.0 * PI * r.powi(3));
            let axial = 0.5 * vc * r * r + 0.4 * vs * r * r;
            let cap_offset = 0.5 * h + 3.0 * r / 8.0;
            let caps = vs * (0.4 * r * r - (3.0 * r / 8.0).powi(2)) + vs * cap_offset * cap_offset;
            let side = vc * (3.0 * r * r + h * h) / 12.0 + caps;
            principal(vc + vs, [side, side, axial])
        }
        ObjectShape::Hull(ref mesh) => {
            // About its centre of mass, in the mesh's axes.
            let properties = mesh.hull.mass_properties(1.0);
            let i = properties.reconstruct_inertia_matrix();
            (properties.mass(), Mat3::from_fn(|r, c| i.col(c)[r]))
        }
    }
}

/// One free or static body.
#[derive(Clone, Debug)]
struct Body {
    solid: Solid,
    mass: f64,
    /// Inertia about the centre in the body frame.
    inertia: Mat3,
    friction: f64,
    restitution: f64,
    /// The damping ratio that bounces it back at its restitution (none: no bounce).
    bounce_damping: Option<f64>,
    position: Vec3,
    rotation: UnitQuaternion<f64>,
    /// Linear velocity of the centre and angular velocity (world).
    velocity: Vec3,
    angular: Vec3,
    /// Index of its six unknowns in the solve; `None` for a static or robot body.
    slot: Option<usize>,
    /// A robot link's shape: its joint body and the shape's placement in the joint frame.
    link: Option<(usize, Transform)>,
    /// Radius of a sphere about `position` that holds the shape (broad phase).
    reach: f64,
}

impl Body {
    fn pose(&self) -> Pose {
        let q = self.rotation * self.solid.frame();
        Pose::from_parts(
            Vector::new(self.position.x, self.position.y, self.position.z),
            Rotation::from_xyzw(q.i, q.j, q.k, q.w),
        )
    }

    /// Velocity of the material point at `p` (world).
    fn velocity_at(&self, p: &Vec3) -> Vec3 {
        self.velocity + self.angular.cross(&(p - self.position))
    }
}

/// Radius of a sphere about the shape's centre that holds it.
fn bounding_radius(shape: &ObjectShape) -> f64 {
    match *shape {
        ObjectShape::Box { size } => 0.5 * Vec3::from(size).norm(),
        ObjectShape::Sphere { radius } => radius,
        ObjectShape::Cylinder { radius, length } => {
            (radius * radius + 0.25 * length * length).sqrt()
        }
        ObjectShape::Capsule { radius, length } => radius + 0.5 * length,
        ObjectShape::Hull(ref mesh) => (mesh.hull.points().iter())
            .map(|p| p.length())
            .fold(0.0, f64::max),
    }
}

/// A touching point of this step, kept to work out its force after the solve (and hand
/// a robot link its reaction): `F = F₀ − D·u` on body `b`.
#[derive(Clone, Copy, Debug)]
struct TouchPoint {
    a: usize,
    b: usize,
    at: Vec3,
    d: Mat3,
    f0: Vec3,
}

/// One contact force of the last step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectContactForce {
    /// Where it acts (world, m).
    pub point: Vec3,
    /// The force on the second body of the pair — an object, a robot link — from the
    /// first (world, N).
    pub force: Vec3,
}

impl ObjectContactForce {
    /// `[px py pz fx fy fz]`, as records and recordings carry it.
    pub fn to_array(&self) -> [f64; 6] {
        let (p, f) = (self.point, self.force);
        [p.x, p.y, p.z, f.x, f.y, f.z]
    }
}

/// A point given in `pose`'s frame, in the world.
fn to_world(pose: &Pose, local: Vector) -> Vec3 {
    let w = pose.rotation * local + pose.translation;
    Vec3::new(w.x, w.y, w.z)
}

/// What one pair's touching points share this step: the bodies, each point's spring
/// and damper, the pair's friction, both poses and the normal from `a` to `b`.
struct PairContact {
    a: usize,
    b: usize,
    k: f64,
    c: f64,
    mu: f64,
    pose_a: Pose,
    pose_b: Pose,
    n: Vec3,
}

impl PairContact {
    /// Where a manifold point acts: midway between its two surface points.
    fn at(&self, local_p1: Vector, local_p2: Vector) -> Vec3 {
        0.5 * (to_world(&self.pose_a, local_p1) + to_world(&self.pose_b, local_p2))
    }
}

/// The spring deflection a contact point carries between steps (world, m).
type Deflection = [f64; 3];

/// A pair that may touch: a free body `a` and another body `b`.
struct Pair {
    a: usize,
    b: usize,
    manifold: ContactManifold<(), Deflection>,
    /// Last step's points (world) and deflections: a point parry reports anew (its
    /// features changed, as a box rocks on a cylinder) takes the deflection of the old
    /// point it replaces, so the spring is not reset.
    previous: [(Vec3, Deflection); MAX_POINTS],
    previous_len: usize,
}

/// Points a manifold keeps track of at most.
const MAX_POINTS: usize = 16;
/// How close a new point must be to an old one to take its deflection (m).
const SAME_POINT_M: f64 = 0.005;

/// Every object in the world and the static bodies they touch. See the module docs.
pub struct Objects {
    bodies: Vec<Body>,
    /// Every object's name, free and fixed, as written; and its body.
    names: Vec<String>,
    body_of: Vec<usize>,
    /// The free objects are the first `free` bodies, the fixed ones next.
    free: usize,
    pairs: Vec<Pair>,
    contact: ObjectContact,
    gravity: Vec3,
    system: DMatrix<f64>,
    rhs: DVector<f64>,
    /// Active contact points of the last step.
    touching: usize,
    /// This step's touching points (capacity fixed).
    points: Vec<TouchPoint>,
    /// Their forces, after the solve.
    forces: Vec<ObjectContactForce>,
}

/// A problem with an object as written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("objects[{index}] ({name}): {reason}")]
pub struct ObjectError {
    /// Its index.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Ground slab thickness (m): its top face is the ground plane.
const GROUND_HALF_THICKNESS: f64 = 1.0;
/// Ground slab half width (m).
const GROUND_HALF_WIDTH: f64 = 1000.0;

impl Objects {
    /// Checks every object of `environment`: sizes, mass, friction, state.
    pub fn check(environment: &Environment) -> Result<(), ObjectError> {
        for (index, object) in environment.objects.iter().enumerate() {
            free_body(object, index).map_err(|reason| ObjectError {
                index,
                name: object.name.clone(),
                reason,
            })?;
        }
        Ok(())
    }

    /// The objects of `environment` (none: an empty set that costs nothing per step)
    /// touching each other, the environment and `model`'s moving links' collision
    /// shapes (primitives, and meshes as their hulls).
    pub fn new(
        environment: &Environment,
        contact: ObjectContact,
        model: &Model,
        disabled: &[[String; 2]],
    ) -> Result<Objects, ObjectError> {
        let gravity = model.gravity;
        let mut bodies = Vec::new();
        let mut body_of = vec![0; environment.objects.len()];
        // The free objects first (their unknowns in order), then the fixed ones.
        let in_order = (environment
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.fixed))
        .chain(
            environment
                .objects
                .iter()
                .enumerate()
                .filter(|(_, o)| o.fixed),
        );
        for (index, object) in in_order {
            let mut body = free_body(object, bodies.len()).map_err(|reason| ObjectError {
                index,
                name: object.name.clone(),
                reason,
            })?;
            if body.restitution > 0.0 {
                let omega = std::f64::consts::TAU / contact.time_constant_s;
                // A restitution past what the step allows bounces as much as it can.
                body.bounce_damping =
                    Some(bounce_damping(body.restitution, omega, contact.dt_s).unwrap_or(0.0));
            }
            if object.fixed {
                body.slot = None;
                body.mass = f64::INFINITY;
                (body.velocity, body.angular) = (Vec3::zeros(), Vec3::zeros());
            }
            body_of[index] = bodies.len();
            bodies.push(body);
        }
        let names = (environment.objects.iter())
            .map(|o| o.name.clone())
            .collect();
        let free = (environment.objects.iter()).filter(|o| !o.fixed).count();
        let objects = bodies.len();
        // The ground and static boxes matter to free objects only; the links to objects
        // and, with self-collision, to each other.
        if free > 0 {
            if environment.ground {
                let mut ground = static_box(&StaticBox {
                    center: [
                        0.0,
                        0.0,
                        environment.ground_height_m - GROUND_HALF_THICKNESS,
                    ],
                    size: [
                        2.0 * GROUND_HALF_WIDTH,
                        2.0 * GROUND_HALF_WIDTH,
                        2.0 * GROUND_HALF_THICKNESS,
                    ],
                    yaw_rad: 0.0,
                    rpy_rad: None,
                });
                ground.friction = contact.environment_friction;
                bodies.push(ground);
            }
            for b in &environment.boxes {
                let mut body = static_box(b);
                body.friction = contact.environment_friction;
                bodies.push(body);
            }
        }
        let mut links = Vec::new();
        if objects > 0 || contact.self_collision {
            for (body, link) in link_bodies(model, contact.environment_friction) {
                links.push((bodies.len(), link));
                bodies.push(body);
            }
        }
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        for a in 0..free {
            for b in a + 1..bodies.len() {
                candidates.push((a, b));
            }
        }
        for a in free..objects {
            candidates.extend(links.iter().map(|&(b, _)| (a, b)));
        }
        if contact.self_collision {
            for (i, &(a, link_a)) in links.iter().enumerate() {
                for &(b, link_b) in &links[i + 1..] {
                    if may_touch(model, disabled, link_a, link_b) {
                        candidates.push((a, b));
                    }
                }
            }
        }
        let pairs: Vec<Pair> = (candidates.into_iter())
            .map(|(a, b)| {
                let mut manifold = ContactManifold::new();
                manifold.points.reserve(16);
                Pair {
                    a,
                    b,
                    manifold,
                    previous: [(Vec3::zeros(), [0.0; 3]); MAX_POINTS],
                    previous_len: 0,
                }
            })
            .collect();
        let pair_count = pairs.len();
        Ok(Objects {
            bodies,
            names,
            body_of,
            free,
            pairs,
            contact,
            gravity,
            system: DMatrix::zeros(6 * free, 6 * free),
            rhs: DVector::zeros(6 * free),
            touching: 0,
            points: Vec::with_capacity(16 * pair_count),
            forces: Vec::with_capacity(16 * pair_count),
        })
    }

    /// No objects.
    pub fn none(gravity: Vec3) -> Objects {
        Objects {
            bodies: Vec::new(),
            names: Vec::new(),
            body_of: Vec::new(),
            free: 0,
            pairs: Vec::new(),
            contact: ObjectContact::default(),
            gravity,
            system: DMatrix::zeros(0, 0),
            rhs: DVector::zeros(0),
            touching: 0,
            points: Vec::new(),
            forces: Vec::new(),
        }
    }

    /// How many objects there are, free and fixed.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether anything here may touch (objects, or the robot's links each other).
    pub fn any_pairs(&self) -> bool {
        !self.pairs.is_empty()
    }

    /// The objects' names, in the order they were written.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Object `k`'s pose: `x y z qx qy qz qw` (world).
    pub fn pose(&self, k: usize) -> Option<[f64; 7]> {
        let b = &self.bodies[*self.body_of.get(k)?];
        let (p, q) = (b.position, b.rotation);
        Some([p.x, p.y, p.z, q.i, q.j, q.k, q.w])
    }

    /// Object `k`'s linear and angular velocity (world).
    pub fn velocity(&self, k: usize) -> Option<(Vec3, Vec3)> {
        let b = &self.bodies[*self.body_of.get(k)?];
        Some((b.velocity, b.angular))
    }

    /// Contact points active at the last step.
    pub fn touching(&self) -> usize {
        self.touching
    }

    /// The contact forces of the last step (points that touch; at most 16 a pair).
    pub fn contact_forces(&self) -> &[ObjectContactForce] {
        &self.forces
    }

    /// Advances every object by `dt` (s), the robot's links standing still.
    pub fn step(&mut self, dt: f64) {
        if self.pairs.is_empty() {
            return;
        }
        self.find_contacts();
        self.assemble(dt);
        self.solve(dt);
        self.settle_forces(None);
        self.advance(dt);
    }

    /// Works out each touching point's force with the objects' new velocities, and
    /// adds a robot link's reaction into `links` (world spatial forces per joint body).
    fn settle_forces(&mut self, mut links: Option<&mut [Force]>) {
        self.forces.clear();
        for point in &self.points {
            let (a, b) = (&self.bodies[point.a], &self.bodies[point.b]);
            // F₀ − D·u with the new velocities.
            let u = b.velocity_at(&point.at) - a.velocity_at(&point.at);
            let force = point.f0 - point.d * u;
            self.forces.push(ObjectContactForce {
                point: point.at,
                force,
            });
            if let Some(links) = links.as_deref_mut() {
                // The force on b, and its reaction on a (a link touching a link).
                for (link, f) in [(b.link, force), (a.link, -force)] {
                    if let Some(slot) = link.and_then(|(joint, _)| links.get_mut(joint)) {
                        *slot = slot.add(&Force::at_point(f, &point.at));
                    }
                }
            }
        }
    }

    /// Advances every object by `dt` (s) against the robot's links where `data` places
    /// them (forward kinematics with velocities done), and adds each contact's
    /// reaction on a link into `forces` (world spatial forces per joint body), so the
    /// robot feels what it touches within the same step.
    pub fn step_with_robot(&mut self, dt: f64, data: &Data, forces: &mut [Force]) {
        if self.pairs.is_empty() {
            return;
        }
        self.place_links(data);
        self.find_contacts();
        self.assemble(dt);
        self.solve(dt);
        self.settle_forces(Some(forces));
        self.advance(dt);
    }

    /// Poses each robot link shape and its velocity from `data`.
    fn place_links(&mut self, data: &Data) {
        for body in &mut self.bodies[self.free..] {
            let Some((joint, local)) = body.link else {
                continue;
            };
            let (Some(x), Some(twist)) = (data.world_from_joint.get(joint), data.v.get(joint))
            else {
                continue;
            };
            let placed = x.mul(&local);
            body.position = placed.translation;
            body.rotation = UnitQuaternion::from_rotation_matrix(
                &Rotation3::from_matrix_unchecked(placed.rotation),
            );
            // The twist is in the joint frame, about its origin.
            body.velocity = x.rotation * (twist.linear + twist.angular.cross(&local.translation));
            body.angular = x.rotation * twist.angular;
        }
    }

    /// Updates every pair's manifold.
    fn find_contacts(&mut self) {
        let dispatcher = DefaultQueryDispatcher;
        for pair in &mut self.pairs {
            let (a, b) = (&self.bodies[pair.a], &self.bodies[pair.b]);
            if (a.position - b.position).norm() > a.reach + b.reach + 0.01 {
                pair.manifold.clear();
                continue;
            }
            let pos12 = a.pose().inv_mul(&b.pose());
            if dispatcher
                .contact_manifold_convex_convex(
                    &pos12,
                    a.solid.shape(),
                    b.solid.shape(),
                    None,
                    None,
                    0.0,
                    &mut pair.manifold,
                )
                .is_err()
            {
                pair.manifold.clear();
            }
            let pose_a = a.pose();
            for point in &mut pair.manifold.points {
                if point.data != [0.0; 3] || pair.previous_len == 0 {
                    continue;
                }
                let at = to_world(&pose_a, point.local_p1);
                let nearest = (pair.previous[..pair.previous_len].iter())
                    .map(|(p, d)| ((p - at).norm(), *d))
                    .min_by(|x, y| x.0.total_cmp(&y.0));
                if let Some((distance, deflection)) = nearest
                    && distance < SAME_POINT_M
                {
                    point.data = deflection;
                }
            }
        }
    }

    /// The stiffness and damping of one point of a manifold of `points` points between
    /// bodies `a` and `b`.
    fn spring(&self, a: usize, b: usize, points: usize) -> (f64, f64) {
        // A robot link counts with its own body's mass: a lower bound of its effective
        // mass (joints only take mobility away), so the spring is never too stiff for
        // the robot's explicit side.
        let inverse = |k: usize| {
            let body = &self.bodies[k];
            if body.mass.is_finite() && body.mass > 0.0 {
                1.0 / body.mass
            } else {
                0.0
            }
        };
        let m = 1.0 / (inverse(a) + inverse(b)).max(1e-12);
        let omega = std::f64::consts::TAU / self.contact.time_constant_s;
        let n = points.max(1) as f64;
        // The bouncier body's damping (worked out for its restitution), else the
        // contact's own ratio.
        let (ba, bb) = (&self.bodies[a], &self.bodies[b]);
        let bouncier = if ba.restitution >= bb.restitution {
            ba
        } else {
            bb
        };
        let zeta = bouncier
            .bounce_damping
            .unwrap_or(self.contact.damping_ratio);
        (m * omega * omega / n, 2.0 * zeta * m * omega / n)
    }

    /// Pair `p`'s contact this step, with how many of its points touch.
    fn pair_contact(&self, p: usize) -> (PairContact, usize) {
        let pair = &self.pairs[p];
        let (a, b) = (pair.a, pair.b);
        let points = pair.manifold.points.iter().filter(|c| c.dist < 0.0).count();
        let (k, c) = self.spring(a, b, points);
        let pose_a = self.bodies[a].pose();
        let n1 = pose_a.rotation * pair.manifold.local_n1;
        let contact = PairContact {
            a,
            b,
            k,
            c,
            mu: self.bodies[a].friction.max(self.bodies[b].friction),
            pose_a,
            pose_b: self.bodies[b].pose(),
            n: Vec3::new(n1.x, n1.y, n1.z),
        };
        (contact, points)
    }

    /// Builds `(M + dt·Gᵀ·D·G)·Δξ = dt·(f + Gᵀ·(F₀ − D·G·ξ))`, deciding stick or slip per
    /// point, and updates nothing yet.
    fn assemble(&mut self, dt: f64) {
        self.system.fill(0.0);
        self.rhs.fill(0.0);
        for body in &self.bodies[..self.free] {
            let Some(s) = body.slot else { continue };
            let r = body.rotation.to_rotation_matrix().into_inner();
            let inertia = r * body.inertia * r.transpose();
            for i in 0..3 {
                self.system[(s + i, s + i)] += body.mass;
                for j in 0..3 {
                    self.system[(s + 3 + i, s + 3 + j)] += inertia[(i, j)];
                }
            }
            let gyro = -body.angular.cross(&(inertia * body.angular));
            for i in 0..3 {
                self.rhs[s + i] += dt * body.mass * self.gravity[i];
                self.rhs[s + 3 + i] += dt * gyro[i];
            }
        }
        self.touching = 0;
        self.points.clear();
        for p in 0..self.pairs.len() {
            let (pc, points) = self.pair_contact(p);
            if points == 0 {
                continue;
            }
            let PairContact {
                a, b, k, c, mu, n, ..
            } = pc;
            for i in 0..self.pairs[p].manifold.points.len() {
                let point = self.pairs[p].manifold.points[i];
                if point.dist >= 0.0 {
                    continue;
                }
                let at = pc.at(point.local_p1, point.local_p2);
                let depth = -point.dist;
                // Velocity of b relative to a at the point; n points from a to b.
                let u = self.bodies[b].velocity_at(&at) - self.bodies[a].velocity_at(&at);
                let un = u.dot(&n);
                let tangent = Mat3::identity() - n * n.transpose();
                let s = tangent * Vec3::from(point.data);
                let trial_n = k * depth - c * un;
                if trial_n <= 0.0 {
                    continue; // separating faster than the spring pushes
                }
                self.touching += 1;
                let trial_t = -k * s - c * (tangent * u);
                let sticking = trial_t.norm() <= mu * trial_n;
                // The force on b: F = F₀ − D·u(ξ′).
                let mut d = (c + dt * k) * n * n.transpose();
                let mut f0 = k * depth * n;
                if sticking {
                    d += (c + dt * k) * tangent;
                    f0 -= k * s;
                } else {
                    f0 += mu * trial_n * trial_t / trial_t.norm();
                }
                self.add_point(a, b, &at, &d, &f0, dt);
                if self.points.len() < self.points.capacity() {
                    self.points.push(TouchPoint { a, b, at, d, f0 });
                }
            }
        }
    }

    /// Adds one contact point's force `F₀ − D·u` on `b` (its reaction on `a`) to the system.
    fn add_point(&mut self, a: usize, b: usize, at: &Vec3, d: &Mat3, f0: &Vec3, dt: f64) {
        // u = G_b·ξ_b − G_a·ξ_a with G = [I, −[r]×]; each body's rows and sign.
        let rows: [(Option<usize>, f64, Vec3); 2] = [
            (self.bodies[a].slot, -1.0, at - self.bodies[a].position),
            (self.bodies[b].slot, 1.0, at - self.bodies[b].position),
        ];
        let jacobian = |r: &Vec3| -> nalgebra::Matrix3x6<f64> {
            let mut g = nalgebra::Matrix3x6::zeros();
            g.fixed_view_mut::<3, 3>(0, 0).copy_from(&Mat3::identity());
            g.fixed_view_mut::<3, 3>(0, 3)
                .copy_from(&(-r.cross_matrix()));
            g
        };
        // Known velocity part: D·u(ξ) at the start of the step.
        let u = self.bodies[b].velocity_at(at) - self.bodies[a].velocity_at(at);
        let force = f0 - d * u;
        for &(slot_i, sign_i, r_i) in &rows {
            let Some(si) = slot_i else { continue };
            let gi = jacobian(&r_i);
            let generalized = sign_i * gi.transpose() * force;
            for k in 0..6 {
                self.rhs[si + k] += dt * generalized[k];
            }
            for &(slot_j, sign_j, r_j) in &rows {
                let Some(sj) = slot_j else { continue };
                let gj = jacobian(&r_j);
                let block = (dt * sign_i * sign_j) * gi.transpose() * d * gj;
                for r in 0..6 {
                    for c in 0..6 {
                        self.system[(si + r, sj + c)] += block[(r, c)];
                    }
                }
            }
        }
    }

    /// Solves for the velocity change and updates each contact point's deflection with
    /// the velocity it ended with; nothing moves yet.
    fn solve(&mut self, dt: f64) {
        let system = std::mem::replace(&mut self.system, DMatrix::zeros(0, 0));
        match system.cholesky() {
            Some(cholesky) => {
                cholesky.solve_mut(&mut self.rhs);
                self.system = cholesky.unpack();
            }
            None => {
                // Not positive definite (it always is: M > 0, D ⪰ 0); keep the velocities.
                self.rhs.fill(0.0);
                self.system = DMatrix::zeros(6 * self.free, 6 * self.free);
            }
        }
        for body in &mut self.bodies[..self.free] {
            let Some(s) = body.slot else { continue };
            body.velocity += Vec3::new(self.rhs[s], self.rhs[s + 1], self.rhs[s + 2]);
            body.angular += Vec3::new(self.rhs[s + 3], self.rhs[s + 4], self.rhs[s + 5]);
        }
        self.update_deflections(dt);
    }

    /// Moves every object with its new velocity.
    fn advance(&mut self, dt: f64) {
        for body in &mut self.bodies[..self.free] {
            body.position += dt * body.velocity;
            body.rotation = UnitQuaternion::from_scaled_axis(dt * body.angular) * body.rotation;
        }
    }

    /// Each touching point's spring deflection after the step: grown by the tangential
    /// velocity while it sticks, dragged to the cone's edge while it slips.
    fn update_deflections(&mut self, dt: f64) {
        for p in 0..self.pairs.len() {
            let (pc, _) = self.pair_contact(p);
            let PairContact {
                a, b, k, c, mu, n, ..
            } = pc;
            let tangent = Mat3::identity() - n * n.transpose();
            for point in &mut self.pairs[p].manifold.points {
                if point.dist >= 0.0 {
                    point.data = [0.0; 3];
                    continue;
                }
                let at = pc.at(point.local_p1, point.local_p2);
                let u = self.bodies[b].velocity_at(&at) - self.bodies[a].velocity_at(&at);
                let fn_ = (k * -point.dist - (c + dt * k) * u.dot(&n)).max(0.0);
                let mut s = tangent * (Vec3::from(point.data) + dt * u);
                if k * s.norm() > mu * fn_ {
                    // Slipping: the anchor follows, the spring at the cone's edge.
                    s *= mu * fn_ / (k * s.norm());
                }
                point.data = [s.x, s.y, s.z];
            }
            // Where each point is (on a), for the next step's matching.
            let pair = &mut self.pairs[p];
            pair.previous_len = 0;
            for point in pair.manifold.points.iter().filter(|c| c.dist < 0.0) {
                if pair.previous_len == MAX_POINTS {
                    break;
                }
                pair.previous[pair.previous_len] =
                    (to_world(&pc.pose_a, point.local_p1), point.data);
                pair.previous_len += 1;
            }
        }
    }
}

/// A free body for `object`, its unknowns at `6·index`.
fn free_body(object: &Object, index: usize) -> Result<Body, String> {
    let positive = |v: f64| v.is_finite() && v > 0.0 && v <= 1e3;
    let shape = object.geometry()?;
    if let Some(tag) = &object.tag {
        tag.check(&shape)?;
    }
    if let Some(random) = &object.random {
        random.check()?;
    }
    let (solid, volume, unit_inertia, reach) = match &shape {
        ObjectShape::Hull(mesh) => hull_body(mesh)?,
        _ => {
            let size_ok = |v: f64| v.is_finite() && (1e-4..=1e3).contains(&v);
            let dims: Vec<f64> = match shape {
                ObjectShape::Box { size } => size.to_vec(),
                ObjectShape::Sphere { radius } => vec![radius],
                ObjectShape::Cylinder { radius, length }
                | ObjectShape::Capsule { radius, length } => vec![radius, length],
                ObjectShape::Hull(_) => Vec::new(),
            };
            if !dims.iter().all(|&d| size_ok(d)) {
                return Err("sizes must be finite, from 0.1 mm to 1000 m".into());
            }
            let (volume, unit_inertia) = volume_and_inertia(&shape);
            (
                Solid::of(&shape),
                volume,
                unit_inertia,
                bounding_radius(&shape),
            )
        }
    };
    let mass = match (object.mass_kg, object.density_kgpm3) {
        (Some(_), Some(_)) => return Err("give mass_kg or density_kgpm3, not both".into()),
        (Some(m), None) if positive(m) => m,
        (None, Some(rho)) if rho.is_finite() && rho > 0.0 && rho <= 1e5 => rho * volume,
        (None, None) => 1000.0 * volume,
        _ => return Err("mass_kg must be in (0, 1000] and density_kgpm3 in (0, 1e5]".into()),
    };
    if !(object.friction.is_finite() && (0.0..=10.0).contains(&object.friction)) {
        return Err(format!("friction {} is outside [0, 10]", object.friction));
    }
    if !(object.restitution.is_finite() && (0.0..1.0).contains(&object.restitution)) {
        return Err(format!(
            "restitution {} is outside [0, 1)",
            object.restitution
        ));
    }
    let inertia = match object.inertia_kgm2 {
        Some(i) if i.iter().all(|&x| x.is_finite() && x > 0.0 && x <= 1e6) => {
            // A body's principal moments obey the triangle inequality.
            if i[0] + i[1] < i[2] || i[1] + i[2] < i[0] || i[2] + i[0] < i[1] {
                return Err(format!(
                    "inertia_kgm2 {i:?}: no body has these moments (each must be at most the sum of the other two)"
                ));
            }
            Some(i)
        }
        Some(i) => {
            return Err(format!(
                "inertia_kgm2 {i:?}: each moment must be in (0, 1e6] kg·m²"
            ));
        }
        None => None,
    };
    let finite = |v: &[f64; 3]| v.iter().all(|x| x.is_finite() && x.abs() <= 1e4);
    if !(finite(&object.position_m)
        && finite(&object.rpy_rad)
        && finite(&object.velocity_mps)
        && finite(&object.angular_velocity_radps))
    {
        return Err("position, rpy and velocities must be finite and within 10 km".into());
    }
    if object.fixed
        && (object.velocity_mps != [0.0; 3] || object.angular_velocity_radps != [0.0; 3])
    {
        return Err(
            "a fixed object does not move: give it no velocity_mps or angular_velocity_radps"
                .into(),
        );
    }
    let scale = mass / volume;
    let [r, p, y] = object.rpy_rad;
    Ok(Body {
        solid,
        mass,
        inertia: match inertia {
            Some(i) => Mat3::from_diagonal(&Vec3::from(i)),
            None => unit_inertia * scale,
        },
        friction: object.friction,
        restitution: object.restitution,
        bounce_damping: None,
        position: Vec3::from(object.position_m),
        rotation: UnitQuaternion::from_euler_angles(r, p, y),
        velocity: Vec3::from(object.velocity_mps),
        angular: Vec3::from(object.angular_velocity_radps),
        slot: Some(6 * index),
        link: None,
        reach,
    })
}

/// A mesh's hull as a body's solid about its centre of mass: the solid, its volume, its
/// unit-density inertia there (in the mesh's axes) and its reach from there.
fn hull_body(mesh: &Arc<LoadedMesh>) -> Result<(Solid, f64, Mat3, f64), String> {
    let (volume, inertia) = volume_and_inertia(&ObjectShape::Hull(mesh.clone()));
    if !(volume.is_finite() && (1e-12..=1e9).contains(&volume)) {
        return Err(format!(
            "mesh {}: its hull's volume {volume:e} m³ is out of range",
            mesh.path.display()
        ));
    }
    let [x, y, z] = mesh.centre;
    let centre = Vector::new(x, y, z);
    let centred: Vec<Vector> = mesh.hull.points().iter().map(|p| *p - centre).collect();
    let hull = ConvexPolyhedron::from_convex_hull(&centred)
        .ok_or_else(|| format!("mesh {}: degenerate hull", mesh.path.display()))?;
    let reach = centred.iter().map(|p| p.length()).fold(0.0, f64::max);
    Ok((Solid::Hull(hull), volume, inertia, reach))
}

/// A static body for a static box.
fn static_box(b: &StaticBox) -> Body {
    let [r, p, y] = b.rpy_rad.unwrap_or([0.0, 0.0, b.yaw_rad]);
    Body {
        solid: Solid::of(&ObjectShape::Box { size: b.size }),
        mass: f64::INFINITY,
        inertia: Mat3::identity(),
        friction: 0.0,
        restitution: 0.0,
        bounce_damping: None,
        position: Vec3::from(b.center),
        rotation: UnitQuaternion::from_euler_angles(r, p, y),
        velocity: Vec3::zeros(),
        angular: Vec3::zeros(),
        slot: None,
        link: None,
        reach: bounding_radius(&ObjectShape::Box { size: b.size }),
    }
}

/// A kinematic body for every primitive collision shape of `model`'s moving links.
fn link_bodies(model: &Model, friction: f64) -> Vec<(Body, usize)> {
    let mut out = Vec::new();
    for (index, link) in model.links.iter().enumerate() {
        let frame = &model.frames[link.frame.0];
        let joint = frame.joint.0;
        if joint == 0 {
            continue; // welded to the world
        }
        for geometry in &link.collisions {
            let shape = match &geometry.shape {
                ModelShape::Box { size } => ObjectShape::Box {
                    size: [size.x, size.y, size.z],
                },
                &ModelShape::Sphere { radius } => ObjectShape::Sphere { radius },
                &ModelShape::Cylinder { radius, length } => {
                    ObjectShape::Cylinder { radius, length }
                }
                &ModelShape::Capsule { radius, length } => ObjectShape::Capsule { radius, length },
                // Its convex hull in the mesh's frame; a mesh that cannot be read (a
                // package nowhere to be found, a missing file) is left out, as the probes
                // do.
                ModelShape::Mesh { filename, scale } => {
                    let path = PathBuf::from(filename);
                    let Ok(hull) = crate::mesh::load_hull(&path, [scale.x, scale.y, scale.z])
                    else {
                        continue;
                    };
                    ObjectShape::Hull(Arc::new(LoadedMesh {
                        path,
                        scale: scale.x,
                        hull,
                        centre: [0.0; 3],
                    }))
                }
            };
            out.push((
                Body {
                    solid: Solid::of(&shape),
                    mass: model.joints[joint].inertia.mass,
                    inertia: Mat3::identity(),
                    friction,
                    restitution: 0.0,
                    bounce_damping: None,
                    position: Vec3::zeros(),
                    rotation: UnitQuaternion::identity(),
                    velocity: Vec3::zeros(),
                    angular: Vec3::zeros(),
                    slot: None,
                    link: Some((joint, frame.placement.mul(&geometry.origin))),
                    reach: bounding_radius(&shape),
                },
                index,
            ));
        }
    }
    out
}

/// Whether links `a` and `b` (indices into `model.links`) may touch each other: not
/// on one body, not the two sides of a joint, not a disabled pair.
fn may_touch(model: &Model, disabled: &[[String; 2]], a: usize, b: usize) -> bool {
    let frame = |k: usize| &model.frames[model.links[k].frame.0];
    let (fa, fb) = (frame(a), frame(b));
    let (ja, jb) = (fa.joint, fb.joint);
    let adjacent = ja == jb || model.joints[ja.0].parent == jb || model.joints[jb.0].parent == ja;
    let named = |pair: &[String; 2]| {
        (pair[0] == fa.name && pair[1] == fb.name) || (pair[0] == fb.name && pair[1] == fa.name)
    };
    !adjacent && !disabled.iter().any(named)
}
