//! embody-model: the robot description and the rigid-body algorithms every other part of
//! embody uses: forward kinematics, frame Jacobians, RNEA, CRBA, ABA, centre of mass and
//! damped-least-squares IK.
//!
//! The [`Model`] is read-only; per-call values live in a [`Data`] workspace sized once from
//! it. Algorithms take `(&Model, &mut Data, ...)` and never allocate, so they run on the
//! real-time loop. Conventions follow Pinocchio (free-flyer `q = [x y z qx qy qz qw]`,
//! velocities in the local frame, spatial vectors `[linear; angular]`), so results compare
//! directly.
//!
//! ```
//! use embody_model::{robots, Data, rnea};
//! let model = robots::load("arm7", None).unwrap();
//! let mut data = Data::new(&model);
//! let q = model.neutral_configuration();
//! let zero = vec![0.0; model.nv];
//! let tau = rnea(&model, &mut data, q.as_slice(), &zero, &zero);
//! // Straight up, gravity exerts no torque on the shoulder pitch joint.
//! assert!(tau[1].abs() < 1e-9);
//! ```

mod aba;
mod com;
mod configuration;
mod crba;
mod data;
mod error;
mod ik;
mod joint;
mod kinematics;
mod linalg;
mod model;
mod rnea;
pub mod robots;
pub mod spatial;
mod urdf;
mod xml_place;

pub use aba::{External, aba, aba_external};
pub use com::{center_of_mass, jacobian_center_of_mass};
pub use configuration::{integrate, normalize, random_configuration};
pub use crba::crba;
pub use data::Data;
pub use error::ModelError;
pub use ik::{IkOptions, IkReport, IkSolver, clamp_to_limits};
pub use joint::{Axis, JointKind};
pub use kinematics::{
    ReferenceFrame, compute_joint_jacobians, forward_kinematics, forward_kinematics_velocity,
    frame_jacobian, frame_placements, update_frame_placements,
};
pub use model::{
    Frame, FrameId, FrameKind, Geometry, Joint, JointId, JointLimits, LinkGeometry, Mimic,
    MimicMode, Model, ModelOptions, Shape,
};
pub use rnea::{gravity_torques, nonlinear_effects, rnea};
pub use urdf::{from_urdf_file, from_urdf_str};
