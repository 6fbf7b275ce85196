//! The simulated CAN buses as the firmware's driver sees them (`embedded_can::nb::Can`),
//! and what sits on them ([`CanDevices`]): simulated MIT motors, or simulated CiA 402
//! drives. A frame sent is taken by the devices on that bus at once and their answers
//! wait on it to be received; what the devices send on their own (heartbeats,
//! emergencies) goes on their own bus.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use embedded_can::{ErrorKind, Frame, Id};
use embody_protocol::{CanFrame, CanId};
use embody_sim::World;

use crate::drives::Drives;
use crate::fault::DeviceFault;
use crate::motors::Motors;

/// A CAN frame as the simulated bus driver hands it to the firmware.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimFrame(pub CanFrame);

fn id_of(id: impl Into<Id>) -> CanId {
    match id.into() {
        Id::Standard(s) => CanId::Standard(s.as_raw()),
        Id::Extended(e) => CanId::Extended(e.as_raw()),
    }
}

impl Frame for SimFrame {
    fn new(id: impl Into<Id>, data: &[u8]) -> Option<Self> {
        CanFrame::new(id_of(id), data).ok().map(SimFrame)
    }
    fn new_remote(id: impl Into<Id>, dlc: usize) -> Option<Self> {
        CanFrame::remote(id_of(id), dlc as u8).ok().map(SimFrame)
    }
    fn is_extended(&self) -> bool {
        matches!(self.0.id(), CanId::Extended(_))
    }
    fn is_remote_frame(&self) -> bool {
        self.0.is_remote()
    }
    fn id(&self) -> Id {
        match self.0.id() {
            CanId::Standard(id) => embedded_can::StandardId::new(id)
                .map(Id::from)
                .unwrap_or(Id::Standard(embedded_can::StandardId::ZERO)),
            CanId::Extended(id) => embedded_can::ExtendedId::new(id)
                .map(Id::from)
                .unwrap_or(Id::Standard(embedded_can::StandardId::ZERO)),
        }
    }
    fn dlc(&self) -> usize {
        self.0.len() as usize
    }
    fn data(&self) -> &[u8] {
        self.0.data()
    }
}

/// A simulated bus never fails; the type exists for the trait.
#[derive(Debug)]
pub struct SimBusError;

impl embedded_can::Error for SimBusError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// What sits on the simulated buses: simulated MIT motors or CiA 402 drives, moving
/// the simulator's joints.
pub trait CanDevices {
    /// The simulated world.
    fn world(&self) -> &World;
    /// The simulator's step.
    fn dt(&self) -> f64 {
        self.world().config().dt_s
    }
    /// Advances the simulation by `seconds`; what the devices send meanwhile to `out`,
    /// each frame with its bus.
    fn advance(&mut self, seconds: f64, out: &mut Vec<(u8, CanFrame)>);
    /// Takes one frame off bus `bus`; the answers to `out`.
    fn on_frame(&mut self, bus: u8, frame: &CanFrame, out: &mut Vec<CanFrame>);
    /// Gives joint `k`'s device a fault or takes it away; what it sends to `out`, with
    /// its bus. MIT motors take none.
    fn set_fault(
        &mut self,
        _k: usize,
        _fault: Option<DeviceFault>,
        _out: &mut Vec<(u8, CanFrame)>,
    ) {
    }
}

impl CanDevices for Motors {
    fn world(&self) -> &World {
        Motors::world(self)
    }

    fn advance(&mut self, seconds: f64, _: &mut Vec<(u8, CanFrame)>) {
        Motors::advance(self, seconds);
    }

    fn on_frame(&mut self, bus: u8, frame: &CanFrame, out: &mut Vec<CanFrame>) {
        out.extend(Motors::on_frame(self, bus, frame));
    }
}

impl CanDevices for Drives {
    fn world(&self) -> &World {
        Drives::world(self)
    }

    fn advance(&mut self, seconds: f64, out: &mut Vec<(u8, CanFrame)>) {
        Drives::advance_on_buses(self, seconds, out);
    }

    fn on_frame(&mut self, bus: u8, frame: &CanFrame, out: &mut Vec<CanFrame>) {
        Drives::on_bus_frame(self, bus, frame, out);
    }

    fn set_fault(&mut self, k: usize, fault: Option<DeviceFault>, out: &mut Vec<(u8, CanFrame)>) {
        match fault {
            Some(f) if k < self.world().joint_count() => {
                let mut sent = Vec::new();
                self.inject(k, f, &mut sent);
                out.extend(sent.into_iter().map(|frame| (self.bus(k), frame)));
            }
            Some(_) => {}
            None => self.clear(k),
        }
    }
}

/// One simulated CAN bus, as the firmware's driver sees it.
pub struct SimBus {
    bus: u8,
    devices: Rc<RefCell<dyn CanDevices>>,
    rx: VecDeque<SimFrame>,
    answers: Vec<CanFrame>,
}

impl SimBus {
    /// Bus `bus` of `devices`.
    pub fn new(bus: u8, devices: Rc<RefCell<dyn CanDevices>>) -> SimBus {
        SimBus {
            bus,
            devices,
            rx: VecDeque::with_capacity(64),
            answers: Vec::with_capacity(8),
        }
    }

    /// Puts `frames` on the bus, to be received.
    pub fn deliver(&mut self, frames: &[CanFrame]) {
        self.rx.extend(frames.iter().copied().map(SimFrame));
    }

    /// Puts on their buses the frames of `sent` (bus, frame) that are for one of `buses`.
    pub fn deliver_on(buses: &mut [SimBus], sent: &[(u8, CanFrame)]) {
        for (bus, frame) in sent {
            if let Some(b) = buses.iter_mut().find(|b| b.bus == *bus) {
                b.rx.push_back(SimFrame(*frame));
            }
        }
    }
}

impl embedded_can::nb::Can for SimBus {
    type Frame = SimFrame;
    type Error = SimBusError;

    fn transmit(&mut self, frame: &SimFrame) -> nb::Result<Option<SimFrame>, SimBusError> {
        self.answers.clear();
        (self.devices.borrow_mut()).on_frame(self.bus, &frame.0, &mut self.answers);
        self.rx.extend(self.answers.iter().copied().map(SimFrame));
        Ok(None)
    }

    fn receive(&mut self) -> nb::Result<SimFrame, SimBusError> {
        self.rx.pop_front().ok_or(nb::Error::WouldBlock)
    }
}
