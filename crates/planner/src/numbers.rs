//! The numbers a task file may give: each numeric key's range, and why a value outside
//! it is refused, in words a user reads (`seconds must be a finite number of seconds,
//! not inf`). Each check returns the value or the reason; the checker places the reason
//! at the key's line. Nothing here panics, whatever the number.

/// The longest a step may wait, hold or move, and the longest timeout (s): one day.
pub const MAX_STEP_S: f64 = 86_400.0;

/// The slowest a move may go: this fraction of the joints' bounds.
pub const MIN_SPEED: f64 = 0.01;

/// The largest force or effort threshold (N or N·m).
pub const MAX_FORCE_N: f64 = 1e6;

/// The most attempts a `retry` may make.
pub const MAX_ATTEMPTS: u32 = 1000;

/// The largest roll, pitch or yaw (rad): one turn either way.
pub const MAX_ANGLE_RAD: f64 = std::f64::consts::TAU;

/// `value` as a user would write it: `nan`, `inf`, `1e300`, `0.5`, `-1`.
pub fn shown(value: f64) -> String {
    let magnitude = value.abs();
    if value.is_nan() {
        "nan".to_owned()
    } else if magnitude.is_finite() && (magnitude >= 1e6 || (magnitude > 0.0 && magnitude < 1e-4)) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// Three numbers as a user would write them: `[0.45, 0, nan]`.
pub fn shown3(values: [f64; 3]) -> String {
    format!(
        "[{}, {}, {}]",
        shown(values[0]),
        shown(values[1]),
        shown(values[2])
    )
}

/// `value` if finite; else why not (`{key} must be a finite number{unit}, not inf`).
pub fn finite(key: &str, value: f64, unit: &str) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!(
            "{key} must be a finite number{unit}, not {}",
            shown(value)
        ))
    }
}

/// A wait, hold or timeout (s): finite, at least 0 (more than 0 when `positive`), at
/// most [`MAX_STEP_S`].
pub fn seconds(key: &str, value: f64, positive: bool) -> Result<f64, String> {
    let value = finite(key, value, " of seconds")?;
    if positive && value <= 0.0 {
        return Err(format!("{key} must be > 0, not {}", shown(value)));
    }
    if value < 0.0 {
        return Err(format!("{key} must be ≥ 0, not {}", shown(value)));
    }
    if value > MAX_STEP_S {
        return Err(format!(
            "{key} = {} is more than a day ({MAX_STEP_S} s), the longest a step may last",
            shown(value)
        ));
    }
    Ok(value)
}

/// A move's speed: a fraction of the joints' bounds in [[`MIN_SPEED`], 1].
pub fn speed(value: f64) -> Result<f64, String> {
    let value = finite("speed", value, "")?;
    if (MIN_SPEED..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "speed is a fraction of the joint bounds, in [{MIN_SPEED}, 1], not {}",
            shown(value)
        ))
    }
}

/// A force or effort threshold (N or N·m): more than 0, at most [`MAX_FORCE_N`].
pub fn force(key: &str, value: f64) -> Result<f64, String> {
    let value = finite(key, value, " of newtons")?;
    if value <= 0.0 {
        return Err(format!("{key} must be > 0, not {}", shown(value)));
    }
    if value > MAX_FORCE_N {
        return Err(format!(
            "{key} = {} N is more than {} N, the largest force a task may wait for",
            shown(value),
            shown(MAX_FORCE_N)
        ));
    }
    Ok(value)
}

/// A tolerance on a joint position (rad or m): finite and more than 0.
pub fn tolerance(value: f64) -> Result<f64, String> {
    let value = finite("tolerance", value, "")?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(format!("tolerance must be > 0, not {}", shown(value)))
    }
}

/// A target position in the world (m): three finite numbers (how far is for IK to say).
pub fn position(value: [f64; 3]) -> Result<[f64; 3], String> {
    if value.iter().all(|x| x.is_finite()) {
        Ok(value)
    } else {
        Err(format!(
            "position must be three finite numbers (m), not {}",
            shown3(value)
        ))
    }
}

/// Roll, pitch and yaw (rad): each finite and within one turn, ±[`MAX_ANGLE_RAD`].
pub fn rpy(value: [f64; 3]) -> Result<[f64; 3], String> {
    if value.iter().all(|x| x.abs() <= MAX_ANGLE_RAD) {
        Ok(value)
    } else {
        Err(format!(
            "rpy must be three angles within ±{:.4} rad (one turn), not {}",
            MAX_ANGLE_RAD,
            shown3(value)
        ))
    }
}

/// A retry's attempts: at least 1, at most [`MAX_ATTEMPTS`].
pub fn attempts(value: u32) -> Result<u32, String> {
    match value {
        0 => Err("limit must be at least 1".to_owned()),
        n if n > MAX_ATTEMPTS => Err(format!(
            "limit = {n} attempts is more than {MAX_ATTEMPTS}, the most a retry may make"
        )),
        n => Ok(n),
    }
}

/// A planned motion's duration (s): at most [`MAX_STEP_S`].
pub fn motion_s(skill: &str, duration_s: f64) -> Result<f64, String> {
    if (0.0..=MAX_STEP_S).contains(&duration_s) {
        Ok(duration_s)
    } else {
        Err(format!(
            "{skill} would take {} s, more than a day ({MAX_STEP_S} s), the longest a step may last",
            shown(duration_s)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_as_written() {
        assert_eq!(shown(f64::NAN), "nan");
        assert_eq!(shown(f64::INFINITY), "inf");
        assert_eq!(shown(f64::NEG_INFINITY), "-inf");
        assert_eq!(shown(1e300), "1e300");
        assert_eq!(shown(-2.5e-7), "-2.5e-7");
        assert_eq!(shown(0.5), "0.5");
        assert_eq!(shown(1.0), "1");
        assert_eq!(shown(0.0), "0");
    }

    #[test]
    fn every_check_refuses_nan_and_infinities() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(seconds("seconds", bad, false).is_err());
            assert!(speed(bad).is_err());
            assert!(force("force_n", bad).is_err());
            assert!(tolerance(bad).is_err());
            assert!(position([0.0, bad, 0.0]).is_err());
            assert!(rpy([bad, 0.0, 0.0]).is_err());
            assert!(motion_s("move_joints", bad).is_err());
        }
    }
}
