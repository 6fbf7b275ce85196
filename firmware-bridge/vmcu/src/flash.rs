//! The virtual MCU's flash: a file with NOR semantics — an erase sets whole sectors to
//! 0xFF, a write can only clear bits — so the firmware's update and boot logic runs on
//! the host exactly as on a chip, and what it wrote survives the process being killed
//! (every operation goes straight to the file).

use std::fs::{File, OpenOptions};
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

impl FileFlash {
    /// Opens the flash file at `path`, creating it erased (all 0xFF) if it does not
    /// exist; `capacity` is rounded up to whole sectors.
    pub fn open(path: &Path, capacity: usize) -> std::io::Result<FileFlash> {
        let capacity = capacity.div_ceil(ERASE_SIZE) * ERASE_SIZE;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len() as usize;
        if len < capacity {
            // New (or shorter) flash: the missing part is erased.
            let erased = vec![0xFFu8; capacity - len];
            file.write_all_at(&erased, len as u64)?;
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
}
