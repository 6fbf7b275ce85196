//! The read-only robot model: joints in depth-first order (index 0 is the universe),
//! frames, link geometry and the configuration/velocity layout. Per-call values live in
//! [`crate::Data`], never here.

use nalgebra::DVector;

use crate::joint::JointKind;
use crate::spatial::{Inertia, Transform, Vec3};

/// Index of a joint in [`Model::joints`]; `JointId(0)` is the universe (the fixed world).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JointId(pub usize);

/// Index of a frame in [`Model::frames`].
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId(pub usize);

/// How mimic joints are treated when a model is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MimicMode {
    /// A mimic joint follows its master: `q = multiplier · q_master + offset`; it has no
    /// coordinates of its own. The default: this is how the hardware behaves.
    #[default]
    Coupled,
    /// A mimic joint is an ordinary joint with its own coordinates (Pinocchio's default).
    Independent,
}

/// Options for building a model from a robot description.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelOptions {
    /// Attach the root link to the world with a free-flyer joint named `root_joint`.
    pub floating_base: bool,
    /// Treatment of mimic joints.
    pub mimic: MimicMode,
}

/// Coupling of a mimic joint to its master.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mimic {
    /// The joint followed.
    pub master: JointId,
    /// `q = multiplier · q_master + offset`.
    pub multiplier: f64,
    /// Offset (rad or m).
    pub offset: f64,
}

/// Limits of a one-dof joint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JointLimits {
    /// Lower position (rad or m); `-inf` when unbounded.
    pub lower: f64,
    /// Upper position (rad or m); `+inf` when unbounded.
    pub upper: f64,
    /// Maximum speed (rad/s or m/s); `+inf` when not given.
    pub velocity: f64,
    /// Maximum effort (N·m or N); `+inf` when not given.
    pub effort: f64,
}

impl JointLimits {
    /// No limits at all.
    pub const UNBOUNDED: Self = Self {
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        velocity: f64::INFINITY,
        effort: f64::INFINITY,
    };
}

/// A joint of the kinematic tree, with the rigid body it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Joint {
    /// Name (URDF joint name; `universe` and `root_joint` for the built-in ones).
    pub name: String,
    /// Kind.
    pub kind: JointKind,
    /// Parent joint.
    pub parent: JointId,
    /// Origin of this joint in its parent's joint frame (at zero configuration).
    pub placement: Transform,
    /// Inertia of the carried body (links merged through fixed joints), in the joint frame.
    pub inertia: Inertia,
    /// First index of this joint's coordinates in `q` (its master's for a coupled mimic).
    pub idx_q: usize,
    /// First index of this joint's velocities in `v` (its master's for a coupled mimic).
    pub idx_v: usize,
    /// First column of this joint in the per-dof workspaces (unique to the joint).
    pub idx_dof: usize,
    /// Coupling when this is a coupled mimic joint.
    pub mimic: Option<Mimic>,
    /// Position, velocity and effort limits (unbounded for the free-flyer).
    pub limits: JointLimits,
    /// Viscous damping (N·m·s/rad or N·s/m) from URDF `<dynamics>`.
    pub damping: f64,
    /// Coulomb friction (N·m or N) from URDF `<dynamics>`.
    pub friction: f64,
}

impl Joint {
    /// Number of coordinates this joint owns in `q` (0 for a coupled mimic).
    pub fn nq(&self) -> usize {
        if self.mimic.is_some() {
            0
        } else {
            self.kind.nq()
        }
    }

    /// Number of velocities this joint owns in `v` (0 for a coupled mimic).
    pub fn nv(&self) -> usize {
        if self.mimic.is_some() {
            0
        } else {
            self.kind.nv()
        }
    }

    /// Scale from the `v` entry at `idx_v` to this joint's own velocity.
    #[inline]
    pub(crate) fn scale(&self) -> f64 {
        self.mimic.map_or(1.0, |m| m.multiplier)
    }

    /// This joint's own position from the configuration vector (one-dof joints).
    #[inline]
    pub(crate) fn position_1dof(&self, q: &[f64]) -> f64 {
        match self.mimic {
            Some(m) => m.multiplier * q[self.idx_q] + m.offset,
            None => q[self.idx_q],
        }
    }
}

/// What a frame marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// A URDF link.
    Link,
    /// A movable joint (coincides with its child link's frame).
    Joint,
    /// A fixed URDF joint merged into its parent body.
    FixedJoint,
}

impl FrameKind {
    /// Lower-case name.
    pub fn name(&self) -> &'static str {
        match self {
            FrameKind::Link => "link",
            FrameKind::Joint => "joint",
            FrameKind::FixedJoint => "fixed_joint",
        }
    }
}

/// A named frame rigidly attached to a joint's body.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Name (URDF link or joint name).
    pub name: String,
    /// What it marks.
    pub kind: FrameKind,
    /// The joint whose body carries it.
    pub joint: JointId,
    /// Pose of the frame in the joint frame.
    pub placement: Transform,
}

/// A primitive or mesh shape from URDF `<visual>` or `<collision>`.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Box with full side lengths (m).
    Box {
        /// Side lengths along x, y, z (m).
        size: Vec3,
    },
    /// Cylinder along z.
    Cylinder {
        /// Radius (m).
        radius: f64,
        /// Length (m).
        length: f64,
    },
    /// Capsule along z (cylinder with hemispherical caps).
    Capsule {
        /// Radius (m).
        radius: f64,
        /// Length of the cylindrical part (m).
        length: f64,
    },
    /// Sphere.
    Sphere {
        /// Radius (m).
        radius: f64,
    },
    /// Mesh file, as referenced by the URDF.
    Mesh {
        /// File name or `package://` URI.
        filename: String,
        /// Per-axis scale.
        scale: Vec3,
    },
}

impl Shape {
    /// Lower-case name, as the URDF element.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Box { .. } => "box",
            Shape::Cylinder { .. } => "cylinder",
            Shape::Capsule { .. } => "capsule",
            Shape::Sphere { .. } => "sphere",
            Shape::Mesh { .. } => "mesh",
        }
    }
}

/// A shape placed in a link frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    /// The shape.
    pub shape: Shape,
    /// Pose of the shape in the link frame.
    pub origin: Transform,
    /// RGBA colour from the URDF material, when given.
    pub rgba: Option<[f64; 4]>,
}

/// Geometry of one URDF link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkGeometry {
    /// The link's frame.
    pub frame: FrameId,
    /// Visual shapes.
    pub visuals: Vec<Geometry>,
    /// Collision shapes.
    pub collisions: Vec<Geometry>,
}

/// A robot model: read-only after construction.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Robot name.
    pub name: String,
    /// Joints in depth-first order; `joints[0]` is the universe and has no coordinates.
    pub joints: Vec<Joint>,
    /// Frames (links and joints), in depth-first order.
    pub frames: Vec<Frame>,
    /// Geometry of each link.
    pub links: Vec<LinkGeometry>,
    /// Size of the configuration vector.
    pub nq: usize,
    /// Size of the velocity vector.
    pub nv: usize,
    /// Number of joint degrees of freedom including coupled mimic joints (≥ nv).
    pub ndof: usize,
    /// Gravity (m/s²), default `[0, 0, -9.81]`.
    pub gravity: Vec3,
    /// Lower position limits per configuration entry.
    pub lower_position_limit: DVector<f64>,
    /// Upper position limits per configuration entry.
    pub upper_position_limit: DVector<f64>,
    /// Velocity limits per velocity entry.
    pub velocity_limit: DVector<f64>,
    /// Effort limits per velocity entry.
    pub effort_limit: DVector<f64>,
    /// For each joint, its ancestors from the root down to and including itself.
    pub(crate) supports: Vec<Vec<usize>>,
    /// For each joint, the dof columns of its ancestors and itself, root first, without
    /// the free-flyer's (which the algorithms handle as one 6-dof block).
    pub(crate) support_dofs: Vec<Vec<usize>>,
}

impl Model {
    /// Number of joints including the universe.
    pub fn njoints(&self) -> usize {
        self.joints.len()
    }

    /// Whether the model contains coupled mimic joints.
    pub fn has_coupled_mimic(&self) -> bool {
        self.ndof != self.nv
    }

    /// The joint with this name.
    pub fn joint_id(&self, name: &str) -> Option<JointId> {
        self.joints.iter().position(|j| j.name == name).map(JointId)
    }

    /// The frame with this name, preferring a link frame when a joint has the same name.
    pub fn frame_id(&self, name: &str) -> Option<FrameId> {
        let mut named = self
            .frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name == name);
        let first = named.next()?;
        if first.1.kind == FrameKind::Link {
            return Some(FrameId(first.0));
        }
        Some(FrameId(
            named
                .find(|(_, f)| f.kind == FrameKind::Link)
                .map_or(first.0, |(i, _)| i),
        ))
    }

    /// The free-flyer root joint of a floating-base model: the ancestor of every joint.
    pub fn free_flyer(&self) -> Option<JointId> {
        (self.joints.len() > 1 && self.joints[1].kind == JointKind::FreeFlyer).then_some(JointId(1))
    }

    /// The joints an actuator drives, in model order: every joint with a coordinate of its
    /// own except the free-flyer (coupled mimic joints follow their master). This is the
    /// joint order of the hardware interface.
    pub fn actuated_joints(&self) -> impl Iterator<Item = JointId> + '_ {
        self.joints
            .iter()
            .enumerate()
            .filter(|(_, j)| j.nv() == 1 && j.kind != JointKind::FreeFlyer)
            .map(|(i, _)| JointId(i))
    }

    /// Ancestors of a joint from the root down to and including itself (universe excluded).
    pub fn support(&self, joint: JointId) -> &[usize] {
        &self.supports[joint.0]
    }

    /// The neutral configuration: zeros, identity quaternions, positions clamped into limits.
    pub fn neutral_configuration(&self) -> DVector<f64> {
        let mut q = DVector::zeros(self.nq);
        for j in self.joints.iter().skip(1).filter(|j| j.mimic.is_none()) {
            match j.kind {
                JointKind::FreeFlyer => q[j.idx_q + 6] = 1.0,
                _ => q[j.idx_q] = 0.0_f64.clamp(j.limits.lower, j.limits.upper),
            }
        }
        q
    }

    /// The mass of all bodies that move (kg): links welded to the universe are excluded,
    /// as in Pinocchio.
    pub fn total_mass(&self) -> f64 {
        self.joints.iter().skip(1).map(|j| j.inertia.mass).sum()
    }
}
