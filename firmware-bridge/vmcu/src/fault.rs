//! The faults a simulated device (a servo, a CiA 402 drive) can be given.

/// A fault injected into one simulated device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceFault {
    /// Overheated: torque off, flagged until cleared (and reset).
    Overheat,
    /// Overloaded: torque off, flagged until cleared (and reset).
    Overload,
    /// Gone from the bus: answers nothing.
    Lost,
}
