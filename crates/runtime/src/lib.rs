//! embody-runtime: robot sessions, and the one loop driver every command runs on.
//!
//! A [`Session`] describes a run — the robot; where it is ([`Backend`]: the simulator,
//! the hal's mock, a bridge or SLCAN adapter on the wire with a unit's configuration);
//! how its loop is paced ([`Pacing`]: lockstep on simulated time, or real time on its
//! own thread); what drives it ([`Drive`]: a task, holding, nothing, a benchmark
//! motion — any [`Driver`]); the loop's settings; and its sinks (Rerun, the
//! simulator's state record). [`Session::run`] builds it and runs it, polling the driver
//! every 10 ms of loop time, and returns a [`Report`].
//!
//! Underneath, [`Lockstep`] ticks a loop against any robot on simulated time and
//! [`RealtimeLoop`] runs it on its own thread; sessions, tests and benchmarks share
//! them. [`bench`] holds the runtime's benchmarks.
//!
//! ```no_run
//! use embody_runtime::{Backend, Drive, Quiet, Session, Simulator, Task};
//! let task = Task::load("examples/tasks/pick_and_place.toml".as_ref()).unwrap();
//! let report = Session::new(Backend::simulator(), Drive::Task(task))
//!     .run(&mut Quiet)
//!     .unwrap();
//! println!("{:?}", report.units[0].task.as_ref().map(|t| &t.status));
//! ```

mod backend;
pub mod bench;
pub mod dataset;
pub mod dataset_view;
pub mod demonstrate;
mod drive;
mod error;
pub mod fleet_rerun;
mod lockstep;
pub mod look;
pub mod policy_driver;
pub mod policy_eval;
mod policy_outcome;
mod realtime;
pub mod replay;
mod report;
mod robot;
mod run_lockstep;
pub mod seen;
pub mod serve;
mod session;
mod sinks;
mod task;
mod uplink;

pub use backend::{Backend, Simulator, Wire};
pub use demonstrate::Demonstration;
pub use drive::{
    Drive, DriveStatus, Driver, DriverFactory, Poll, Scene, Series, TaskOutcome, describe_progress,
    motion,
};
/// Learned policies: packages, their checks and inference (see `embody_policy`).
pub use embody_policy as policy;
pub use error::RuntimeError;
pub use lockstep::Lockstep;
pub use policy_driver::{PolicyOutcome, PolicyRun, Reach};
pub use realtime::{RealtimeLoop, arm_and_start};
pub use report::{CameraCount, FaultReport, Report, UnitReport};
pub use robot::{AnyRobot, SimBackend};
pub use session::{Observer, Pacing, Quiet, Session, default_control, stiff_joint_pd};
pub use task::{Task, TaskDriver};
pub use uplink::SharedLink;
