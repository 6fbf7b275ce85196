//! Threads that must not delay the loop. [`run_in_background`] lowers the calling
//! thread's weight (nice 10: about a tenth of a normal thread's share of a busy CPU);
//! [`run_when_idle`] puts it in `SCHED_IDLE`, where it runs only on a CPU nothing else
//! wants and any other thread waking takes the CPU from it at once. Cameras drawing,
//! converting and capturing, and a live recording's images, run idle in real time: on a
//! machine with few cores a frame waits rather than a tick. A lockstep simulation waits
//! for its cameras, and an idle thread on a busy machine gets almost nothing, so there
//! they run at nice 10.
//!
//! Even an idle thread costs a tick when it ran on the loop's CPU just before: the
//! loop's data is gone from that CPU's caches. [`reserve_cpu`] gives the loop a CPU of its
//! own: the calling thread moves off it (so the threads it starts afterwards start off
//! it), and every thread going to the background later moves off it too.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

/// How far below a normal thread's weight background threads run.
const NICE: libc::c_int = 10;

/// The CPU the loop has to itself; `usize::MAX`: none.
static LOOP_CPU: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The calling thread's CPUs.
fn affinity() -> std::io::Result<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; sched_getaffinity writes at most
    // size_of::<cpu_set_t>() bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut set) == 0 {
            Ok(set)
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Runs the calling thread on `set`'s CPUs.
fn set_affinity(set: &libc::cpu_set_t) -> std::io::Result<()> {
    // SAFETY: sched_setaffinity reads exactly size_of::<cpu_set_t>() bytes of `set`.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Moves the calling thread off the loop's CPU, if one is reserved and the thread has
/// another to go to.
fn keep_off_loop_cpu() -> std::io::Result<()> {
    let cpu = LOOP_CPU.load(Ordering::Acquire);
    if cpu >= libc::CPU_SETSIZE as usize {
        return Ok(());
    }
    let mut set = affinity()?;
    // SAFETY: CPU_ISSET, CPU_CLR and CPU_COUNT are given an index below CPU_SETSIZE and a
    // valid set.
    unsafe {
        if !libc::CPU_ISSET(cpu, &set) {
            return Ok(());
        }
        libc::CPU_CLR(cpu, &mut set);
        if libc::CPU_COUNT(&set) == 0 {
            return Ok(()); // the loop's CPU is its only one: it stays
        }
    }
    set_affinity(&set)
}

/// The loop's CPU, reserved by [`reserve_cpu`]; dropping it gives the CPU back and
/// returns the reserving thread to the CPUs it had.
#[derive(Debug)]
pub struct ReservedCpu {
    before: libc::cpu_set_t,
}

impl Drop for ReservedCpu {
    fn drop(&mut self) {
        LOOP_CPU.store(usize::MAX, Ordering::Release);
        let _ = set_affinity(&self.before);
    }
}

/// Gives `cpu` to the loop alone (see the module docs); the OS's error when the calling
/// thread cannot move.
pub fn reserve_cpu(cpu: usize) -> std::io::Result<ReservedCpu> {
    let before = affinity()?;
    LOOP_CPU.store(cpu, Ordering::Release);
    let reserved = ReservedCpu { before };
    keep_off_loop_cpu()?;
    Ok(reserved)
}

/// Lowers the calling thread's weight and moves it off the loop's CPU; the OS's error
/// when it refuses (the thread then runs as it was).
pub fn run_in_background() -> std::io::Result<()> {
    keep_off_loop_cpu()?;
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

/// Moves the calling thread into `SCHED_IDLE` and off the loop's CPU (`idle`), or back to
/// the normal class (keeping its nice value); the OS's error when it refuses (leaving the
/// idle class needs `CAP_SYS_NICE` or a nice limit that allows it).
pub fn run_when_idle(idle: bool) -> std::io::Result<()> {
    if idle {
        keep_off_loop_cpu()?;
    }
    let policy = if idle {
        libc::SCHED_IDLE
    } else {
        libc::SCHED_OTHER
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pthread_self names this thread; `param` lives across the call.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
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

    /// The calling thread's scheduling class.
    fn policy() -> libc::c_int {
        // SAFETY: sched_getscheduler(0) asks about the calling thread; no memory is passed.
        unsafe { libc::sched_getscheduler(0) }
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

    /// Whether the calling thread may run on `cpu`.
    fn may_run_on(cpu: usize) -> bool {
        let set = super::affinity().expect("a thread can read its CPUs");
        // SAFETY: an index below CPU_SETSIZE and a valid set.
        unsafe { libc::CPU_ISSET(cpu, &set) }
    }

    #[test]
    fn background_threads_keep_off_a_reserved_cpu() {
        std::thread::spawn(|| {
            let cpus = (0..64).filter(|&c| may_run_on(c)).collect::<Vec<_>>();
            let Some(&loop_cpu) = cpus.last().filter(|_| cpus.len() > 1) else {
                return; // one CPU: nothing to keep off
            };
            let reserved = super::reserve_cpu(loop_cpu).expect("a thread can move itself");
            assert!(!may_run_on(loop_cpu), "the reserving thread moved off");
            let started = std::thread::spawn(move || may_run_on(loop_cpu));
            assert!(
                !started.join().expect("ran"),
                "threads it starts start off it"
            );
            drop(reserved);
            assert!(may_run_on(loop_cpu), "given back");
        })
        .join()
        .expect("the thread ran");
    }

    #[test]
    fn a_thread_goes_idle_on_its_own() {
        let main = policy();
        std::thread::spawn(move || {
            super::run_when_idle(true).expect("going idle needs no privilege");
            assert_eq!(policy(), libc::SCHED_IDLE);
            // Back to normal only where the process may (root, or a nice limit).
            if super::run_when_idle(false).is_ok() {
                assert_eq!(policy(), libc::SCHED_OTHER);
            }
        })
        .join()
        .expect("the thread ran");
        assert_eq!(policy(), main, "the calling thread's class is untouched");
    }
}
