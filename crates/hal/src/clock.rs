//! Time for the loop: [`Timestamp`] (nanoseconds on a monotonic clock) and the [`Clock`]
//! trait with its two implementations. [`SystemClock`] reads `CLOCK_MONOTONIC` and sleeps
//! to absolute deadlines with `clock_nanosleep(TIMER_ABSTIME)`, so a periodic loop never
//! drifts. [`ManualClock`] is moved by hand: sleeping to a deadline jumps time to it, so a
//! lockstep simulation runs as fast as the CPU allows and bit-identically run to run.
//! Never allocates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point on a monotonic clock, in nanoseconds since that clock's origin.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The clock's origin.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the origin.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-9
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Signed nanoseconds from `earlier` to `self`.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.wrapping_sub(earlier.0) as i64
    }

    /// This timestamp moved `d` later (saturating).
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }
}

/// The loop's source of time. Implementations are cheap to call and never allocate.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Returns once [`Clock::now`] has reached `deadline` (at once if it already has).
    fn sleep_until(&self, deadline: Timestamp);
}

/// The operating system's monotonic clock (`CLOCK_MONOTONIC`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(os::monotonic_nanos())
    }

    fn sleep_until(&self, deadline: Timestamp) {
        os::sleep_until_monotonic(deadline.0);
    }
}

/// A clock moved by hand, shared between clones: the loop and a lockstep simulator see
/// the same time. [`Clock::sleep_until`] advances it to the deadline at once.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(start.0)),
        }
    }

    /// Sets the time; a time earlier than the current one is ignored (the clock is
    /// monotonic).
    pub fn set(&self, t: Timestamp) {
        self.nanos.fetch_max(t.0, Ordering::AcqRel);
    }

    /// Moves the clock `d` forward.
    pub fn advance(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::Acquire))
    }

    fn sleep_until(&self, deadline: Timestamp) {
        self.set(deadline);
    }
}

/// The two system calls behind [`SystemClock`].
#[allow(unsafe_code)]
mod os {
    fn timespec_from_nanos(nanos: u64) -> libc::timespec {
        libc::timespec {
            tv_sec: (nanos / 1_000_000_000) as libc::time_t,
            tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
        }
    }

    pub(super) fn monotonic_nanos() -> u64 {
        let mut ts = timespec_from_nanos(0);
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on
        // Linux, so the call cannot fail.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    pub(super) fn sleep_until_monotonic(nanos: u64) {
        let ts = timespec_from_nanos(nanos);
        loop {
            // SAFETY: `ts` is a valid timespec; with TIMER_ABSTIME the remainder pointer
            // is unused and may be null.
            let rc = unsafe {
                libc::clock_nanosleep(
                    libc::CLOCK_MONOTONIC,
                    libc::TIMER_ABSTIME,
                    &ts,
                    std::ptr::null_mut(),
                )
            };
            // Interrupted by a signal: sleep again to the same absolute deadline.
            if rc != libc::EINTR {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_sleeps_to_absolute_deadlines() {
        let clock = SystemClock;
        let start = clock.now();
        let deadline = start.saturating_add(Duration::from_millis(3));
        clock.sleep_until(deadline);
        let woke = clock.now();
        assert!(woke >= deadline, "woke {woke:?} before {deadline:?}");
        // A deadline in the past returns at once.
        clock.sleep_until(start);
        assert!(clock.now() >= woke);
    }

    #[test]
    fn manual_clock_jumps_to_deadlines_and_never_goes_back() {
        let clock = ManualClock::new(Timestamp::from_nanos(5));
        let shared = clock.clone();
        clock.sleep_until(Timestamp::from_nanos(1_000));
        assert_eq!(shared.now(), Timestamp::from_nanos(1_000));
        shared.set(Timestamp::from_nanos(10));
        assert_eq!(clock.now(), Timestamp::from_nanos(1_000));
        clock.advance(Duration::from_micros(1));
        assert_eq!(clock.now().as_nanos(), 2_000);
    }

    #[test]
    fn timestamp_arithmetic_saturates() {
        let t = Timestamp::from_nanos(10);
        assert_eq!(
            t.saturating_since(Timestamp::from_nanos(20)),
            Duration::ZERO
        );
        assert_eq!(t.nanos_since(Timestamp::from_nanos(20)), -10);
        assert_eq!(
            Timestamp::from_nanos(u64::MAX - 1).saturating_add(Duration::from_secs(1)),
            Timestamp::from_nanos(u64::MAX)
        );
    }
}
