//! A NOR flash in RAM for the firmware's tests: writes only clear bits, erases set whole
//! sectors, and the power can be cut after a number of operations (the last write torn).

#![allow(dead_code)] // each test file uses its part

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Sector size of the test flash.
pub const ERASE: u32 = 256;

#[derive(Debug)]
pub struct Cut;

impl NorFlashError for Cut {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

/// NOR flash in RAM that loses power after `budget` erases or writes (the last one torn
/// halfway when it is a write).
#[derive(Clone)]
pub struct Flash {
    pub bytes: Vec<u8>,
    pub budget: Option<usize>,
    pub ops: usize,
}

impl Flash {
    pub fn new(capacity: u32) -> Flash {
        Flash {
            bytes: vec![0xFF; capacity as usize],
            budget: None,
            ops: 0,
        }
    }

    fn spend(&mut self) -> Result<(), Cut> {
        self.ops += 1;
        match self.budget {
            Some(b) if self.ops > b => Err(Cut),
            _ => Ok(()),
        }
    }

    /// The flash as it is after the power comes back.
    pub fn rebooted(&self) -> Flash {
        Flash {
            bytes: self.bytes.clone(),
            budget: None,
            ops: 0,
        }
    }
}

impl ErrorType for Flash {
    type Error = Cut;
}

impl ReadNorFlash for Flash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), Cut> {
        let at = offset as usize;
        out.copy_from_slice(self.bytes.get(at..at + out.len()).ok_or(Cut)?);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for Flash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = ERASE as usize;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Cut> {
        assert!(
            from.is_multiple_of(ERASE) && to.is_multiple_of(ERASE),
            "unaligned erase"
        );
        self.spend()?;
        self.bytes[from as usize..to as usize].fill(0xFF);
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), Cut> {
        assert!(
            (offset as usize).is_multiple_of(4) && data.len().is_multiple_of(4),
            "unaligned write"
        );
        let cut = self.spend().is_err();
        let n = if cut { data.len() / 2 } else { data.len() };
        for (cell, byte) in self.bytes[offset as usize..].iter_mut().zip(&data[..n]) {
            *cell &= byte; // NOR: a write only clears bits
        }
        if cut { Err(Cut) } else { Ok(()) }
    }
}
