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

impl DeviceFault {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DeviceFault::Overheat => "overheat",
            DeviceFault::Overload => "overload",
            DeviceFault::Lost => "lost",
        }
    }
}

/// A fault given to joint `joint`'s device (or, `None`, taken away) `at_s` seconds after
/// the virtual MCU's link first came up. Written `KIND:JOINT@SECONDS`, KIND one of
/// overheat, overload, lost or clear.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduledFault {
    /// The actuated joint's index, from 0.
    pub joint: usize,
    /// The fault; `None` takes it away.
    pub fault: Option<DeviceFault>,
    /// When, after the link first came up (s).
    pub at_s: f64,
}

impl std::str::FromStr for ScheduledFault {
    type Err = String;

    fn from_str(text: &str) -> Result<ScheduledFault, String> {
        let usage = || format!("{text:?}: want KIND:JOINT@SECONDS, e.g. overheat:2@1.5");
        let (kind, rest) = text.split_once(':').ok_or_else(usage)?;
        let (joint, at) = rest.split_once('@').ok_or_else(usage)?;
        let fault = match kind {
            "overheat" => Some(DeviceFault::Overheat),
            "overload" => Some(DeviceFault::Overload),
            "lost" => Some(DeviceFault::Lost),
            "clear" => None,
            other => {
                return Err(format!(
                    "{other:?} is not a fault: overheat, overload, lost or clear"
                ));
            }
        };
        let joint = joint
            .parse::<usize>()
            .map_err(|_| format!("{joint:?} is not a joint index (0, 1, …)"))?;
        let at_s = at
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && (0.0..=86_400.0).contains(s))
            .ok_or_else(|| format!("{at:?} is not a time in seconds (0 to 86400)"))?;
        Ok(ScheduledFault { joint, fault, at_s })
    }
}

/// The scheduled faults not given yet, and when the link first came up.
pub(crate) struct FaultSchedule {
    pending: Vec<ScheduledFault>,
    linked_at: Option<std::time::Instant>,
}

impl FaultSchedule {
    pub(crate) fn new(faults: &[ScheduledFault]) -> FaultSchedule {
        FaultSchedule {
            pending: faults.to_vec(),
            linked_at: None,
        }
    }

    /// The faults due now, taken off the schedule (`linked`: whether the link is up; the
    /// clock starts the first time it is).
    pub(crate) fn due(&mut self, linked: bool) -> Vec<(usize, Option<DeviceFault>)> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let Some(since) = self.linked_at.or(linked.then(std::time::Instant::now)) else {
            return Vec::new();
        };
        self.linked_at = Some(since);
        let now = since.elapsed().as_secs_f64();
        let (due, pending) = self.pending.iter().partition(|f| f.at_s <= now);
        self.pending = pending;
        due.into_iter()
            .map(|f: ScheduledFault| {
                tracing::warn!(
                    "virtual MCU, {now:.1} s after link-up: joint {}'s device {}",
                    f.joint,
                    f.fault.map_or("cleared", DeviceFault::name)
                );
                (f.joint, f.fault)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_read_and_its_faults_come_due_only_after_link_up() {
        let f: ScheduledFault = "overheat:6@0".parse().expect("parses");
        assert_eq!(f.fault, Some(DeviceFault::Overheat));
        let clear: ScheduledFault = "clear:2@1.5".parse().expect("parses");
        assert_eq!((clear.joint, clear.fault, clear.at_s), (2, None, 1.5));
        let mut schedule = FaultSchedule::new(&[f, clear]);
        assert!(schedule.due(false).is_empty());
        assert_eq!(schedule.due(true), vec![(6, Some(DeviceFault::Overheat))]);
        assert!(schedule.due(true).is_empty());
    }
}
