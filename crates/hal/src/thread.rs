//! Threads that must never delay the loop: [`run_in_background`] moves the calling
//! thread to Linux's `SCHED_IDLE` class, which the scheduler runs only when nothing else
//! wants the CPU — cameras drawing, converting and capturing run there, so on a machine
//! with few cores a frame waits rather than a tick.
#![allow(unsafe_code)]

/// Moves the calling thread to `SCHED_IDLE`; the OS's error when it refuses (the thread
/// then runs as it was).
pub fn run_in_background() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param (SCHED_IDLE takes priority 0);
    // pthread_self() is always a valid handle for the calling thread.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_moves_to_the_idle_class() {
        std::thread::spawn(|| {
            super::run_in_background().expect("SCHED_IDLE needs no privilege");
            // SAFETY: querying the calling thread's own policy.
            let policy = unsafe { libc::sched_getscheduler(0) };
            assert_eq!(policy, libc::SCHED_IDLE);
        })
        .join()
        .expect("the thread ran");
    }
}
