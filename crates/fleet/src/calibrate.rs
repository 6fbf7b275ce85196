//! The calibration procedure: finds each joint's encoder zero and motor direction by
//! driving it into both hard stops, as on a real unit. Every other joint holds where it
//! is; the joint follows a slow position ramp with stiff gains until it stalls against a
//! stop (the tracking error says the stop pushes back, the speed says it has settled);
//! then the other way, then back to mid-range, where it holds for the next joint.
//!
//! From the raw positions of the two stops, `p+` and `p−`, and the model's limits: the
//! distance between them must be the joint's range; a motor turning with its joint stalls
//! driving + at the upper stop (`zero = mean(p+ − upper, p− − lower)`), one turning
//! against it at the lower (`zero = mean(p+ + lower, p− + upper)`). The two answers
//! differ by `upper + lower`: where the stops sit off-centre, only one of them is a
//! plausible mounting error and the direction is measured; where the range is centred,
//! the stops cannot tell and the direction is taken as +1 (said so in the result).
//! The positions must be raw: the unit's stored calibration is cleared first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use embody_hal::{Clock, CommandFrame, HalError, JointCommand, Robot, SensorFrame, SystemClock};
use embody_model::Model;

use crate::config::{Calibration, JointCalibration};
use crate::error::FleetError;

/// Raw motor positions where the joint stalled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stops {
    /// Driving the motor +.
    pub plus: f64,
    /// Driving it −.
    pub minus: f64,
}

/// How a joint's direction was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionFrom {
    /// From where the stops are.
    Stops,
    /// The range is centred: the stops cannot tell; taken as +1.
    Assumed,
}

/// One joint's calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct JointResult {
    /// The joint.
    pub name: String,
    /// The stops found.
    pub stops: Stops,
    /// Motor position at the joint's zero.
    pub zero_offset_rad: f64,
    /// +1, or −1 when the motor turns against the joint.
    pub direction: i8,
    /// How the direction was found.
    pub direction_from: DirectionFrom,
}

impl std::fmt::Display for JointResult {
    /// `zero +0.01234 rad, direction -1`, and whether the direction was assumed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "zero {:+.5} rad, direction {:+}",
            self.zero_offset_rad, self.direction
        )?;
        if self.direction_from == DirectionFrom::Assumed {
            f.write_str(" (assumed: its range is centred)")?;
        }
        Ok(())
    }
}

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// The robot failed.
    #[error("the robot: {0}")]
    Robot(String),
    /// A joint never stalled.
    #[error("{joint}: no stop found driving the motor {sign} within {seconds:.0} s")]
    NoStop {
        /// The joint.
        joint: String,
        /// `+` or `−`.
        sign: char,
        /// How long it tried.
        seconds: f64,
    },
    /// The stops are not the joint's range apart.
    #[error(
        "{joint}: the stops are {measured:.4} apart, its range is {expected:.4} (blocked, slipping, or the wrong joint?)"
    )]
    Span {
        /// The joint.
        joint: String,
        /// Distance between the stops found.
        measured: f64,
        /// The model's range.
        expected: f64,
    },
    /// An option the procedure cannot run with.
    #[error("calibration option {name} = {value}: must be above {above} and at most {max}")]
    Option {
        /// The option.
        name: &'static str,
        /// Its value.
        value: f64,
        /// It must be above this.
        above: f64,
        /// And at most this.
        max: f64,
    },
    /// Neither direction gives a plausible zero.
    #[error(
        "{joint}: zero would be {plus:+.3} (motor with the joint) or {minus:+.3} (against it), both beyond ±{max:.3}"
    )]
    Offset {
        /// The joint.
        joint: String,
        /// The zero if the motor turns with the joint.
        plus: f64,
        /// If against.
        minus: f64,
        /// The largest mounting error allowed.
        max: f64,
    },
}

/// Zero and direction of a joint with limits `lower..upper` from its `stops`; `max_zero`
/// bounds the mounting error.
pub fn solve(
    name: &str,
    lower: f64,
    upper: f64,
    stops: Stops,
    max_zero: f64,
) -> Result<JointResult, CalibrationError> {
    let expected = upper - lower;
    let measured = stops.plus - stops.minus;
    // Pressing into a stop compresses it a little; more than this is not the range.
    if (measured - expected).abs() > 0.02 * expected + 0.005 {
        return Err(CalibrationError::Span {
            joint: name.to_owned(),
            measured,
            expected,
        });
    }
    let with = 0.5 * ((stops.plus - upper) + (stops.minus - lower));
    let against = 0.5 * ((stops.plus + lower) + (stops.minus + upper));
    let (zero_offset_rad, direction, direction_from) =
        match (with.abs() <= max_zero, against.abs() <= max_zero) {
            (true, false) => (with, 1, DirectionFrom::Stops),
            (false, true) => (against, -1, DirectionFrom::Stops),
            (true, true) => (with, 1, DirectionFrom::Assumed),
            (false, false) => {
                return Err(CalibrationError::Offset {
                    joint: name.to_owned(),
                    plus: with,
                    minus: against,
                    max: max_zero,
                });
            }
        };
    Ok(JointResult {
        name: name.to_owned(),
        stops,
        zero_offset_rad,
        direction,
        direction_from,
    })
}

/// How to drive the joints.
#[derive(Clone, Debug)]
pub struct Options {
    /// Seek speed as a share of the joint's velocity limit.
    pub speed: f64,
    /// Stall torque as a share of the joint's effort limit.
    pub stall: f64,
    /// Largest mounting error expected (rad; a tenth of it for prismatic joints).
    pub max_zero: f64,
    /// Command period (s).
    pub period_s: f64,
}

impl Options {
    /// Refuses settings the procedure cannot run with: shares within (0, 1], a mounting
    /// error within (0, π] rad, a period of 0.1 to 100 ms.
    pub fn check(&self) -> Result<(), CalibrationError> {
        let bounds = [
            ("speed", self.speed, 0.0, 1.0),
            ("stall", self.stall, 0.0, 1.0),
            ("max_zero", self.max_zero, 0.0, std::f64::consts::PI),
            ("period_s", self.period_s, 1e-4, 0.1),
        ];
        for (name, value, above, max) in bounds {
            if !(value > above && value <= max) {
                return Err(CalibrationError::Option {
                    name,
                    value,
                    above,
                    max,
                });
            }
        }
        Ok(())
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            speed: 0.5,
            stall: 0.5,
            max_zero: 0.5,
            period_s: 0.002,
        }
    }
}

/// The robot, one command and one reading per period.
struct Drive<'a, R: Robot> {
    robot: &'a mut R,
    command: CommandFrame,
    sensors: SensorFrame,
    clock: SystemClock,
    period_s: f64,
    /// Readings missed in a row.
    late: usize,
}

/// Longest the robot may leave the procedure without a reading (s).
const MAX_SILENCE_S: f64 = 0.1;

impl<R: Robot> Drive<'_, R> {
    fn tick(&mut self) -> Result<(), CalibrationError> {
        let now = self.clock.now();
        self.command.stamp = now;
        self.command.seq += 1;
        self.robot
            .write(now, &self.command)
            .map_err(|e| CalibrationError::Robot(e.to_string()))?;
        match self.robot.read(self.clock.now(), &mut self.sensors) {
            Ok(()) => self.late = 0,
            // A reading a little late (a busy host) keeps the last one, as the loop
            // does; a robot silent for longer stops the procedure.
            Err(HalError::Timeout) if (self.late + 1) as f64 * self.period_s <= MAX_SILENCE_S => {
                self.late += 1;
            }
            Err(e) => return Err(CalibrationError::Robot(e.to_string())),
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(self.period_s));
        Ok(())
    }

    fn q(&self, j: usize) -> f64 {
        self.sensors.joints[j].q
    }
}

/// Joint `j`'s gains: stiff, and the tracking error at which it has stalled.
struct Gains {
    kp: f64,
    kd: f64,
    stall_error: f64,
}

fn gains(effort: f64, stall: f64) -> Gains {
    let effort = effort.clamp(1.0, 1e4);
    let kp = 20.0 * effort;
    Gains {
        kp,
        kd: 0.5 * effort,
        stall_error: stall * effort / kp,
    }
}

/// Ramps joint `j`'s target at `v` until it stalls (`Some`: the raw position) or, with
/// `to`, until it gets there (`None`).
fn ramp<R: Robot>(
    drive: &mut Drive<'_, R>,
    j: usize,
    g: &Gains,
    v: f64,
    to: Option<f64>,
    timeout_s: f64,
) -> Result<Option<f64>, CalibrationError> {
    let mut target = drive.q(j);
    let mut settled = 0;
    let mut behind = 0.0;
    let ticks = (timeout_s / drive.period_s) as usize;
    let step = v.abs() * drive.period_s;
    for _ in 0..ticks {
        match to {
            Some(end) if (end - target).abs() <= step => {
                drive.command.joints[j] = hold(end, g);
                drive.tick()?;
                return Ok(None);
            }
            Some(end) => target += step * (end - target).signum(),
            // Pressing on something: the target waits, so the push stays at the stall
            // torque instead of winding up.
            None if behind > g.stall_error => {}
            None => target += step * v.signum(),
        }
        drive.command.joints[j] = JointCommand::Impedance {
            q: target,
            dq: if to.is_some() || behind > g.stall_error {
                0.0
            } else {
                v
            },
            kp: g.kp,
            kd: g.kd,
            tau_ff: 0.0,
        };
        drive.tick()?;
        behind = (target - drive.q(j)) * v.signum();
        let still = drive.sensors.joints[j].dq.abs() < 0.05 * v.abs();
        settled = if to.is_none() && behind > g.stall_error && still {
            settled + 1
        } else {
            0
        };
        // Pressed and still for 50 ms: the stop.
        if settled >= (0.05 / drive.period_s) as usize {
            return Ok(Some(drive.q(j)));
        }
    }
    Ok(None)
}

fn hold(q: f64, g: &Gains) -> JointCommand {
    JointCommand::Impedance {
        q,
        dq: 0.0,
        kp: g.kp,
        kd: g.kd,
        tau_ff: 0.0,
    }
}

/// Runs the procedure on `robot` (raw positions: no calibration applied) for `model`'s
/// actuated joints, in order; `progress` hears each step.
pub fn calibrate<R: Robot>(
    robot: &mut R,
    model: &Model,
    options: &Options,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<JointResult>, CalibrationError> {
    options.check()?;
    let joints: Vec<_> = model
        .actuated_joints()
        .map(|j| model.joints[j.0].clone())
        .collect();
    let mut drive = Drive {
        command: CommandFrame::new(joints.len()),
        sensors: SensorFrame::for_robot(robot.capabilities()),
        robot,
        clock: SystemClock,
        period_s: options.period_s,
        late: 0,
    };
    drive.tick()?;
    let all: Vec<Gains> = joints
        .iter()
        .map(|j| gains(j.limits.effort, options.stall))
        .collect();
    // Everything holds where it lies.
    for (k, g) in all.iter().enumerate() {
        drive.command.joints[k] = hold(drive.q(k), g);
    }
    for _ in 0..(0.3 / options.period_s) as usize {
        drive.tick()?;
    }
    let mut out = Vec::new();
    for (k, joint) in joints.iter().enumerate() {
        let g = &all[k];
        let (lower, upper) = (joint.limits.lower, joint.limits.upper);
        let range = (upper - lower).min(100.0);
        let v = options.speed * joint.limits.velocity.clamp(0.01, 10.0);
        let timeout = 1.5 * (range + 2.0 * options.max_zero) / v + 2.0;
        let mut stop = |drive: &mut Drive<'_, R>, sign: f64| {
            progress(&format!(
                "{}: driving {} to its stop",
                joint.name,
                if sign > 0.0 { '+' } else { '−' }
            ));
            ramp(drive, k, g, sign * v, None, timeout)?.ok_or(CalibrationError::NoStop {
                joint: joint.name.clone(),
                sign: if sign > 0.0 { '+' } else { '−' },
                seconds: timeout,
            })
        };
        let plus = stop(&mut drive, 1.0)?;
        let minus = stop(&mut drive, -1.0)?;
        let max_zero = match joint.kind {
            embody_model::JointKind::Prismatic(_) => 0.1 * options.max_zero,
            _ => options.max_zero,
        };
        let result = solve(&joint.name, lower, upper, Stops { plus, minus }, max_zero)?;
        progress(&format!("{}: {result}", joint.name));
        // Back to mid-range, to hold there while the others move.
        ramp(&mut drive, k, g, v, Some(0.5 * (plus + minus)), timeout)?;
        out.push(result);
    }
    Ok(out)
}

/// SHA-256 (hex) of the joints' values as the calibration file holds them.
pub fn joints_hash(joints: &BTreeMap<String, JointCalibration>) -> String {
    let text = toml::to_string(joints).unwrap_or_default();
    crate::hex(&embody_fwimage::sha2_digest(text.as_bytes()))
}

/// The calibration layer `results` make, signed by `tool` and hashed.
pub fn to_calibration(results: &[JointResult], tool: &str) -> Calibration {
    let joints: BTreeMap<String, JointCalibration> = results
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                JointCalibration {
                    // Rounded to 0.1 µrad: the file stays readable, the encoder resolves less.
                    zero_offset_rad: (r.zero_offset_rad * 1e7).round() / 1e7,
                    direction: r.direction,
                },
            )
        })
        .collect();
    Calibration {
        tool: tool.to_owned(),
        hash: joints_hash(&joints),
        joints,
    }
}

/// Writes `calibration` as the unit's calibration layer (`calibration/<serial>.toml`
/// under `dir`, refused for a serial that is not a plain name); its path.
pub fn write_calibration(
    dir: &Path,
    serial: &str,
    calibration: &Calibration,
) -> Result<PathBuf, FleetError> {
    crate::name::check("a unit serial", serial)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| FleetError::Io { path, source }
    };
    let folder = dir.join("calibration");
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let path = folder.join(format!("{serial}.toml"));
    let body = toml::to_string(calibration)
        .map_err(std::io::Error::other)
        .map_err(io(&path))?;
    let text = format!(
        "# Written by the calibration procedure (`embody calibrate {serial}`); do not edit:\n\
         # `embody config check` compares the joints with the hash.\n{body}"
    );
    // Through a temporary file: a crash never leaves half a calibration.
    let partial = path.with_extension("toml.partial");
    std::fs::write(&partial, text).map_err(io(&partial))?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_the_procedure_cannot_run_with_are_refused() {
        assert!(Options::default().check().is_ok());
        for bad in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e300] {
            for options in [
                Options {
                    speed: bad,
                    ..Options::default()
                },
                Options {
                    stall: bad,
                    ..Options::default()
                },
                Options {
                    max_zero: bad,
                    ..Options::default()
                },
                Options {
                    period_s: bad,
                    ..Options::default()
                },
            ] {
                let e = options.check().expect_err("refused");
                assert!(e.to_string().starts_with("calibration option "), "{e}");
            }
        }
    }

    #[test]
    fn stops_give_zero_and_direction_where_the_range_is_off_centre() {
        // A joint of range [−3.07, −0.07] whose motor reads 0.2 at the joint's zero.
        let (lower, upper) = (-3.07, -0.07);
        let with = Stops {
            plus: upper + 0.2,
            minus: lower + 0.2,
        };
        let r = solve("j4", lower, upper, with, 0.5).expect("solves");
        assert_eq!((r.direction, r.direction_from), (1, DirectionFrom::Stops));
        assert!((r.zero_offset_rad - 0.2).abs() < 1e-12);
        // The same motor turned round: p = −q + 0.2.
        let against = Stops {
            plus: -lower + 0.2,
            minus: -upper + 0.2,
        };
        let r = solve("j4", lower, upper, against, 0.5).expect("solves");
        assert_eq!((r.direction, r.direction_from), (-1, DirectionFrom::Stops));
        assert!((r.zero_offset_rad - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_centred_range_leaves_the_direction_assumed_and_a_bad_span_is_refused() {
        let s = Stops {
            plus: 2.9 + 0.1,
            minus: -2.9 + 0.1,
        };
        let r = solve("j1", -2.9, 2.9, s, 0.5).expect("solves");
        assert_eq!(r.direction_from, DirectionFrom::Assumed);
        assert!((r.zero_offset_rad - 0.1).abs() < 1e-12);
        let short = Stops {
            plus: 1.0,
            minus: -2.9,
        };
        assert!(matches!(
            solve("j1", -2.9, 2.9, short, 0.5),
            Err(CalibrationError::Span { .. })
        ));
        let far = Stops {
            plus: 2.9 + 2.0,
            minus: -2.9 + 2.0,
        };
        assert!(matches!(
            solve("j1", -2.9, 2.9, far, 0.5),
            Err(CalibrationError::Offset { .. })
        ));
    }
}
