//! The bridge's servo UART as its firmware sees it (`embedded_io` read and write), with
//! simulated servos ([`Servos`]) on the other end: bytes written are heard by the servos
//! at once, and their answers wait on the line to be read. The servos also stand in the
//! virtual bridge's device slot ([`CanDevices`]): they hear no CAN frame, but advance the
//! simulation and take faults as drives do.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use embody_protocol::CanFrame;
use embody_sim::World;

use crate::bus::CanDevices;
use crate::fault::DeviceFault;
use crate::servos::Servos;

/// The servo UART of a virtual bridge. See the module docs.
pub struct SimServoLine {
    servos: Rc<RefCell<Servos>>,
    waiting: VecDeque<u8>,
    answers: Vec<u8>,
}

impl SimServoLine {
    /// A line with `servos` on it.
    pub fn new(servos: Rc<RefCell<Servos>>) -> SimServoLine {
        SimServoLine {
            servos,
            waiting: VecDeque::new(),
            answers: Vec::new(),
        }
    }
}

impl embedded_io::ErrorType for SimServoLine {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for SimServoLine {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.answers.clear();
        self.servos.borrow_mut().on_bytes(buf, &mut self.answers);
        self.waiting.extend(&self.answers);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io::ReadReady for SimServoLine {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.waiting.is_empty())
    }
}

impl embedded_io::Read for SimServoLine {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.waiting.len());
        for (slot, byte) in buf.iter_mut().zip(self.waiting.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl CanDevices for Servos {
    fn world(&self) -> &World {
        Servos::world(self)
    }

    fn advance(&mut self, seconds: f64, _: &mut Vec<(u8, CanFrame)>) {
        Servos::advance(self, seconds);
    }

    fn on_frame(&mut self, _: u8, _: &CanFrame, _: &mut Vec<CanFrame>) {}

    fn set_fault(&mut self, k: usize, fault: Option<DeviceFault>, _: &mut Vec<(u8, CanFrame)>) {
        match fault {
            Some(f) => self.inject(k, f),
            None => self.clear(k),
        }
    }
}
