//! SIGINT and SIGTERM set a flag instead of killing the process, so long-running
//! commands can clean up (remove links, close ports, scratch files) before they exit.

#![allow(unsafe_code)] // installing a signal handler is libc's

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

static FLAG: AtomicPtr<AtomicBool> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn handle(_: libc::c_int) {
    let flag = FLAG.load(Ordering::Acquire);
    if !flag.is_null() {
        // SAFETY: the pointer comes from a `&'static AtomicBool`; storing to an atomic is
        // async-signal-safe.
        unsafe { (*flag).store(true, Ordering::Release) };
    }
}

/// Sets `flag` on SIGINT or SIGTERM.
pub fn on_termination(flag: &'static AtomicBool) {
    FLAG.store(
        flag as *const AtomicBool as *mut AtomicBool,
        Ordering::Release,
    );
    // SAFETY: `handle` only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handle as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handle as *const () as libc::sighandler_t);
    }
}

/// On SIGINT or SIGTERM, runs `cleanup` and exits with status 130: for commands busy in
/// a library call that cannot be stopped half way, whose files must not outlive them.
pub fn exit_on_termination(cleanup: fn()) {
    static TERMINATED: AtomicBool = AtomicBool::new(false);
    on_termination(&TERMINATED);
    std::thread::spawn(move || {
        while !TERMINATED.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        cleanup();
        eprintln!("interrupted: scratch files removed");
        std::process::exit(130);
    });
}
