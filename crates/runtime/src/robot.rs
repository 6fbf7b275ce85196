//! [`AnyRobot`]: every backend a session can drive, behind one [`Robot`]. The loop
//! cannot tell them apart; the session can, to reach the simulator's world (its true
//! state, contacts, the state record) or a bridge's link.

use embody_bridge::{BridgeRobot, Cia402Robot, ServoRobot, SlcanRobot};
use embody_hal::{
    Capabilities, CommandFrame, HalError, LinkHealth, MockRobot, Robot, SensorFrame, Timestamp,
};
use embody_sim::{LoadedScenario, SimRobot};

/// The simulator, with a scenario's faults injected on the run's time: the first read
/// is at one loop period, as the first lockstep tick is, in lockstep and real time alike.
pub struct SimBackend {
    /// The simulated robot.
    pub robot: SimRobot,
    /// The scenario whose faults it injects (none: no faults).
    pub faults: Option<LoadedScenario>,
    /// The loop's period (ns).
    period_ns: u64,
    /// The first read's time.
    origin: Option<Timestamp>,
}

impl SimBackend {
    /// `robot` read every `period_ns`, injecting `faults`' faults.
    pub fn new(robot: SimRobot, faults: Option<LoadedScenario>, period_ns: u64) -> SimBackend {
        SimBackend {
            robot,
            faults,
            period_ns,
            origin: None,
        }
    }

    fn inject(&mut self, now: Timestamp) {
        let origin = *self.origin.get_or_insert(now);
        if let Some(scenario) = &self.faults {
            let since_ns = now.nanos_since(origin).max(0) as u64;
            let t_s = (since_ns + self.period_ns) as f64 * 1e-9;
            scenario.apply_faults(t_s, &self.robot.faults());
            for camera in self.robot.cameras_mut() {
                use embody_hal::Camera;
                let stalled = scenario.camera_stalled(&camera.info().name, t_s);
                camera.stall(stalled);
            }
        }
    }
}

/// A robot of any backend. See the module docs.
pub enum AnyRobot {
    /// In-process simulation.
    Sim(Box<SimBackend>),
    /// The hal's mock (rigid-body physics, a floating base pinned).
    Mock(Box<MockRobot>),
    /// The bridge on a serial port.
    Bridge(Box<BridgeRobot>),
    /// MIT motors behind an SLCAN adapter.
    Slcan(Box<SlcanRobot>),
    /// Servos on a serial bus.
    Servos(Box<ServoRobot>),
    /// CiA 402 drives behind an SLCAN adapter.
    Cia402(Box<Cia402Robot>),
}

impl AnyRobot {
    /// The simulated robot, when this is one.
    pub fn sim(&self) -> Option<&SimRobot> {
        match self {
            AnyRobot::Sim(s) => Some(&s.robot),
            _ => None,
        }
    }

    /// The simulated robot, mutable, when this is one.
    pub fn sim_mut(&mut self) -> Option<&mut SimRobot> {
        match self {
            AnyRobot::Sim(s) => Some(&mut s.robot),
            _ => None,
        }
    }

    /// The simulator's base pose `[x y z qx qy qz qw]`, for a floating-base robot there.
    pub fn base_pose(&self) -> Option<[f64; 7]> {
        let world = self.sim()?.world();
        world.model().free_flyer().map(|_| {
            let mut pose = [0.0; 7];
            pose.copy_from_slice(&world.q().as_slice()[..7]);
            pose
        })
    }

    fn inner(&self) -> &dyn Robot {
        match self {
            AnyRobot::Sim(s) => &s.robot,
            AnyRobot::Mock(r) => r.as_ref(),
            AnyRobot::Bridge(r) => r.as_ref(),
            AnyRobot::Slcan(r) => r.as_ref(),
            AnyRobot::Servos(r) => r.as_ref(),
            AnyRobot::Cia402(r) => r.as_ref(),
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Robot {
        match self {
            AnyRobot::Sim(s) => &mut s.robot,
            AnyRobot::Mock(r) => r.as_mut(),
            AnyRobot::Bridge(r) => r.as_mut(),
            AnyRobot::Slcan(r) => r.as_mut(),
            AnyRobot::Servos(r) => r.as_mut(),
            AnyRobot::Cia402(r) => r.as_mut(),
        }
    }
}

impl Robot for AnyRobot {
    fn capabilities(&self) -> &Capabilities {
        self.inner().capabilities()
    }

    /// Real-time safe: injecting a scenario's faults sets atomics only.
    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        if let AnyRobot::Sim(s) = self {
            s.inject(now);
        }
        self.inner_mut().read(now, frame)
    }

    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        self.inner_mut().write(now, frame)
    }

    fn link_health(&self) -> LinkHealth {
        self.inner().link_health()
    }
}
