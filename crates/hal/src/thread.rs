//! Threads that must not delay the loop: [`run_in_background`] lowers the calling
//! thread's scheduling weight (nice 10: about a tenth of a normal thread's share of a
//! busy CPU) — cameras drawing, converting and capturing run so, and on a machine with
//! few cores a frame waits rather than a tick. Not `SCHED_IDLE`: a lockstep simulation
//! waits for its cameras, and an idle-class thread on a busy machine gets almost nothing.
#![allow(unsafe_code)]

/// How far below a normal thread's weight background threads run.
const NICE: libc::c_int = 10;

/// Lowers the calling thread's weight; the OS's error when it refuses (the thread then
/// runs as it was).
pub fn run_in_background() -> std::io::Result<()> {
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    // SAFETY: setpriority on this thread's own id (PRIO_PROCESS with a thread id sets
    // that thread's nice value on Linux); no memory is passed.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    /// The calling thread's nice value.
    fn nice() -> libc::c_int {
        // SAFETY: gettid and getpriority on this thread's own id; no memory is passed.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid);
            libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t)
        }
    }

    #[test]
    fn a_thread_lowers_its_own_weight_only() {
        let main = nice();
        std::thread::spawn(move || {
            let before = nice();
            let done = super::run_in_background();
            if before < super::NICE {
                done.expect("lowering one's own priority needs no privilege");
                assert_eq!(nice(), super::NICE);
            } else {
                // Already lower (a niced test run): raising it back is refused, unless
                // the process may (root).
                let now = nice();
                assert!(now == before || now == super::NICE, "nice {now}");
            }
        })
        .join()
        .expect("the thread ran");
        assert_eq!(nice(), main, "the calling thread's weight is untouched");
    }
}
