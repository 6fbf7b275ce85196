//! Fault switches shared by the simulated backends (the hal's mock, the simulator): the
//! faults every one of them can inject — link down, frozen sensors, e-stop, IMU dropout,
//! actuator fault bits — flipped from any thread while the loop reads them lock-free.
//! Each backend's handle wraps these with its own extra switches.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::sensor::FaultBits;

/// The common fault switches of a simulated robot with `n` joints.
#[derive(Debug)]
pub struct FaultSwitches {
    link_down: AtomicBool,
    frozen: AtomicBool,
    estop: AtomicBool,
    imu_dropout: AtomicBool,
    joint_faults: Vec<AtomicU32>,
}

impl FaultSwitches {
    /// Every switch off, for `n` joints.
    pub fn new(n: usize) -> FaultSwitches {
        FaultSwitches {
            link_down: AtomicBool::new(false),
            frozen: AtomicBool::new(false),
            estop: AtomicBool::new(false),
            imu_dropout: AtomicBool::new(false),
            joint_faults: (0..n).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Reads and writes fail with [`crate::HalError::LinkDown`] while set.
    pub fn set_link_down(&self, down: bool) {
        self.link_down.store(down, Ordering::Release);
    }

    /// Sensor frames stop changing (stamp and sequence included) while set.
    pub fn set_frozen(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Release);
    }

    /// The hardware e-stop input reads active while set.
    pub fn set_estop(&self, active: bool) {
        self.estop.store(active, Ordering::Release);
    }

    /// The IMU stops producing samples (its stamp stops advancing) while set.
    pub fn set_imu_dropout(&self, dropout: bool) {
        self.imu_dropout.store(dropout, Ordering::Release);
    }

    /// Sets the fault bits joint `joint`'s drive reports (ignored for an unknown joint).
    pub fn set_joint_faults(&self, joint: usize, faults: FaultBits) {
        if let Some(bits) = self.joint_faults.get(joint) {
            bits.store(faults.0, Ordering::Release);
        }
    }

    /// Whether the link is down.
    pub fn link_down(&self) -> bool {
        self.link_down.load(Ordering::Acquire)
    }

    /// Whether the sensor frames are frozen.
    pub fn frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }

    /// Whether the e-stop input is active.
    pub fn estop(&self) -> bool {
        self.estop.load(Ordering::Acquire)
    }

    /// Whether the IMU has dropped out.
    pub fn imu_dropout(&self) -> bool {
        self.imu_dropout.load(Ordering::Acquire)
    }

    /// The fault bits joint `joint` reports (none for an unknown joint).
    pub fn joint_faults(&self, joint: usize) -> FaultBits {
        FaultBits(
            self.joint_faults
                .get(joint)
                .map_or(0, |b| b.load(Ordering::Acquire)),
        )
    }
}
