//! Joint targets a driver computes itself — a learned policy's impedance targets
//! `(q, dq, kp, kd, τ)` — handed to the loop in frames through a bounded lock-free queue,
//! as segments are. With [`crate::ControllerKind::Targets`] active the loop applies the
//! newest frame to the joints it drives every tick until the next arrives (a late step
//! holds the last target), holds the other joints where they are with joint PD, and
//! shapes everything with the supervisor's limits. A frame with a value that is not
//! finite, or no frame for `driver_timeout_ms`, faults the loop: damping, then off.

use embody_hal::JointCommand;

use crate::trajectory::MAX_JOINTS;

/// One frame of targets. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetFrame {
    /// Bit `k` set: joint `k` is driven by this frame.
    driven: u64,
    commands: [JointCommand; MAX_JOINTS],
}

impl Default for TargetFrame {
    fn default() -> Self {
        TargetFrame {
            driven: 0,
            commands: [JointCommand::Off; MAX_JOINTS],
        }
    }
}

impl TargetFrame {
    /// Drives joint `k` (the loop's order) with `command`; joints past
    /// [`MAX_JOINTS`] are ignored.
    pub fn set(&mut self, k: usize, command: JointCommand) {
        if k < MAX_JOINTS {
            self.driven |= 1 << k;
            self.commands[k] = command;
        }
    }

    /// The command for joint `k`, if the frame drives it.
    pub fn get(&self, k: usize) -> Option<JointCommand> {
        (k < MAX_JOINTS && self.driven & (1 << k) != 0).then(|| self.commands[k])
    }

    /// The first driven joint whose command is not finite.
    pub fn first_non_finite(&self) -> Option<usize> {
        (0..MAX_JOINTS).find(|&k| self.get(k).is_some_and(|c| !c.is_finite()))
    }

    /// Writes the driven joints' commands into `out`. Real-time safe.
    pub fn apply(&self, out: &mut [JointCommand]) {
        for (k, slot) in out.iter_mut().enumerate().take(MAX_JOINTS) {
            if self.driven & (1 << k) != 0 {
                *slot = self.commands[k];
            }
        }
    }
}
