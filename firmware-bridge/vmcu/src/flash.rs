//! The virtual MCU's flash: a file with NOR semantics — an erase sets whole sectors to
//! 0xFF, a write can only clear bits — so the firmware's update and boot logic runs on
//! the host exactly as on a chip, and what it wrote survives the process being killed
//! (every operation goes straight to the file). An open flash holds an advisory lock on
//! its file, so two virtual MCUs never share one; a file that is not the flash's size is
//! refused, never resized (it is some other file, or another layout's flash).

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::FileExt;
use std::path::Path;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Sector size (bytes), as on a typical MCU's internal flash.
pub const ERASE_SIZE: usize = 4096;
/// Write granularity (bytes).
pub const WRITE_SIZE: usize = 4;

/// Why a flash operation failed.
#[derive(Debug)]
pub enum FlashError {
    /// Outside the flash, or not aligned to the sector or write size.
    Bounds,
    /// The backing file failed.
    Io(std::io::Error),
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::Bounds => NorFlashErrorKind::OutOfBounds,
            FlashError::Io(_) => NorFlashErrorKind::Other,
        }
    }
}

/// A flash of `capacity` bytes kept in a file.
#[derive(Debug)]
pub struct FileFlash {
    file: File,
    capacity: usize,
}

/// Why a flash file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file could not be created, read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Another virtual MCU has it open.
    #[error("in use by another virtual MCU (two units cannot share one flash)")]
    InUse,
    /// The file is not the flash's size.
    #[error(
        "{bytes} bytes, where this flash has {capacity} bytes: not a flash file of this layout, refused rather than resized"
    )]
    WrongSize {
        /// The file's size.
        bytes: u64,
        /// The flash's.
        capacity: u64,
    },
}

impl FileFlash {
    /// Opens the flash file at `path` and locks it, creating it erased (all 0xFF) if it
    /// does not exist or is empty; `capacity` is rounded up to whole sectors, and an
    /// existing file must have that size.
    pub fn open(path: &Path, capacity: usize) -> Result<FileFlash, OpenError> {
        let capacity = capacity.div_ceil(ERASE_SIZE) * ERASE_SIZE;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(OpenError::InUse),
            Err(TryLockError::Error(e)) => return Err(OpenError::Io(e)),
        }
        match file.metadata()?.len() {
            // New: erased.
            0 => file.write_all_at(&vec![0xFFu8; capacity], 0)?,
            len if len == capacity as u64 => {}
            bytes => {
                return Err(OpenError::WrongSize {
                    bytes,
                    capacity: capacity as u64,
                });
            }
        }
        Ok(FileFlash { file, capacity })
    }

    fn range(&self, offset: u32, len: usize, align: usize) -> Result<u64, FlashError> {
        let at = offset as usize;
        if !at.is_multiple_of(align) || !len.is_multiple_of(align) || at + len > self.capacity {
            return Err(FlashError::Bounds);
        }
        Ok(at as u64)
    }
}

impl ErrorType for FileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        let at = self.range(offset, bytes.len(), 1)?;
        self.file.read_exact_at(bytes, at).map_err(FlashError::Io)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(FlashError::Bounds)?;
        let at = self.range(from, len, ERASE_SIZE)?;
        self.file
            .write_all_at(&vec![0xFFu8; len], at)
            .map_err(FlashError::Io)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let at = self.range(offset, bytes.len(), WRITE_SIZE)?;
        // NOR: a write only clears bits.
        let mut cells = vec![0u8; bytes.len()];
        self.file
            .read_exact_at(&mut cells, at)
            .map_err(FlashError::Io)?;
        for (cell, byte) in cells.iter_mut().zip(bytes) {
            *cell &= byte;
        }
        self.file.write_all_at(&cells, at).map_err(FlashError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_behaves_as_nor_flash_and_persists() {
        let path = std::env::temp_dir().join(format!("embody-flash-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut f = FileFlash::open(&path, 3 * ERASE_SIZE - 100).expect("open");
        assert_eq!(f.capacity(), 3 * ERASE_SIZE);
        let mut b = [0u8; 8];
        f.read(ERASE_SIZE as u32, &mut b).expect("read");
        assert_eq!(b, [0xFF; 8], "new flash is erased");
        f.write(ERASE_SIZE as u32, &[0x0F, 0xF0, 0x55, 0xAA])
            .expect("write");
        // A second write clears more bits, never sets any.
        f.write(ERASE_SIZE as u32, &[0xFF, 0x0F, 0xFF, 0x0F])
            .expect("write");
        drop(f);
        let mut f = FileFlash::open(&path, 3 * ERASE_SIZE).expect("reopen");
        f.read(ERASE_SIZE as u32, &mut b[..4]).expect("read");
        assert_eq!(&b[..4], &[0x0F, 0x00, 0x55, 0x0A]);
        assert!(matches!(f.write(1, &[0; 4]), Err(FlashError::Bounds)));
        assert!(matches!(f.erase(0, 100), Err(FlashError::Bounds)));
        assert!(matches!(
            f.read(3 * ERASE_SIZE as u32 - 2, &mut b[..4]),
            Err(FlashError::Bounds)
        ));
        f.erase(ERASE_SIZE as u32, 2 * ERASE_SIZE as u32)
            .expect("erase");
        f.read(ERASE_SIZE as u32, &mut b[..4]).expect("read");
        assert_eq!(&b[..4], &[0xFF; 4]);
        let _ = std::fs::remove_file(&path);
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("embody-flash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn flash_file_of_wrong_size_is_refused() {
        let path = scratch("size");
        for len in [100, ERASE_SIZE as u64, 3 * ERASE_SIZE as u64 + 1] {
            std::fs::write(&path, vec![0x5Au8; len as usize]).expect("file");
            match FileFlash::open(&path, 2 * ERASE_SIZE) {
                Err(OpenError::WrongSize { bytes, capacity }) => {
                    assert_eq!((bytes, capacity), (len, 2 * ERASE_SIZE as u64));
                }
                other => panic!("{len} bytes: {other:?}"),
            }
            let kept = std::fs::read(&path).expect("still there");
            assert!(
                kept.len() as u64 == len && kept.iter().all(|b| *b == 0x5A),
                "untouched"
            );
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_missing_or_empty_flash_file_is_created_erased() {
        let path = scratch("new");
        drop(FileFlash::open(&path, ERASE_SIZE).expect("created"));
        std::fs::write(&path, b"").expect("empty");
        let mut f = FileFlash::open(&path, ERASE_SIZE).expect("empty is new");
        let mut b = [0u8; 4];
        f.read(ERASE_SIZE as u32 - 4, &mut b).expect("read");
        assert_eq!(b, [0xFF; 4]);
        assert_eq!(
            std::fs::metadata(&path).expect("file").len(),
            ERASE_SIZE as u64
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_flash_file_is_not_shared() {
        let path = scratch("shared");
        let first = FileFlash::open(&path, ERASE_SIZE).expect("free");
        assert!(matches!(
            FileFlash::open(&path, ERASE_SIZE),
            Err(OpenError::InUse)
        ));
        drop(first);
        FileFlash::open(&path, ERASE_SIZE).expect("free again");
        let _ = std::fs::remove_file(&path);
    }
}
