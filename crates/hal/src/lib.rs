//! embody-hal: the hardware abstraction every embody backend implements.
//!
//! The control loop talks to a robot only through the [`Robot`] trait: once per tick it
//! calls [`Robot::read`] to fill a preallocated [`SensorFrame`] and [`Robot::write`] to
//! send a [`CommandFrame`]. The simulator, the serial bridge and the in-process
//! [`MockRobot`] implement it, so the loop cannot tell them apart. Time comes from a
//! [`Clock`]: [`SystemClock`] on hardware, [`ManualClock`] in lockstep simulation.
//!
//! Joint order is the model's actuated joints in model order (the free-flyer excluded;
//! coupled mimic joints follow their master and have no entry). Every message type
//! derives serde so it can be recorded, replayed and sent over the wire.
//!
//! ```
//! use embody_hal::{CommandFrame, JointCommand, MockRobot, Robot, SensorFrame, Timestamp};
//! let model = embody_model::robots::load("arm7", None).unwrap();
//! let mut robot = MockRobot::new(&model);
//! let mut sensors = SensorFrame::for_robot(robot.capabilities());
//! let mut commands = CommandFrame::new(robot.capabilities().joints.len());
//! commands.joints.fill(JointCommand::Position { q: 0.1 });
//! for tick in 0..2000u64 {
//!     let now = Timestamp::from_nanos(tick * 1_000_000);
//!     robot.read(now, &mut sensors).unwrap();
//!     robot.write(now, &commands).unwrap();
//! }
//! assert!((sensors.joints[0].q - 0.1).abs() < 1e-3);
//! ```

mod camera;
mod clock;
mod command;
mod faults;
mod mock;
mod robot;
mod sensor;
pub mod thread;

pub use camera::{Camera, CameraInfo, Image, ImagePool, Intrinsics, Mount};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use command::{CommandFrame, CommandMode, CommandModes, JointCommand};
pub use faults::FaultSwitches;
pub use mock::{MockFaults, MockRobot};
pub use robot::{Capabilities, ForceTorqueInfo, HalError, JointInfo, LinkHealth, Robot};
pub use sensor::{FaultBits, ForceTorqueSample, ImuSample, JointState, SensorFrame};
