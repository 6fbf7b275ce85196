//! A pseudo-terminal standing in for the bridge's USB serial port: the virtual MCU holds
//! the master side (non-blocking; output is dropped, not queued, when no one reads), a
//! symlink at the user's path points at the slave side, and the MCU keeps a slave
//! descriptor open itself so a host closing and reopening the port finds it unchanged.
//! The symlink itself is [`crate::link`]'s.

#![allow(unsafe_code)] // the pty calls are libc's

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// An open pseudo-terminal.
pub struct Pty {
    master: OwnedFd,
    _slave: OwnedFd,
    slave_path: PathBuf,
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

impl Pty {
    /// Opens a new pseudo-terminal in raw mode (no echo, no line editing).
    pub fn open() -> io::Result<Pty> {
        // SAFETY: plain libc calls on descriptors we own; buffers are sized as required.
        unsafe {
            let master = check(libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY))?;
            let master = OwnedFd::from_raw_fd(master);
            check(libc::grantpt(master.as_raw_fd()))?;
            check(libc::unlockpt(master.as_raw_fd()))?;
            let mut name = [0 as libc::c_char; 128];
            if libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let slave_path =
                PathBuf::from(CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned());
            let path = std::ffi::CString::new(slave_path.to_string_lossy().as_bytes())
                .map_err(|_| io::Error::other("pty name with a NUL"))?;
            let slave = check(libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY))?;
            let slave = OwnedFd::from_raw_fd(slave);
            let mut tio: libc::termios = std::mem::zeroed();
            check(libc::tcgetattr(slave.as_raw_fd(), &mut tio))?;
            libc::cfmakeraw(&mut tio);
            check(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio))?;
            let flags = check(libc::fcntl(master.as_raw_fd(), libc::F_GETFL))?;
            check(libc::fcntl(
                master.as_raw_fd(),
                libc::F_SETFL,
                flags | libc::O_NONBLOCK,
            ))?;
            Ok(Pty {
                master,
                _slave: slave,
                slave_path,
            })
        }
    }

    /// The slave device (`/dev/pts/N`).
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Waits up to `timeout_us` for bytes from the host.
    pub fn wait_readable(&self, timeout_us: u64) -> io::Result<bool> {
        let mut fds = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: (timeout_us / 1_000_000) as libc::time_t,
            tv_nsec: ((timeout_us % 1_000_000) * 1000) as libc::c_long,
        };
        // SAFETY: one valid pollfd and a valid timespec.
        let n = unsafe { libc::ppoll(&mut fds, 1, &timeout, std::ptr::null()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(n > 0 && fds.revents & libc::POLLIN != 0)
    }

    /// Reads what the host sent (0 when nothing is waiting).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }

    /// Writes to the host; returns how much the pty took (less when its buffer is full:
    /// the rest is dropped, as a USB device drops what the host does not fetch).
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::write(self.master.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }
}
