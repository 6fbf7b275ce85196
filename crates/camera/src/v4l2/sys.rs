//! The V4L2 kernel interface this crate uses, and nothing more: a handful of structs,
//! constants and ioctl numbers written by hand from the facts of the kernel's
//! `include/uapi/linux/videodev2.h` (struct layouts and `_IOC` numbers), checked against
//! that header as gcc compiles it for x86-64: sizes and offsets at compile time on every
//! 64-bit target, ioctl numbers in a test on x86-64. Then one safe method per call. This
//! is the crate's only `unsafe` code.
//!
//! Why by hand: the V4L2 crates on crates.io (`v4l` through `v4l2-sys-mit`, and `v4l2r`)
//! run bindgen in their build scripts, which needs libclang; a fresh developer or CI
//! machine has only Rust and gcc. `linuxvideo` builds without it but does not expose a
//! buffer's kernel timestamp, which [`super::V4l2Camera`] stamps frames with.
//!
//! It never interprets what it reads: choosing formats and times is the caller's.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;

use super::choose::FrameSizes;

/// A fourcc pixel-format code as V4L2 packs it: the first byte lowest.
pub(crate) const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// `V4L2_PIX_FMT_MJPEG`.
pub(crate) const PIX_FMT_MJPEG: u32 = fourcc(b"MJPG");
/// `V4L2_PIX_FMT_YUYV`.
pub(crate) const PIX_FMT_YUYV: u32 = fourcc(b"YUYV");

/// `V4L2_CAP_VIDEO_CAPTURE`: single-planar video capture.
pub(crate) const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
/// `V4L2_CAP_STREAMING`: streaming I/O (MMAP buffers).
pub(crate) const CAP_STREAMING: u32 = 0x0400_0000;
/// `V4L2_CAP_DEVICE_CAPS`: `device_caps` holds this node's capabilities.
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
/// `V4L2_CAP_TIMEPERFRAME` (in `v4l2_captureparm.capability`): the rate can be set.
const CAP_TIMEPERFRAME: u32 = 0x1000;

/// `V4L2_BUF_FLAG_ERROR`: the frame may be corrupt.
pub(crate) const BUF_FLAG_ERROR: u32 = 0x0040;
/// `V4L2_BUF_FLAG_TIMESTAMP_MASK`.
pub(crate) const BUF_FLAG_TIMESTAMP_MASK: u32 = 0xe000;
/// `V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC`: `timestamp` is on `CLOCK_MONOTONIC`.
pub(crate) const BUF_FLAG_TIMESTAMP_MONOTONIC: u32 = 0x2000;

/// `V4L2_BUF_TYPE_VIDEO_CAPTURE`.
const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
/// `V4L2_MEMORY_MMAP`.
const MEMORY_MMAP: u32 = 1;
/// `V4L2_FIELD_NONE`: progressive frames.
const FIELD_NONE: u32 = 1;
/// `V4L2_FRMSIZE_TYPE_DISCRETE` (`CONTINUOUS` is 2, `STEPWISE` 3: both read as a range).
const FRMSIZE_TYPE_DISCRETE: u32 = 1;

// The kernel's structs, field for field; `allow(dead_code)`: it fills fields this crate
// never reads.

/// `struct v4l2_capability`.
#[repr(C)]
#[allow(dead_code)]
struct Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

/// `struct v4l2_fmtdesc`.
#[repr(C)]
#[allow(dead_code)]
struct FmtDesc {
    index: u32,
    type_: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

/// `struct v4l2_frmsizeenum`; `size` is the union of `v4l2_frmsize_discrete`
/// (`width, height`) and `v4l2_frmsize_stepwise` (`min_width, max_width, step_width,
/// min_height, max_height, step_height`), all `__u32`.
#[repr(C)]
#[allow(dead_code)]
struct FrmSizeEnum {
    index: u32,
    pixel_format: u32,
    type_: u32,
    size: [u32; 6],
    reserved: [u32; 2],
}

/// `struct v4l2_pix_format`.
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy)]
struct PixFormat {
    width: u32,
    height: u32,
    pixelformat: u32,
    field: u32,
    bytesperline: u32,
    sizeimage: u32,
    colorspace: u32,
    priv_: u32,
    flags: u32,
    ycbcr_enc: u32,
    quantization: u32,
    xfer_func: u32,
}

/// `struct v4l2_format`.
#[repr(C)]
struct Format {
    type_: u32,
    fmt: FormatData,
}

/// `struct v4l2_format`'s 200-byte union `fmt`, read as `v4l2_pix_format`. The union
/// holds pointers (in `v4l2_window`), hence its pointer alignment: on 64-bit it starts
/// at offset 8, not 4.
#[repr(C)]
#[allow(dead_code)]
struct FormatData {
    pix: PixFormat,
    rest: [u8; 200 - size_of::<PixFormat>()],
    align: [usize; 0],
}

/// `struct v4l2_requestbuffers`.
#[repr(C)]
#[allow(dead_code)]
struct RequestBuffers {
    count: u32,
    type_: u32,
    memory: u32,
    capabilities: u32,
    flags: u8,
    reserved: [u8; 3],
}

/// `struct v4l2_buffer`'s union `m`.
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy)]
union BufferLocation {
    offset: u32,
    userptr: libc::c_ulong,
    planes: *mut libc::c_void,
    fd: i32,
}

/// `struct v4l2_buffer`; `timecode` is `struct v4l2_timecode` (16 bytes), unused.
#[repr(C)]
#[allow(dead_code)]
struct Buffer {
    index: u32,
    type_: u32,
    bytesused: u32,
    flags: u32,
    field: u32,
    timestamp: libc::timeval,
    timecode: [u32; 4],
    sequence: u32,
    memory: u32,
    m: BufferLocation,
    length: u32,
    reserved2: u32,
    request_fd: i32,
}

/// `struct v4l2_streamparm` with its 200-byte union `parm` read as
/// `struct v4l2_captureparm` (`timeperframe` a `v4l2_fract`).
#[repr(C)]
#[allow(dead_code)]
struct StreamParm {
    type_: u32,
    capability: u32,
    capturemode: u32,
    timeperframe_numerator: u32,
    timeperframe_denominator: u32,
    extendedmode: u32,
    readbuffers: u32,
    reserved: [u32; 4],
    rest: [u8; 160],
}

// The layouts the kernel's header gives on 64-bit Linux (gcc's sizeof and offsetof).
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<Capability>() == 104);
    assert!(size_of::<FmtDesc>() == 64);
    assert!(size_of::<FrmSizeEnum>() == 44);
    assert!(size_of::<Format>() == 208);
    assert!(size_of::<RequestBuffers>() == 20);
    assert!(size_of::<Buffer>() == 88);
    assert!(size_of::<StreamParm>() == 204);
    assert!(offset_of!(Format, fmt) == 8);
    assert!(offset_of!(Buffer, timestamp) == 24);
    assert!(offset_of!(Buffer, sequence) == 56);
    assert!(offset_of!(Buffer, m) == 64);
    assert!(offset_of!(Buffer, length) == 72);
    assert!(offset_of!(Capability, device_caps) == 88);
    assert!(offset_of!(FmtDesc, pixelformat) == 44);
    assert!(offset_of!(FrmSizeEnum, size) == 12);
    assert!(offset_of!(FrmSizeEnum, reserved) == 36);
    assert!(offset_of!(Buffer, flags) == 12);
    assert!(offset_of!(Buffer, memory) == 60);
    assert!(offset_of!(Buffer, request_fd) == 80);
    assert!(offset_of!(StreamParm, capability) == 4);
    assert!(offset_of!(StreamParm, timeperframe_numerator) == 12);
    assert!(offset_of!(StreamParm, timeperframe_denominator) == 16);
};

/// `_IOC(dir, 'V', nr, size)`: the generic Linux encoding (2 direction bits at bit 30,
/// write 1, read 2), and that of powerpc, mips and sparc (3 at bit 29: none 1, read 2,
/// write 4; only x86-64's numbers are checked).
const fn ioc(write: bool, read: bool, nr: u32, size: usize) -> libc::Ioctl {
    #[cfg(any(
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))]
    let (write_bit, read_bit, none, dir_shift) = (4u32, 2u32, 1u32, 29);
    #[cfg(not(any(
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    let (write_bit, read_bit, none, dir_shift) = (1u32, 2u32, 0u32, 30);
    let dir = match (write, read) {
        (false, false) => none,
        (w, r) => (if w { write_bit } else { 0 }) | (if r { read_bit } else { 0 }),
    };
    let request = dir << dir_shift | (size as u32) << 16 | (b'V' as u32) << 8 | nr;
    request as libc::Ioctl
}

/// An ioctl number together with the struct it reads and writes: its `_IOC` size is
/// that struct's, so the kernel copies no more than the struct holds.
struct Request<T> {
    number: libc::Ioctl,
    arg: PhantomData<T>,
}

impl<T> Request<T> {
    /// `_IOWR('V', nr, T)`.
    const fn read_write(nr: u32) -> Request<T> {
        Request::new(true, true, nr)
    }

    const fn new(write: bool, read: bool, nr: u32) -> Request<T> {
        Request {
            number: ioc(write, read, nr, size_of::<T>()),
            arg: PhantomData,
        }
    }
}

const VIDIOC_QUERYCAP: Request<Capability> = Request::new(false, true, 0);
const VIDIOC_ENUM_FMT: Request<FmtDesc> = Request::read_write(2);
const VIDIOC_S_FMT: Request<Format> = Request::read_write(5);
const VIDIOC_REQBUFS: Request<RequestBuffers> = Request::read_write(8);
const VIDIOC_QUERYBUF: Request<Buffer> = Request::read_write(9);
const VIDIOC_QBUF: Request<Buffer> = Request::read_write(15);
const VIDIOC_DQBUF: Request<Buffer> = Request::read_write(17);
const VIDIOC_STREAMON: Request<libc::c_int> = Request::new(true, false, 18);
const VIDIOC_STREAMOFF: Request<libc::c_int> = Request::new(true, false, 19);
const VIDIOC_G_PARM: Request<StreamParm> = Request::read_write(21);
const VIDIOC_S_PARM: Request<StreamParm> = Request::read_write(22);
const VIDIOC_ENUM_FRAMESIZES: Request<FrmSizeEnum> = Request::read_write(74);

/// A zeroed V4L2 struct, as every call starts from.
fn zeroed<T: Plain>() -> T {
    // SAFETY: `Plain` is implemented only for the `repr(C)` structs above, made of
    // integers, arrays of them, `timeval` and a union of an integer and a pointer: all
    // zero bytes is a valid value of each.
    unsafe { std::mem::zeroed() }
}

/// The structs above: all-zero bytes are a valid value.
trait Plain {}
impl Plain for Capability {}
impl Plain for FmtDesc {}
impl Plain for FrmSizeEnum {}
impl Plain for Format {}
impl Plain for RequestBuffers {}
impl Plain for Buffer {}
impl Plain for StreamParm {}
impl Plain for libc::c_int {}

/// What the driver set with `VIDIOC_S_FMT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SetFormat {
    /// Width (px).
    pub width: u32,
    /// Height (px).
    pub height: u32,
    /// Fourcc.
    pub fourcc: u32,
    /// Bytes per row (uncompressed formats; may exceed the pixels' own).
    pub bytes_per_line: u32,
}

/// A filled buffer taken from the driver; queue its index again when done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dequeued {
    /// Which buffer.
    pub index: u32,
    /// Bytes of frame in it.
    pub bytes_used: usize,
    /// `V4L2_BUF_FLAG_*`.
    pub flags: u32,
    /// The kernel's timestamp (ns; which clock the flags say), `None` if negative.
    pub timestamp_ns: Option<u64>,
}

/// An open V4L2 device node (non-blocking; closed when dropped).
pub(crate) struct Device {
    file: File,
}

impl Device {
    /// Opens `path` for reading and writing, non-blocking.
    pub fn open(path: &Path) -> io::Result<Device> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        Ok(Device { file })
    }

    /// One ioctl on `arg`, again if a signal interrupted it.
    fn ioctl<T: Plain>(&self, request: Request<T>, arg: &mut T) -> io::Result<()> {
        loop {
            // SAFETY: the descriptor is open; `arg` is a valid, writable `T`, the
            // `repr(C)` struct of the kernel's for this request, and the request's size
            // field is `size_of::<T>()`, so the kernel reads and writes only `*arg`.
            let rc = unsafe {
                libc::ioctl(
                    self.file.as_raw_fd(),
                    request.number,
                    std::ptr::from_mut(arg),
                )
            };
            if rc != -1 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    /// `VIDIOC_QUERYCAP`: this node's `V4L2_CAP_*` (its device caps when given).
    pub fn capabilities(&self) -> io::Result<u32> {
        let mut cap: Capability = zeroed();
        self.ioctl(VIDIOC_QUERYCAP, &mut cap)?;
        Ok(if cap.capabilities & CAP_DEVICE_CAPS != 0 {
            cap.device_caps
        } else {
            cap.capabilities
        })
    }

    /// `VIDIOC_ENUM_FMT`: the capture pixel formats offered, as fourccs.
    pub fn formats(&self) -> io::Result<Vec<u32>> {
        let mut formats = Vec::new();
        for index in 0.. {
            let mut desc: FmtDesc = zeroed();
            desc.index = index;
            desc.type_ = BUF_TYPE_VIDEO_CAPTURE;
            match self.ioctl(VIDIOC_ENUM_FMT, &mut desc) {
                Ok(()) => formats.push(desc.pixelformat),
                // EINVAL past the last.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(formats)
    }

    /// `VIDIOC_ENUM_FRAMESIZES`: the sizes offered in `fourcc`; empty when the driver
    /// does not say.
    pub fn frame_sizes(&self, fourcc: u32) -> io::Result<Vec<FrameSizes>> {
        let mut sizes = Vec::new();
        for index in 0.. {
            let mut e: FrmSizeEnum = zeroed();
            e.index = index;
            e.pixel_format = fourcc;
            match self.ioctl(VIDIOC_ENUM_FRAMESIZES, &mut e) {
                Ok(()) if e.type_ == FRMSIZE_TYPE_DISCRETE => {
                    sizes.push(FrameSizes::Discrete {
                        width: e.size[0],
                        height: e.size[1],
                    });
                }
                Ok(()) => {
                    let [min_w, max_w, step_w, min_h, max_h, step_h] = e.size;
                    sizes.push(FrameSizes::Stepwise {
                        width: [min_w, max_w, step_w.max(1)],
                        height: [min_h, max_h, step_h.max(1)],
                    });
                    // A range is the only entry.
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(sizes)
    }

    /// `VIDIOC_S_FMT`: asks for `fourcc` at `width × height`, progressive; returns what
    /// the driver set (it may differ).
    pub fn set_format(&self, fourcc: u32, width: u32, height: u32) -> io::Result<SetFormat> {
        let mut format: Format = zeroed();
        format.type_ = BUF_TYPE_VIDEO_CAPTURE;
        format.fmt.pix.width = width;
        format.fmt.pix.height = height;
        format.fmt.pix.pixelformat = fourcc;
        format.fmt.pix.field = FIELD_NONE;
        self.ioctl(VIDIOC_S_FMT, &mut format)?;
        Ok(SetFormat {
            width: format.fmt.pix.width,
            height: format.fmt.pix.height,
            fourcc: format.fmt.pix.pixelformat,
            bytes_per_line: format.fmt.pix.bytesperline,
        })
    }

    /// `VIDIOC_G_PARM` then, when the driver takes one, `VIDIOC_S_PARM`: asks for
    /// `numerator / denominator` seconds a frame; returns the one in force (`None` when
    /// the driver says none).
    pub fn set_time_per_frame(
        &self,
        numerator: u32,
        denominator: u32,
    ) -> io::Result<Option<(u32, u32)>> {
        let mut parm: StreamParm = zeroed();
        parm.type_ = BUF_TYPE_VIDEO_CAPTURE;
        self.ioctl(VIDIOC_G_PARM, &mut parm)?;
        if parm.capability & CAP_TIMEPERFRAME != 0 {
            parm.timeperframe_numerator = numerator;
            parm.timeperframe_denominator = denominator;
            self.ioctl(VIDIOC_S_PARM, &mut parm)?;
        }
        let (n, d) = (parm.timeperframe_numerator, parm.timeperframe_denominator);
        Ok((n > 0 && d > 0).then_some((n, d)))
    }

    /// `VIDIOC_REQBUFS` for `count` MMAP buffers (0 frees them); returns how many the
    /// driver gave.
    pub fn request_buffers(&self, count: u32) -> io::Result<u32> {
        let mut req: RequestBuffers = zeroed();
        req.count = count;
        req.type_ = BUF_TYPE_VIDEO_CAPTURE;
        req.memory = MEMORY_MMAP;
        self.ioctl(VIDIOC_REQBUFS, &mut req)?;
        Ok(req.count)
    }

    fn buffer(index: u32) -> Buffer {
        let mut buf: Buffer = zeroed();
        buf.index = index;
        buf.type_ = BUF_TYPE_VIDEO_CAPTURE;
        buf.memory = MEMORY_MMAP;
        buf
    }

    /// `VIDIOC_QUERYBUF` then `mmap`: buffer `index`'s memory, shared with the driver.
    pub fn map_buffer(&self, index: u32) -> io::Result<Mapping> {
        let mut buf = Device::buffer(index);
        self.ioctl(VIDIOC_QUERYBUF, &mut buf)?;
        let len = buf.length as usize;
        // SAFETY: the driver filled `m` for MMAP memory, whose member is `offset`.
        let offset = unsafe { buf.m.offset };
        // Fallible where `off_t` is 32 bits.
        #[allow(clippy::unnecessary_fallible_conversions)]
        let offset = libc::off_t::try_from(offset).map_err(io::Error::other)?;
        // SAFETY: a fresh shared mapping of the driver's buffer at the offset it gave, of
        // the length it gave; nothing else is mapped or overwritten.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Mapping { ptr, len })
    }

    /// `VIDIOC_QBUF`: hands buffer `index` to the driver to fill.
    pub fn queue(&self, index: u32) -> io::Result<()> {
        self.ioctl(VIDIOC_QBUF, &mut Device::buffer(index))
    }

    /// `VIDIOC_DQBUF`: the next filled buffer, `None` when none is ready yet.
    pub fn dequeue(&self) -> io::Result<Option<Dequeued>> {
        let mut buf = Device::buffer(0);
        match self.ioctl(VIDIOC_DQBUF, &mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
        let (sec, usec) = (buf.timestamp.tv_sec, buf.timestamp.tv_usec);
        let timestamp_ns = u64::try_from(sec)
            .ok()
            .zip(u64::try_from(usec).ok())
            .map(|(s, us)| s.saturating_mul(1_000_000_000).saturating_add(us * 1_000));
        Ok(Some(Dequeued {
            index: buf.index,
            bytes_used: buf.bytesused as usize,
            flags: buf.flags,
            timestamp_ns,
        }))
    }

    /// `VIDIOC_STREAMON` / `VIDIOC_STREAMOFF` (which also takes back every buffer).
    pub fn stream(&self, on: bool) -> io::Result<()> {
        let mut kind = BUF_TYPE_VIDEO_CAPTURE as libc::c_int;
        self.ioctl(
            if on {
                VIDIOC_STREAMON
            } else {
                VIDIOC_STREAMOFF
            },
            &mut kind,
        )
    }

    /// Waits up to `timeout_ms` for a filled buffer.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<Ready> {
        let mut fd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, and a count of one.
        let rc = unsafe { libc::poll(&mut fd, 1, timeout_ms) };
        if rc == -1 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::Interrupted => Ok(Ready::Timeout),
                _ => Err(error),
            };
        }
        Ok(
            if fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                Ready::Error
            } else if fd.revents & libc::POLLIN != 0 {
                Ready::Frame
            } else {
                Ready::Timeout
            },
        )
    }
}

/// What waiting on a device found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// Nothing yet.
    Timeout,
    /// A filled buffer.
    Frame,
    /// An error on the device (not streaming, unplugged, or failed); dequeuing says
    /// which.
    Error,
}

/// A driver buffer mapped into this process; unmapped when dropped (before the device
/// is closed: keep it declared before its [`Device`]).
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory owned by this value alone; moving it to
// another thread moves the only handle to it.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Its first `len` bytes (all of it if `len` is larger). Read only while the buffer
    /// is dequeued: the driver writes it while it is queued.
    pub fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `self.len` readable bytes for as long as
        // `self` is, and the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len.min(self.len)) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are the mapping `mmap` gave, unmapped only here, and no
        // slice of it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `CLOCK_MONOTONIC` now (ns): the clock V4L2 stamps buffers on.
pub(crate) fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let (sec, nsec) = (u64::try_from(ts.tv_sec), u64::try_from(ts.tv_nsec));
    sec.unwrap_or(0) * 1_000_000_000 + nsec.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn ioctl_numbers_are_the_kernel_headers() {
        // As gcc computes them from <linux/videodev2.h> on x86-64.
        let expected: [(libc::Ioctl, u32); 12] = [
            (VIDIOC_QUERYCAP.number, 0x8068_5600),
            (VIDIOC_ENUM_FMT.number, 0xc040_5602),
            (VIDIOC_S_FMT.number, 0xc0d0_5605),
            (VIDIOC_REQBUFS.number, 0xc014_5608),
            (VIDIOC_QUERYBUF.number, 0xc058_5609),
            (VIDIOC_QBUF.number, 0xc058_560f),
            (VIDIOC_DQBUF.number, 0xc058_5611),
            (VIDIOC_STREAMON.number, 0x4004_5612),
            (VIDIOC_STREAMOFF.number, 0x4004_5613),
            (VIDIOC_G_PARM.number, 0xc0cc_5615),
            (VIDIOC_S_PARM.number, 0xc0cc_5616),
            (VIDIOC_ENUM_FRAMESIZES.number, 0xc02c_564a),
        ];
        for (got, want) in expected {
            assert_eq!(got as u32, want, "{got:#x} should be {want:#x}");
        }
    }

    #[test]
    fn fourccs_pack_first_byte_lowest() {
        assert_eq!(PIX_FMT_MJPEG, 0x4750_4a4d);
        assert_eq!(PIX_FMT_YUYV, 0x5659_5559);
    }

    #[test]
    fn monotonic_time_moves_forward() {
        let a = monotonic_nanos();
        let b = monotonic_nanos();
        assert!(a > 0 && b >= a);
    }
}
