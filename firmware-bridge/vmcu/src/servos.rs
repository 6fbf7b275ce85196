//! Simulated serial servos on a half-duplex bus: ROBOTIS Dynamixel X-series (protocol
//! 2.0) or Feetech STS (their Dynamixel-1.0 framing), one per actuated joint of a
//! simulated robot, ids 1, 2, … in joint order, each with its control table. Torque
//! enable and the goal (position; on Dynamixel also velocity or current, as its operating
//! mode says) drive the joint through the simulator's actuator; present position,
//! velocity, current (or load) and temperature are read from it. Servos answer as real
//! ones do: only the one addressed (none to a broadcast write), a sync read by each
//! listed servo in the order listed. Faults can be injected: overheating and overload (the servo
//! drops its torque and flags them in its status), or a lost servo that answers nothing.

use core::f64::consts::TAU;

use embody_hal::JointCommand;
use embody_protocol::dynamixel::{self, x_series};
use embody_protocol::feetech::{self, sts as sts_table};
use embody_sim::{SimConfig, World};

pub use embody_bridge::ServoFamily;

pub use crate::fault::DeviceFault;

/// The control-table addresses used here, as indices.
mod dxl {
    use embody_protocol::dynamixel::x_series as x;
    pub const MODEL: usize = x::MODEL_NUMBER as usize;
    pub const FIRMWARE: usize = x::FIRMWARE_VERSION as usize;
    pub const ID: usize = x::ID as usize;
    pub const OPERATING_MODE: usize = x::OPERATING_MODE as usize;
    pub const EEPROM_END: usize = x::EEPROM_END as usize;
    pub const TORQUE_ENABLE: usize = x::TORQUE_ENABLE as usize;
    pub const HARDWARE_ERROR: usize = x::HARDWARE_ERROR as usize;
    pub const POSITION_P_GAIN: usize = x::POSITION_P_GAIN as usize;
    pub const GOAL_CURRENT: usize = x::GOAL_CURRENT as usize;
    pub const GOAL_VELOCITY: usize = x::GOAL_VELOCITY as usize;
    pub const GOAL_POSITION: usize = x::GOAL_POSITION as usize;
    pub const MOVING: usize = x::MOVING as usize;
    pub const READ_ONLY: usize = x::MOVING as usize;
    pub const PRESENT_CURRENT: usize = x::PRESENT_CURRENT as usize;
    pub const PRESENT_VELOCITY: usize = x::PRESENT_VELOCITY as usize;
    pub const PRESENT_POSITION: usize = x::PRESENT_POSITION as usize;
    pub const PRESENT_VOLTAGE: usize = x::PRESENT_VOLTAGE as usize;
    pub const PRESENT_TEMPERATURE: usize = x::PRESENT_TEMPERATURE as usize;
}

/// The control-table addresses used here, as indices.
mod sts {
    use embody_protocol::feetech::sts as t;
    pub const MODEL: usize = t::MODEL_NUMBER as usize;
    pub const ID: usize = t::ID as usize;
    pub const TORQUE_ENABLE: usize = t::TORQUE_ENABLE as usize;
    pub const GOAL_POSITION: usize = t::GOAL_POSITION as usize;
    pub const READ_ONLY: usize = t::PRESENT_POSITION as usize;
    pub const PRESENT_POSITION: usize = t::PRESENT_POSITION as usize;
    pub const PRESENT_SPEED: usize = t::PRESENT_SPEED as usize;
    pub const PRESENT_LOAD: usize = t::PRESENT_LOAD as usize;
    pub const PRESENT_VOLTAGE: usize = t::PRESENT_VOLTAGE as usize;
    pub const PRESENT_TEMPERATURE: usize = t::PRESENT_TEMPERATURE as usize;
    pub const MOVING: usize = t::MOVING as usize;
    pub const PRESENT_CURRENT: usize = t::PRESENT_CURRENT as usize;
}

/// `sim` with the position loop of `family`'s servos in place of the simulator's
/// default one. Feetech STS: full torque within about 3° of error (≈ 20 N·m/rad per
/// N·m of stall torque, damped at 0.3 N·m·s/rad per N·m) — an estimate from how an
/// SO-101 holds its arm with little sag, not a measured servo; the simulator's default
/// (4 per N·m) let the light arm sag 0.1 rad and buckle when its gripper met the floor.
/// Dynamixel X: the default's damping; its stiffness is the servo's position P gain
/// (`x_series::stiffness_per_nm`), which a master may write.
pub fn with_position_loop(family: ServoFamily, mut sim: SimConfig) -> SimConfig {
    if family == ServoFamily::Feetech {
        sim.actuator.position_kp_per_nm = 20.0;
        sim.actuator.position_kd_per_nm = 0.3;
    }
    sim
}

/// One servo: its control table and what is wrong with it.
struct Servo {
    table: Vec<u8>,
    faults: u8,
    lost: bool,
}

/// The servos of one simulated robot on one bus.
pub struct Servos {
    family: ServoFamily,
    world: World,
    /// Joint travel per servo turn, per joint.
    travel: Vec<f64>,
    /// Each joint's effort limit (N·m or N): what its servo's gains scale.
    effort: Vec<f64>,
    servos: Vec<Servo>,
    dxl: dynamixel::PacketReader,
    sts: feetech::PacketReader,
    /// Packets read whole and good.
    pub packets: u64,
    /// Packets dropped: bad length or CRC/checksum.
    pub bad_packets: u64,
}

impl Servos {
    /// A servo of `family` on each actuated joint of `world`.
    pub fn new(world: World, family: ServoFamily) -> Servos {
        let servos = (0..world.joint_count())
            .map(|k| {
                let id = (k + 1).min(252) as u8;
                let mut table = vec![0u8; table_size(family)];
                match family {
                    ServoFamily::Dynamixel => {
                        put(&mut table, dxl::MODEL, &x_series::XM430_W350.to_le_bytes());
                        table[dxl::FIRMWARE] = 52;
                        table[dxl::ID] = id;
                        table[dxl::OPERATING_MODE] = 3; // position
                        let p_gain = x_series::DEFAULT_POSITION_P_GAIN;
                        put(&mut table, dxl::POSITION_P_GAIN, &p_gain.to_le_bytes());
                    }
                    ServoFamily::Feetech => {
                        put(&mut table, sts::MODEL, &sts_table::STS3215.to_le_bytes());
                        table[sts::ID] = id;
                    }
                }
                Servo {
                    table,
                    faults: 0,
                    lost: false,
                }
            })
            .collect();
        let model = world.model().clone();
        let mut servos = Servos {
            family,
            travel: embody_bridge::travel_per_turn(&model),
            effort: (model.actuated_joints())
                .map(|j| model.joints[j.0].limits.effort.abs().min(1e4))
                .collect(),
            world,
            servos,
            dxl: dynamixel::PacketReader::default(),
            sts: feetech::PacketReader::default(),
            packets: 0,
            bad_packets: 0,
        };
        for k in 0..servos.servos.len() {
            servos.refresh(k);
        }
        servos
    }

    /// The simulated world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Advances the simulation by `seconds` (whole steps).
    pub fn advance(&mut self, seconds: f64) {
        let steps = (seconds / self.world.config().dt_s).round() as usize;
        for _ in 0..steps {
            self.world.step();
        }
    }

    /// Injects `fault` into the servo of joint `k` (ignored for an unknown joint).
    pub fn inject(&mut self, k: usize, fault: DeviceFault) {
        let family = self.family;
        let Some(servo) = self.servos.get_mut(k) else {
            return;
        };
        let bit = match (fault, family) {
            (DeviceFault::Lost, _) => {
                servo.lost = true;
                return;
            }
            (DeviceFault::Overheat, ServoFamily::Dynamixel) => x_series::OVERHEATING_ERROR,
            (DeviceFault::Overload, ServoFamily::Dynamixel) => x_series::OVERLOAD_ERROR,
            (DeviceFault::Overheat, ServoFamily::Feetech) => feetech::ServoError::OVERHEAT,
            (DeviceFault::Overload, ServoFamily::Feetech) => feetech::ServoError::OVERLOAD,
        };
        servo.faults |= bit;
        self.world.set_command(k, JointCommand::Off);
        self.refresh(k);
    }

    /// Clears every injected fault of joint `k`'s servo (its torque stays off).
    pub fn clear(&mut self, k: usize) {
        if let Some(servo) = self.servos.get_mut(k) {
            servo.faults = 0;
            servo.lost = false;
        }
    }

    /// Bytes from the bus; the servos' answers are appended to `out`, in bus order.
    pub fn on_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &byte in bytes {
            match self.family {
                ServoFamily::Dynamixel => match self.dxl.push(byte) {
                    Some(Ok(())) => {
                        self.packets += 1;
                        if let Some(p) = self.dxl.packet() {
                            let (id, inst, params) = (p.id, p.instruction, p.params.to_vec());
                            self.dynamixel(id, inst, &params, out);
                        }
                    }
                    Some(Err(_)) => self.bad_packets += 1,
                    None => {}
                },
                ServoFamily::Feetech => match self.sts.push(byte) {
                    Some(Ok(())) => {
                        self.packets += 1;
                        if let Some(p) = self.sts.packet() {
                            let (id, inst, params) = (p.id, p.instruction, p.params.to_vec());
                            self.feetech(id, inst, &params, out);
                        }
                    }
                    Some(Err(_)) => self.bad_packets += 1,
                    None => {}
                },
            }
        }
    }

    /// The servos `id` addresses, in bus order.
    fn addressed(&self, id: u8, broadcast: u8) -> Vec<usize> {
        (0..self.servos.len())
            .filter(|&k| !self.servos[k].lost)
            .filter(|&k| id == broadcast || self.id(k) == id)
            .collect()
    }

    /// The servos a sync read lists, in the order listed (the order they answer in).
    fn listed(&self, ids: Option<&[u8]>) -> Vec<usize> {
        (ids.unwrap_or_default().iter())
            .filter_map(|id| (0..self.servos.len()).find(|&k| self.id(k) == *id))
            .filter(|&k| !self.servos[k].lost)
            .collect()
    }

    /// The same servos with ids `ids[k]` on joint `k` (as if each had been given its id
    /// by writing its table), the rest as they were.
    pub fn with_ids(mut self, ids: &[u8]) -> Servos {
        let at = match self.family {
            ServoFamily::Dynamixel => dxl::ID,
            ServoFamily::Feetech => sts::ID,
        };
        for (servo, &id) in self.servos.iter_mut().zip(ids) {
            servo.table[at] = id;
        }
        self
    }

    /// Servo `k`'s id, from its table.
    fn id(&self, k: usize) -> u8 {
        self.servos[k].table[match self.family {
            ServoFamily::Dynamixel => dxl::ID,
            ServoFamily::Feetech => sts::ID,
        }]
    }

    fn dynamixel(&mut self, id: u8, instruction: u8, params: &[u8], out: &mut Vec<u8>) {
        use dynamixel::{BROADCAST_ID, Instruction, StatusCode};
        let word = |at: usize| {
            params
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
        };
        let instruction = dynamixel::Instruction::from_byte(instruction);
        let answering = match instruction {
            Some(Instruction::SyncRead) => self.listed(params.get(4..)),
            _ => self.addressed(id, BROADCAST_ID),
        };
        for k in answering {
            let reply = match instruction {
                Some(Instruction::Ping) => {
                    let t = &self.servos[k].table;
                    Some(Ok(vec![t[0], t[1], t[dxl::FIRMWARE]]))
                }
                Some(Instruction::Read) if id != BROADCAST_ID => match (word(0), word(2)) {
                    (Some(at), Some(n)) => Some(self.read(k, at, n)),
                    _ => Some(Err(StatusCode::DataLength)),
                },
                Some(Instruction::Write) => {
                    let result = match word(0) {
                        Some(at) => self.write(k, at, &params[2..]),
                        None => Err(StatusCode::DataLength),
                    };
                    (id != BROADCAST_ID).then_some(result.map(|()| Vec::new()))
                }
                Some(Instruction::SyncRead) => match (word(0), word(2)) {
                    (Some(at), Some(n)) => Some(self.read(k, at, n)),
                    _ => None,
                },
                Some(Instruction::SyncWrite) => {
                    if let (Some(at), Some(n)) = (word(0), word(2)) {
                        self.sync_write(k, at, n, &params[4..]);
                    }
                    None
                }
                Some(Instruction::Reboot) => {
                    self.servos[k].faults = 0;
                    self.servos[k].table[dxl::TORQUE_ENABLE] = 0;
                    self.world.set_command(k, JointCommand::Off);
                    (id != BROADCAST_ID).then_some(Ok(Vec::new()))
                }
                _ => (id != BROADCAST_ID).then_some(Err(StatusCode::Instruction)),
            };
            let Some(reply) = reply else { continue };
            self.refresh(k);
            let servo = &self.servos[k];
            let alert = if servo.faults != 0 { 0x80 } else { 0 };
            let (code, data) = match reply {
                Ok(data) => (0, data),
                Err(code) => (code as u8, Vec::new()),
            };
            let mut packet = [0u8; dynamixel::MAX_PACKET];
            let error = dynamixel::StatusError(alert | code);
            if let Ok(n) = dynamixel::encode_status(servo.table[dxl::ID], error, &data, &mut packet)
            {
                out.extend_from_slice(&packet[..n]);
            }
        }
    }

    fn feetech(&mut self, id: u8, instruction: u8, params: &[u8], out: &mut Vec<u8>) {
        use feetech::{BROADCAST_ID, Instruction};
        let instruction = Instruction::from_byte(instruction);
        let byte = |at: usize| params.get(at).map(|b| usize::from(*b));
        let answering = match instruction {
            Some(Instruction::SyncRead) => self.listed(params.get(2..)),
            _ => self.addressed(id, BROADCAST_ID),
        };
        for k in answering {
            let reply = match instruction {
                Some(Instruction::Ping) => Some(Ok(Vec::new())),
                Some(Instruction::Read) if id != BROADCAST_ID => match (byte(0), byte(1)) {
                    (Some(at), Some(n)) => Some(self.read(k, at, n)),
                    _ => None,
                },
                Some(Instruction::Write) => {
                    let result = match byte(0) {
                        Some(at) => self.write(k, at, &params[1..]),
                        None => Ok(()),
                    };
                    (id != BROADCAST_ID).then_some(result.map(|()| Vec::new()))
                }
                Some(Instruction::SyncRead) => match (byte(0), byte(1)) {
                    (Some(at), Some(n)) => Some(self.read(k, at, n)),
                    _ => None,
                },
                Some(Instruction::SyncWrite) => {
                    if let (Some(at), Some(n)) = (byte(0), byte(1)) {
                        self.sync_write(k, at, n, &params[2..]);
                    }
                    None
                }
                _ => None,
            };
            let Some(reply) = reply else { continue };
            self.refresh(k);
            let servo = &self.servos[k];
            // Feetech servos have no instruction errors: a bad one answers no data.
            let data = reply.unwrap_or_default();
            let mut packet = [0u8; feetech::MAX_PACKET];
            if let Ok(n) = feetech::encode(servo.table[sts::ID], servo.faults, &data, &mut packet) {
                out.extend_from_slice(&packet[..n]);
            }
        }
    }

    /// Servo `k`'s part of a sync write of `n` bytes at `at`: its entry (id, then the
    /// bytes) among `entries`, if it has one. Sync writes are not answered.
    fn sync_write(&mut self, k: usize, at: usize, n: usize, entries: &[u8]) {
        let id = self.id(k);
        let data = (entries.chunks_exact(n + 1))
            .find(|c| c[0] == id)
            .map(|c| c[1..].to_vec());
        if let Some(data) = data {
            let _ = self.write(k, at, &data);
        }
    }

    /// `n` bytes of servo `k`'s table from `at`, fresh from the simulator.
    fn read(&mut self, k: usize, at: usize, n: usize) -> Result<Vec<u8>, dynamixel::StatusCode> {
        self.refresh(k);
        (self.servos[k].table.get(at..at + n))
            .map(<[u8]>::to_vec)
            .ok_or(dynamixel::StatusCode::Access)
    }

    /// Writes `data` at `at` of servo `k`'s table, then acts on it.
    fn write(&mut self, k: usize, at: usize, data: &[u8]) -> Result<(), dynamixel::StatusCode> {
        let family = self.family;
        let servo = &mut self.servos[k];
        let (read_only, torque_at) = match family {
            ServoFamily::Dynamixel => (dxl::READ_ONLY, dxl::TORQUE_ENABLE),
            ServoFamily::Feetech => (sts::READ_ONLY, sts::TORQUE_ENABLE),
        };
        let end = at + data.len();
        let torque_on = servo.table[torque_at] != 0;
        let eeprom = family == ServoFamily::Dynamixel && at < dxl::EEPROM_END && torque_on;
        if end > servo.table.len() || end > read_only || eeprom || data.is_empty() {
            return Err(dynamixel::StatusCode::Access);
        }
        servo.table[at..end].copy_from_slice(data);
        // A servo with a hardware fault keeps its torque off.
        if servo.faults != 0 {
            servo.table[torque_at] = 0;
        }
        self.apply(k);
        Ok(())
    }

    /// Sends servo `k`'s torque and goal to the simulator.
    fn apply(&mut self, k: usize) {
        let (t, travel) = (&self.servos[k].table, self.travel[k]);
        let command = match self.family {
            ServoFamily::Dynamixel if t[dxl::TORQUE_ENABLE] != 0 => match t[dxl::OPERATING_MODE] {
                0 => JointCommand::Torque {
                    tau: f64::from(i16_at(t, dxl::GOAL_CURRENT))
                        * x_series::CURRENT_UNIT_A
                        * x_series::TORQUE_PER_A,
                },
                1 => JointCommand::Velocity {
                    dq: f64::from(i32_at(t, dxl::GOAL_VELOCITY))
                        * x_series::VELOCITY_UNIT_RAD_S
                        * travel
                        / TAU,
                },
                // Its position loop, as stiff as its P gain makes it.
                _ => {
                    let p_gain =
                        u16::from_le_bytes([t[dxl::POSITION_P_GAIN], t[dxl::POSITION_P_GAIN + 1]]);
                    let effort = self.effort[k];
                    JointCommand::Impedance {
                        q: joint_position(f64::from(i32_at(t, dxl::GOAL_POSITION)), travel),
                        dq: 0.0,
                        kp: effort * x_series::stiffness_per_nm(p_gain),
                        kd: effort * self.world.config().actuator.position_kd_per_nm,
                        tau_ff: 0.0,
                    }
                }
            },
            ServoFamily::Feetech if t[sts::TORQUE_ENABLE] != 0 => {
                let goal = u16::from_le_bytes([t[sts::GOAL_POSITION], t[sts::GOAL_POSITION + 1]]);
                JointCommand::Position {
                    q: joint_position(f64::from(goal), travel),
                }
            }
            _ => JointCommand::Off,
        };
        self.world.set_command(k, command);
    }

    /// Writes joint `k`'s state into its servo's table.
    fn refresh(&mut self, k: usize) {
        let (q, dq) = self.world.joint(k);
        let torque = self.world.motor_torques().get(k).copied().unwrap_or(0.0);
        let servo = &mut self.servos[k];
        let travel = self.travel[k];
        let counts = CENTRE + q * COUNTS / travel;
        let moving = u8::from(dq.abs() > 0.01);
        let hot = servo.faults != 0;
        let t = &mut servo.table;
        match self.family {
            ServoFamily::Dynamixel => {
                t[dxl::HARDWARE_ERROR] = servo.faults;
                if hot {
                    t[dxl::TORQUE_ENABLE] = 0;
                }
                let current = torque / x_series::TORQUE_PER_A / x_series::CURRENT_UNIT_A;
                put(
                    t,
                    dxl::PRESENT_CURRENT,
                    &saturate_i16(current).to_le_bytes(),
                );
                let velocity = (dq * TAU / travel / x_series::VELOCITY_UNIT_RAD_S).round() as i32;
                put(t, dxl::PRESENT_VELOCITY, &velocity.to_le_bytes());
                put(
                    t,
                    dxl::PRESENT_POSITION,
                    &(counts.round() as i32).to_le_bytes(),
                );
                put(t, dxl::PRESENT_VOLTAGE, &120u16.to_le_bytes());
                t[dxl::PRESENT_TEMPERATURE] = if hot { 80 } else { 36 };
                t[dxl::MOVING] = moving;
            }
            ServoFamily::Feetech => {
                if hot {
                    t[sts::TORQUE_ENABLE] = 0;
                }
                let position = counts.round().clamp(0.0, COUNTS - 1.0) as u16;
                put(t, sts::PRESENT_POSITION, &position.to_le_bytes());
                let speed = (dq * COUNTS / travel).round() as i32;
                let speed = feetech::to_sign_magnitude(speed, 15);
                put(t, sts::PRESENT_SPEED, &speed.to_le_bytes());
                let load = (torque / sts_table::STALL_TORQUE_NM * 1000.0).round() as i32;
                let load = feetech::to_sign_magnitude(load.clamp(-1000, 1000), 10);
                put(t, sts::PRESENT_LOAD, &load.to_le_bytes());
                t[sts::PRESENT_VOLTAGE] = 74;
                t[sts::PRESENT_TEMPERATURE] = if hot { 80 } else { 36 };
                t[sts::MOVING] = moving;
                let current = (torque.abs() / sts_table::STALL_TORQUE_NM * 1000.0)
                    .round()
                    .min(1000.0) as u16;
                put(t, sts::PRESENT_CURRENT, &current.to_le_bytes());
            }
        }
    }
}

fn table_size(family: ServoFamily) -> usize {
    match family {
        ServoFamily::Dynamixel => x_series::TABLE_SIZE,
        ServoFamily::Feetech => sts_table::TABLE_SIZE,
    }
}

/// Encoder counts a turn and the count at the joint's zero: the same on both families.
const COUNTS: f64 = x_series::COUNTS_PER_TURN;
const CENTRE: f64 = x_series::CENTRE_COUNT;

/// The joint position of encoder count `counts` on a joint that moves `travel` a turn.
fn joint_position(counts: f64, travel: f64) -> f64 {
    (counts - CENTRE) * travel / COUNTS
}

fn put(table: &mut [u8], at: usize, bytes: &[u8]) {
    table[at..at + bytes.len()].copy_from_slice(bytes);
}

fn i16_at(t: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([t[at], t[at + 1]])
}

fn i32_at(t: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([t[at], t[at + 1], t[at + 2], t[at + 3]])
}

fn saturate_i16(x: f64) -> i16 {
    x.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use embody_model::robots;
    use embody_sim::{Environment, SimConfig};

    use super::*;

    fn servos(family: ServoFamily) -> Servos {
        let model = robots::load("arm7", Some(false)).expect("arm7");
        let world = World::new(
            Arc::new(model),
            &Environment::default(),
            SimConfig::default(),
        );
        Servos::new(world, family)
    }

    /// What the servos answer to one packet, as Dynamixel packets: (id, error, data).
    fn dxl_exchange(bus: &mut Servos, packet: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
        let mut out = Vec::new();
        bus.on_bytes(packet, &mut out);
        let mut reader = dynamixel::PacketReader::default();
        let mut answers = Vec::new();
        for b in out {
            if reader.push(b) == Some(Ok(())) {
                let p = reader.packet().expect("a packet");
                let (error, data) = p.status().expect("a status").expect("an error byte");
                answers.push((p.id, error.0, data.to_vec()));
            }
        }
        answers
    }

    fn sts_exchange(bus: &mut Servos, packet: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
        let mut out = Vec::new();
        bus.on_bytes(packet, &mut out);
        let mut reader = feetech::PacketReader::default();
        let mut answers = Vec::new();
        for b in out {
            if reader.push(b) == Some(Ok(())) {
                let p = reader.packet().expect("a packet");
                answers.push((p.id, p.instruction, p.params.to_vec()));
            }
        }
        answers
    }

    fn counts(q: f64) -> i32 {
        (CENTRE + q * COUNTS / TAU).round() as i32
    }

    #[test]
    fn dynamixel_servos_ping_follow_their_goals_and_answer_a_sync_read_in_turn() {
        let mut bus = servos(ServoFamily::Dynamixel);
        let mut packet = [0u8; dynamixel::MAX_PACKET];
        let n = dynamixel::ping(dynamixel::BROADCAST_ID, &mut packet).expect("fits");
        let answers = dxl_exchange(&mut bus, &packet[..n]);
        // arm7: seven joints and the gripper's.
        assert_eq!(answers.len(), 8);
        assert_eq!(answers[2], (3, 0, vec![0xFC, 0x03, 52]));

        let goals = [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, 0.0, 0.0];
        let torque_on: Vec<(u8, [u8; 1])> = (1..=8).map(|id| (id, [1u8])).collect();
        let writes: Vec<(u8, &[u8])> = torque_on.iter().map(|(id, d)| (*id, &d[..])).collect();
        let n = dynamixel::sync_write(64, 1, &writes, &mut packet).expect("fits");
        assert!(
            dxl_exchange(&mut bus, &packet[..n]).is_empty(),
            "a sync write is not answered"
        );
        let goal_bytes: Vec<(u8, [u8; 4])> = (goals.iter().enumerate())
            .map(|(k, q)| (k as u8 + 1, counts(*q).to_le_bytes()))
            .collect();
        let writes: Vec<(u8, &[u8])> = goal_bytes.iter().map(|(id, d)| (*id, &d[..])).collect();
        let n = dynamixel::sync_write(116, 4, &writes, &mut packet).expect("fits");
        dxl_exchange(&mut bus, &packet[..n]);
        bus.advance(2.0);

        let n = dynamixel::sync_read(132, 4, &[7, 2, 5], &mut packet).expect("fits");
        let answers = dxl_exchange(&mut bus, &packet[..n]);
        // Each listed servo answers, in the order listed.
        let ids: Vec<u8> = answers.iter().map(|a| a.0).collect();
        assert_eq!(ids, vec![7, 2, 5]);
        for (id, error, data) in answers {
            assert_eq!(error, 0);
            let present = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let goal = counts(goals[usize::from(id) - 1]);
            assert!(
                (present - goal).abs() <= 25,
                "servo {id}: at {present}, goal {goal}"
            );
        }
    }

    #[test]
    fn dynamixel_refuses_what_a_servo_refuses() {
        let mut bus = servos(ServoFamily::Dynamixel);
        let mut packet = [0u8; dynamixel::MAX_PACKET];
        // Present position is read only.
        let n = dynamixel::write(1, 132, &[0, 0, 0, 0], &mut packet).expect("fits");
        assert_eq!(dxl_exchange(&mut bus, &packet[..n]), vec![(1, 7, vec![])]);
        // The EEPROM is locked while the torque is on.
        let n = dynamixel::write(1, 64, &[1], &mut packet).expect("fits");
        assert_eq!(dxl_exchange(&mut bus, &packet[..n]), vec![(1, 0, vec![])]);
        let n = dynamixel::write(1, 11, &[1], &mut packet).expect("fits");
        assert_eq!(dxl_exchange(&mut bus, &packet[..n]), vec![(1, 7, vec![])]);
        // An unknown instruction.
        let n = dynamixel::encode(1, 0x7F, &[], &mut packet).expect("fits");
        assert_eq!(dxl_exchange(&mut bus, &packet[..n]), vec![(1, 2, vec![])]);
        // Garbage is counted, never answered.
        let mut out = Vec::new();
        bus.on_bytes(
            &[0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00],
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(bus.bad_packets, 1);
    }

    #[test]
    fn an_overheated_dynamixel_alerts_drops_its_torque_until_rebooted() {
        let mut bus = servos(ServoFamily::Dynamixel);
        let mut packet = [0u8; dynamixel::MAX_PACKET];
        let n = dynamixel::write(4, 64, &[1], &mut packet).expect("fits");
        dxl_exchange(&mut bus, &packet[..n]);
        bus.inject(3, DeviceFault::Overheat);
        let n = dynamixel::read(4, 64, 7, &mut packet).expect("fits");
        let answers = dxl_exchange(&mut bus, &packet[..n]);
        let (_, error, data) = &answers[0];
        assert_eq!(*error, 0x80, "the alert bit");
        assert_eq!(data[0], 0, "torque off");
        assert_eq!(
            data[6],
            x_series::OVERHEATING_ERROR,
            "hardware error status"
        );
        let n = dynamixel::encode(4, dynamixel::Instruction::Reboot as u8, &[], &mut packet)
            .expect("fits");
        assert_eq!(dxl_exchange(&mut bus, &packet[..n]), vec![(4, 0, vec![])]);
        bus.inject(5, DeviceFault::Lost);
        let n = dynamixel::ping(6, &mut packet).expect("fits");
        assert!(dxl_exchange(&mut bus, &packet[..n]).is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any packet, well framed or not, to any servo: answered or not, never a panic.
        #[test]
        fn servos_take_any_packet(
            dynamixel_bus in proptest::bool::ANY,
            id in proptest::prelude::any::<u8>(),
            instruction in proptest::sample::select(vec![1u8, 2, 3, 4, 5, 6, 8, 0x10, 0x55, 0x82, 0x83, 0x8A, 0x92, 0x93, 0x7F]),
            params in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let family = if dynamixel_bus { ServoFamily::Dynamixel } else { ServoFamily::Feetech };
            let mut bus = servos(family);
            let mut packet = [0u8; dynamixel::MAX_PACKET];
            let n = match family {
                ServoFamily::Dynamixel => dynamixel::encode(id, instruction, &params, &mut packet),
                ServoFamily::Feetech => feetech::encode(id, instruction, &params, &mut packet)
                    .map_err(|_| dynamixel::DxlError::TooLong),
            }
            .expect("fits");
            let mut out = Vec::new();
            bus.on_bytes(&noise, &mut out);
            bus.on_bytes(&packet[..n], &mut out);
            bus.advance(0.002);
        }
    }

    #[test]
    fn feetech_servos_follow_their_goals_and_flag_overload() {
        let mut bus = servos(ServoFamily::Feetech);
        let mut packet = [0u8; feetech::MAX_PACKET];
        let n = feetech::ping(2, &mut packet).expect("fits");
        assert_eq!(sts_exchange(&mut bus, &packet[..n]), vec![(2, 0, vec![])]);
        let n = feetech::read(2, 3, 2, &mut packet).expect("fits");
        assert_eq!(
            sts_exchange(&mut bus, &packet[..n]),
            vec![(2, 0, vec![0x09, 0x03])]
        );

        let goal = counts(-0.4) as u16;
        let n = feetech::write(2, 40, &[1], &mut packet).expect("fits");
        sts_exchange(&mut bus, &packet[..n]);
        let n = feetech::sync_write(42, 2, &[(2, &goal.to_le_bytes())], &mut packet).expect("fits");
        assert!(sts_exchange(&mut bus, &packet[..n]).is_empty());
        bus.advance(2.0);
        let n = feetech::sync_read(56, 2, &[2], &mut packet).expect("fits");
        let answers = sts_exchange(&mut bus, &packet[..n]);
        let present = u16::from_le_bytes([answers[0].2[0], answers[0].2[1]]);
        assert!(
            (i32::from(present) - i32::from(goal)).abs() <= 25,
            "at {present}, goal {goal}"
        );

        bus.inject(1, DeviceFault::Overload);
        let n = feetech::read(2, 40, 1, &mut packet).expect("fits");
        let answers = sts_exchange(&mut bus, &packet[..n]);
        assert_eq!(answers, vec![(2, feetech::ServoError::OVERLOAD, vec![0])]);
    }
}
