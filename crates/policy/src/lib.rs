//! embody-policy: learned policies as packages. A package is a directory with the
//! network (`model.onnx`) and `policy.toml`, which says which joints the policy drives
//! in its order, at what rate, which observation terms make each network input, what
//! recurrent state is carried, and how the output becomes joint targets
//! ([`manifest`]). [`package`] checks a package against the robot model and the ONNX
//! graph — every problem located, `policy.toml: key: reason` — and [`Policy`] then turns
//! robot state into network inputs and network outputs into impedance targets, one step
//! at a time. Inference runs behind [`engine::Engine`]: [`tract_engine`] by default, and
//! `ort_engine` (onnxruntime, its library loaded at run time) with the `ort` feature.
//!
//! This crate computes; it owns no thread and no clock: the runtime's policy driver runs
//! it beside the loop.

pub mod act;
pub mod engine;
pub mod error;
pub mod manifest;
pub mod observe;
#[cfg(feature = "ort")]
pub mod ort_engine;
pub mod package;
pub mod stats;
pub mod tract_engine;

pub use error::{PolicyError, Problem};
pub use manifest::Manifest;
pub use package::{Package, Policy};
