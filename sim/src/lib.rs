//! embody-sim: the simulator behind the same [`embody_hal::Robot`] interface as the
//! hardware, so developers run tasks in simulation first and CI runs the real loop.
//!
//! - [`World`]: a robot's rigid-body physics on the model's forward dynamics (ABA with
//!   armature and external forces), semi-implicit Euler or RK4 ([`Integrator`]), joint
//!   damping and Coulomb friction, joint limits as stiff one-sided springs, gravity,
//!   a floating base for legged robots, and compliant contact with the ground and boxes
//!   ([`contact`]).
//! - [`objects`]: dynamic objects (boxes, spheres, cylinders, capsules) resting, sliding
//!   and stacking on the ground, static boxes and each other.
//! - [`actuator`]: torque-controlled drives with their own position and velocity loops,
//!   MIT impedance, a torque–speed curve, a current-loop lag and rotor inertia.
//!
//! Everything that runs per step is allocation-free.

pub mod actuator;
pub mod camera;
mod config;
pub mod contact;
mod geometry;
pub mod mesh;
pub mod objects;
mod record;
pub mod render;
mod robot;
mod scenario;
mod sensors;
pub mod srdf;
pub mod view;
mod world;

pub use config::{ActuatorConfig, ContactConfig, Integrator, SensorConfig, SimConfig};
pub use contact::{ActiveContact, Environment, StaticBox};
pub use geometry::{Probe, lowest_point, probes};
pub use objects::ObjectContactForce;
pub use record::{RecordHeader, Recorder, StateRecord};
pub use robot::{MAX_LATENCY_TICKS, ObjectView, SensorMounts, SimError, SimFaults, SimRobot};
pub use scenario::{
    ActuatorFaultKind, Fault, Initial, LoadedScenario, Scenario, ScenarioError, Sensor,
};
pub use sensors::{MeasureInput, Sensors};
pub use world::{JointFault, World};
