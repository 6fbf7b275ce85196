//! Allocation-free reads and writes on an open serial port's descriptor, for the loop
//! thread: `poll` with a timeout, then `read`; errors come back as plain values (the
//! standard library's I/O errors box their messages).

#![allow(unsafe_code)] // poll/read/write on a descriptor we own are libc's

use std::os::fd::RawFd;

/// What an I/O call on the port came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdStatus {
    /// This many bytes moved.
    Bytes(usize),
    /// Nothing before the timeout.
    Timeout,
    /// The device is gone (hang-up, I/O error).
    Gone,
}

/// Waits up to `timeout_us` for input, then reads what is there into `buf`.
pub fn read(fd: RawFd, buf: &mut [u8], timeout_us: u64) -> FdStatus {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: (timeout_us / 1_000_000) as libc::time_t,
        tv_nsec: ((timeout_us % 1_000_000) * 1000) as libc::c_long,
    };
    // SAFETY: one valid pollfd and a valid timespec.
    let n = unsafe { libc::ppoll(&mut pfd, 1, &timeout, std::ptr::null()) };
    if n < 0 {
        return FdStatus::Timeout; // interrupted: the caller tries again next tick
    }
    if n == 0 {
        return FdStatus::Timeout;
    }
    if pfd.revents & libc::POLLIN == 0 {
        return if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            FdStatus::Gone
        } else {
            FdStatus::Timeout
        };
    }
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    match got {
        n if n > 0 => FdStatus::Bytes(n as usize),
        0 => FdStatus::Gone,
        _ => match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => FdStatus::Timeout,
            _ => FdStatus::Gone,
        },
    }
}

/// Writes all of `bytes` (retrying short writes, giving up when the device is gone).
pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> FdStatus {
    let total = bytes.len();
    let mut attempts = 0;
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for `bytes.len()` bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        attempts += 1;
        let retry = matches!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN) | Some(libc::EINTR)
        );
        if !retry || attempts > 1000 {
            return FdStatus::Gone;
        }
    }
    FdStatus::Bytes(total)
}
