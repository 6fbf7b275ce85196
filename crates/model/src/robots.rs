//! The built-in reference robots, embedded in the binary, and loading a robot by name or
//! by URDF path: the one way every command turns `--robot` into a model.

use std::path::Path;

use crate::error::ModelError;
use crate::model::{MimicMode, Model, ModelOptions};
use crate::urdf::{from_urdf_file, from_urdf_str};

/// A robot shipped with embody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinRobot {
    /// Name used on the command line.
    pub name: &'static str,
    /// URDF text.
    pub urdf: &'static str,
    /// Whether the robot stands on a floating base.
    pub floating_base: bool,
    /// One-line description.
    pub summary: &'static str,
}

/// The built-in robots; the first is the default of every command.
pub const BUILTIN_ROBOTS: [BuiltinRobot; 3] = [
    BuiltinRobot {
        name: "arm7",
        urdf: include_str!("../robots/arm7.urdf"),
        floating_base: false,
        summary: "7-joint arm with a parallel gripper (fingers coupled by a mimic joint)",
    },
    BuiltinRobot {
        name: "humanoid",
        urdf: include_str!("../robots/humanoid.urdf"),
        floating_base: true,
        summary: "humanoid on a floating base, 29 actuated joints",
    },
    BuiltinRobot {
        name: "so101",
        urdf: include_str!("../robots/so101.urdf"),
        floating_base: false,
        summary: "LeRobot SO-101-class arm: 5 joints and a gripper, one Feetech servo each",
    },
];

/// The built-in robot with this name.
pub fn builtin(name: &str) -> Option<&'static BuiltinRobot> {
    BUILTIN_ROBOTS.iter().find(|r| r.name == name)
}

/// Loads a built-in robot by name, or a URDF file by path. Built-in robots use their own
/// base; `floating_base` overrides it when given. Mimic joints are coupled.
pub fn load(name_or_path: &str, floating_base: Option<bool>) -> Result<Model, ModelError> {
    load_with(name_or_path, floating_base, MimicMode::Coupled)
}

/// As [`load`], choosing how mimic joints are treated.
pub fn load_with(
    name_or_path: &str,
    floating_base: Option<bool>,
    mimic: MimicMode,
) -> Result<Model, ModelError> {
    if let Some(robot) = builtin(name_or_path) {
        let options = ModelOptions {
            floating_base: floating_base.unwrap_or(robot.floating_base),
            mimic,
        };
        return from_urdf_str(robot.urdf, robot.name, &options);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(ModelError::UnknownRobot {
            name: name_or_path.to_string(),
            known: BUILTIN_ROBOTS.map(|r| r.name).join(", "),
        });
    }
    let options = ModelOptions {
        floating_base: floating_base.unwrap_or(false),
        mimic,
    };
    from_urdf_file(path, &options)
}
