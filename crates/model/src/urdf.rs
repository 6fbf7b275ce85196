//! Builds a [`Model`] from URDF (parsed by `urdf-rs`): validates the description, orders
//! joints depth-first with children sorted by joint name (as Pinocchio does, so vectors
//! compare directly), merges fixed joints into their parent body and keeps their frames.
//! Every defect is reported as a [`ModelError`] naming the element; nothing panics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nalgebra::{DVector, SymmetricEigen};

use crate::error::ModelError;
use crate::joint::{Axis, JointKind};
use crate::model::{
    Frame, FrameId, FrameKind, Geometry, Joint, JointId, JointLimits, LinkGeometry, Mimic,
    MimicMode, Model, ModelOptions, Shape,
};
use crate::spatial::{Inertia, Mat3, Transform, Vec3};

/// Reads and builds a model from a URDF file. Its meshes' relative paths (and `file://`
/// ones) are made relative to the file's folder. `package://NAME/…` ones are looked for
/// in a folder named `NAME`: the file's folder or one of its ancestors, a child of one of
/// them (a workspace's `src/NAME`), else `NAME` under a root of `ROS_PACKAGE_PATH`; they
/// are kept as written when the package is nowhere.
pub fn from_urdf_file(path: &Path, options: &ModelOptions) -> Result<Model, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut model = from_urdf_str(&text, &path.display().to_string(), options)?;
    let folder = path.parent().unwrap_or(Path::new(""));
    let ros_path = std::env::var_os("ROS_PACKAGE_PATH");
    let roots: Vec<PathBuf> = ros_path
        .as_deref()
        .map_or_else(Vec::new, |p| std::env::split_paths(p).collect());
    for link in &mut model.links {
        for geometry in link.visuals.iter_mut().chain(link.collisions.iter_mut()) {
            let Shape::Mesh { filename, .. } = &mut geometry.shape else {
                continue;
            };
            let resolved = match filename.strip_prefix("package://") {
                Some(uri) => package_path(uri, folder, &roots),
                None => {
                    let written = filename.strip_prefix("file://").unwrap_or(filename);
                    Some(folder.join(written))
                }
            };
            if let Some(resolved) = resolved {
                *filename = resolved.display().to_string();
            }
        }
    }
    Ok(model)
}

/// Where `package://` URI `uri` (`NAME/rest`, the scheme taken off) points: `rest` in
/// the nearest folder named `NAME` that is the URDF's folder, one of its ancestors, or a
/// child of one of them; else in `NAME` under one of `roots`. `None` when no such folder
/// exists.
fn package_path(uri: &str, urdf_folder: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    let (name, rest) = uri.split_once('/')?;
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    let folder = std::path::absolute(urdf_folder).unwrap_or_else(|_| urdf_folder.to_path_buf());
    let ancestors = folder.ancestors().flat_map(|a| {
        let named = (a.file_name() == Some(name.as_ref())).then(|| a.to_path_buf());
        named.into_iter().chain(std::iter::once(a.join(name)))
    });
    let under_roots = roots.iter().map(|root| root.join(name));
    ancestors
        .chain(under_roots)
        .find(|package| package.is_dir())
        .map(|package| package.join(rest))
}

/// Builds a model from URDF text; `source_name` names it in errors.
pub fn from_urdf_str(
    text: &str,
    source_name: &str,
    options: &ModelOptions,
) -> Result<Model, ModelError> {
    let parse_error = |reason: String| ModelError::Parse {
        source_name: source_name.to_string(),
        reason: printable(&reason),
    };
    // urdf-rs rejects a `<texture/>` without a filename, which urdfdom accepts (iCub and
    // Romeo have them); textures play no part here, so empty ones are dropped.
    let text = text.replace("<texture />", "").replace("<texture/>", "");
    // Located syntax errors, and no nesting deep enough to overflow the parser's stack.
    if let Some((line, why)) = crate::xml_place::syntax_problem(&text) {
        return Err(parse_error(format!("line {line}: {why}")));
    }
    // The third-party parser is not ours to prove total: contain any panic it raises.
    let robot = std::panic::catch_unwind(|| urdf_rs::read_from_string(&text))
        .map_err(|_| parse_error("the URDF parser failed on this input".into()))?
        .map_err(|e| parse_error(e.to_string()))?;
    Builder::new(&robot, source_name, options)?.build()
}

/// `reason` with its control characters but line breaks escaped (`\u{b}`): a parser's
/// reason may end on the offending character, which printed raw looks like nothing.
fn printable(reason: &str) -> String {
    reason
        .chars()
        .map(|c| match c.is_control() && c != '\n' {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

struct Builder<'a> {
    robot: &'a urdf_rs::Robot,
    source: &'a str,
    options: &'a ModelOptions,
    link_index: HashMap<&'a str, usize>,
    /// Child joints of each link, sorted by joint name.
    children: Vec<Vec<usize>>,
    root: usize,
    joints: Vec<Joint>,
    frames: Vec<Frame>,
    links: Vec<LinkGeometry>,
    /// URDF joint index -> model joint, for mimic resolution.
    joint_of_urdf: HashMap<usize, JointId>,
}

enum Visit {
    Link {
        link: usize,
        body: JointId,
        body_from_link: Transform,
    },
    Joint {
        joint: usize,
        body: JointId,
        body_from_link: Transform,
    },
}

impl<'a> Builder<'a> {
    fn new(
        robot: &'a urdf_rs::Robot,
        source: &'a str,
        options: &'a ModelOptions,
    ) -> Result<Self, ModelError> {
        let tree_error = |reason: String| ModelError::NotATree {
            source_name: source.to_string(),
            reason,
        };
        if robot.links.is_empty() {
            return Err(tree_error("the robot has no links".into()));
        }
        let mut link_index = HashMap::new();
        for (i, link) in robot.links.iter().enumerate() {
            if link_index.insert(link.name.as_str(), i).is_some() {
                return Err(invalid(
                    source,
                    "link",
                    &link.name,
                    "defined more than once",
                ));
            }
        }
        let mut joint_names = HashMap::new();
        let mut parent_joint: Vec<Option<usize>> = vec![None; robot.links.len()];
        let mut children = vec![Vec::new(); robot.links.len()];
        for (j, joint) in robot.joints.iter().enumerate() {
            if joint_names.insert(joint.name.as_str(), j).is_some() {
                return Err(invalid(
                    source,
                    "joint",
                    &joint.name,
                    "defined more than once",
                ));
            }
            let find = |role: &str, name: &str| {
                link_index.get(name).copied().ok_or_else(|| {
                    invalid(
                        source,
                        "joint",
                        &joint.name,
                        &format!("{role} link '{name}' does not exist"),
                    )
                })
            };
            let parent = find("parent", &joint.parent.link)?;
            let child = find("child", &joint.child.link)?;
            if let Some(other) = parent_joint[child] {
                return Err(tree_error(format!(
                    "link '{}' is the child of two joints, '{}' and '{}'",
                    joint.child.link, robot.joints[other].name, joint.name
                )));
            }
            parent_joint[child] = Some(j);
            children[parent].push(j);
        }
        for c in &mut children {
            c.sort_by(|a, b| robot.joints[*a].name.cmp(&robot.joints[*b].name));
        }
        let roots: Vec<usize> = (0..robot.links.len())
            .filter(|&l| parent_joint[l].is_none())
            .collect();
        let root = match roots.as_slice() {
            [root] => *root,
            [] => {
                return Err(tree_error(
                    "every link has a parent joint, so the joints form a cycle".into(),
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|&l| robot.links[l].name.as_str()).collect();
                return Err(tree_error(format!(
                    "several root links ({}): every link but one must be the child of a joint",
                    names.join(", ")
                )));
            }
        };
        // With one parent per link and one root, unreachable links lie on a cycle.
        let mut reached = vec![false; robot.links.len()];
        let mut stack = vec![root];
        while let Some(l) = stack.pop() {
            reached[l] = true;
            stack.extend(
                children[l]
                    .iter()
                    .map(|&j| link_index[robot.joints[j].child.link.as_str()]),
            );
        }
        if let Some(l) = reached.iter().position(|r| !r) {
            let j = parent_joint[l].map_or("", |j| robot.joints[j].name.as_str());
            return Err(tree_error(format!(
                "link '{}' is not connected to root link '{}' (joint '{j}' lies on a cycle)",
                robot.links[l].name, robot.links[root].name
            )));
        }
        Ok(Self {
            robot,
            source,
            options,
            link_index,
            children,
            root,
            joints: Vec::new(),
            frames: Vec::new(),
            links: Vec::new(),
            joint_of_urdf: HashMap::new(),
        })
    }

    fn build(mut self) -> Result<Model, ModelError> {
        self.joints.push(Joint {
            name: "universe".into(),
            kind: JointKind::Fixed,
            parent: JointId(0),
            placement: Transform::IDENTITY,
            inertia: Inertia::ZERO,
            idx_q: 0,
            idx_v: 0,
            idx_dof: 0,
            mimic: None,
            limits: JointLimits::UNBOUNDED,
            damping: 0.0,
            friction: 0.0,
        });
        let mut root_body = JointId(0);
        if self.options.floating_base {
            root_body = self.push_joint(
                "root_joint".into(),
                JointKind::FreeFlyer,
                JointId(0),
                Transform::IDENTITY,
            );
            self.joints[1].limits = JointLimits::UNBOUNDED;
            self.push_frame(
                "root_joint",
                FrameKind::Joint,
                root_body,
                Transform::IDENTITY,
            );
        }
        let mut stack = vec![Visit::Link {
            link: self.root,
            body: root_body,
            body_from_link: Transform::IDENTITY,
        }];
        while let Some(visit) = stack.pop() {
            match visit {
                Visit::Link {
                    link,
                    body,
                    body_from_link,
                } => {
                    self.add_link(link, body, &body_from_link)?;
                    for &j in self.children[link].iter().rev() {
                        stack.push(Visit::Joint {
                            joint: j,
                            body,
                            body_from_link,
                        });
                    }
                }
                Visit::Joint {
                    joint,
                    body,
                    body_from_link,
                } => {
                    let (child_body, child_from_link) =
                        self.add_joint(joint, body, &body_from_link)?;
                    let child = self.link_index[self.robot.joints[joint].child.link.as_str()];
                    stack.push(Visit::Link {
                        link: child,
                        body: child_body,
                        body_from_link: child_from_link,
                    });
                }
            }
        }
        self.resolve_mimics()?;
        Ok(self.finish())
    }

    fn push_joint(
        &mut self,
        name: String,
        kind: JointKind,
        parent: JointId,
        placement: Transform,
    ) -> JointId {
        self.joints.push(Joint {
            name,
            kind,
            parent,
            placement,
            inertia: Inertia::ZERO,
            idx_q: 0,
            idx_v: 0,
            idx_dof: 0,
            mimic: None,
            limits: JointLimits::UNBOUNDED,
            damping: 0.0,
            friction: 0.0,
        });
        JointId(self.joints.len() - 1)
    }

    fn push_frame(
        &mut self,
        name: &str,
        kind: FrameKind,
        joint: JointId,
        placement: Transform,
    ) -> FrameId {
        self.frames.push(Frame {
            name: name.to_string(),
            kind,
            joint,
            placement,
        });
        FrameId(self.frames.len() - 1)
    }

    fn add_link(
        &mut self,
        link: usize,
        body: JointId,
        body_from_link: &Transform,
    ) -> Result<(), ModelError> {
        let l = &self.robot.links[link];
        let inertia = link_inertia(self.source, l)?;
        let joint = &mut self.joints[body.0];
        joint.inertia = joint.inertia.combined(&inertia.transformed(body_from_link));
        let frame = self.push_frame(&l.name, FrameKind::Link, body, *body_from_link);
        let visuals = l
            .visual
            .iter()
            .map(|v| {
                geometry(
                    self.source,
                    &l.name,
                    &v.geometry,
                    &v.origin,
                    v.material.as_ref(),
                )
            })
            .collect::<Result<_, _>>()?;
        let collisions = l
            .collision
            .iter()
            .map(|c| geometry(self.source, &l.name, &c.geometry, &c.origin, None))
            .collect::<Result<_, _>>()?;
        self.links.push(LinkGeometry {
            frame,
            visuals,
            collisions,
        });
        Ok(())
    }

    /// Adds a URDF joint under `body`; returns the body and placement of its child link.
    fn add_joint(
        &mut self,
        j: usize,
        body: JointId,
        body_from_link: &Transform,
    ) -> Result<(JointId, Transform), ModelError> {
        let uj = &self.robot.joints[j];
        let origin = pose(self.source, "joint", &uj.name, &uj.origin)?;
        let placement = body_from_link.mul(&origin);
        let kind = match uj.joint_type {
            urdf_rs::JointType::Fixed => {
                self.push_frame(&uj.name, FrameKind::FixedJoint, body, placement);
                return Ok((body, placement));
            }
            urdf_rs::JointType::Revolute => JointKind::Revolute(axis(self.source, uj)?),
            urdf_rs::JointType::Continuous => JointKind::Continuous(axis(self.source, uj)?),
            urdf_rs::JointType::Prismatic => JointKind::Prismatic(axis(self.source, uj)?),
            ref other => {
                return Err(invalid(
                    self.source,
                    "joint",
                    &uj.name,
                    &format!(
                        "joint type '{}' is not supported (revolute, continuous, prismatic and fixed are)",
                        format!("{other:?}").to_lowercase()
                    ),
                ));
            }
        };
        let id = self.push_joint(uj.name.clone(), kind, body, placement);
        self.joints[id.0].limits = limits(self.source, uj, &kind)?;
        if let Some(d) = &uj.dynamics {
            if !(sane(d.damping, MAX_DYNAMICS)
                && sane(d.friction, MAX_DYNAMICS)
                && d.damping >= 0.0
                && d.friction >= 0.0)
            {
                return Err(invalid(
                    self.source,
                    "joint",
                    &uj.name,
                    &format!(
                        "dynamics damping and friction must be finite, from 0 to {MAX_DYNAMICS:e}"
                    ),
                ));
            }
            self.joints[id.0].damping = d.damping;
            self.joints[id.0].friction = d.friction;
        }
        self.joint_of_urdf.insert(j, id);
        self.push_frame(&uj.name, FrameKind::Joint, id, Transform::IDENTITY);
        Ok((id, Transform::IDENTITY))
    }

    fn resolve_mimics(&mut self) -> Result<(), ModelError> {
        if self.options.mimic == MimicMode::Independent {
            return Ok(());
        }
        let by_name: HashMap<&str, usize> = self
            .robot
            .joints
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.as_str(), i))
            .collect();
        for (j, uj) in self.robot.joints.iter().enumerate() {
            let Some(m) = &uj.mimic else { continue };
            let Some(&id) = self.joint_of_urdf.get(&j) else {
                continue; // a fixed joint with a mimic tag has nothing to couple
            };
            let bad = |reason: &str| invalid(self.source, "joint", &uj.name, reason);
            let master_urdf = by_name
                .get(m.joint.as_str())
                .ok_or_else(|| {
                    bad(&format!(
                        "mimics joint '{}', which does not exist (load with mimic joints independent to ignore the coupling)",
                        m.joint
                    ))
                })?;
            let master = *self
                .joint_of_urdf
                .get(master_urdf)
                .ok_or_else(|| bad(&format!("mimics joint '{}', which is not movable", m.joint)))?;
            if self.robot.joints[*master_urdf].mimic.is_some() {
                return Err(bad(&format!(
                    "mimics joint '{}', which is itself a mimic joint",
                    m.joint
                )));
            }
            if master == id {
                return Err(bad("mimics itself"));
            }
            let multiplier = m.multiplier.unwrap_or(1.0);
            let offset = m.offset.unwrap_or(0.0);
            if !(sane(multiplier, MAX_MIMIC_MULTIPLIER) && sane(offset, MAX_OFFSET_M)) {
                return Err(bad(&format!(
                    "mimic multiplier must be finite and within ±{MAX_MIMIC_MULTIPLIER:e}, and its offset within ±{MAX_OFFSET_M:e}, not {} and {}",
                    number(multiplier),
                    number(offset)
                )));
            }
            self.joints[id.0].mimic = Some(Mimic {
                master,
                multiplier,
                offset,
            });
        }
        Ok(())
    }

    /// Assigns coordinate indices, limit vectors and supports.
    fn finish(mut self) -> Model {
        let (mut nq, mut nv, mut ndof) = (0, 0, 0);
        for j in self.joints.iter_mut().skip(1) {
            j.idx_dof = ndof;
            ndof += j.kind.nv();
            if j.mimic.is_none() {
                j.idx_q = nq;
                j.idx_v = nv;
                nq += j.kind.nq();
                nv += j.kind.nv();
            }
        }
        for i in 1..self.joints.len() {
            if let Some(m) = self.joints[i].mimic {
                let master = &self.joints[m.master.0];
                let (q, v) = (master.idx_q, master.idx_v);
                self.joints[i].idx_q = q;
                self.joints[i].idx_v = v;
            }
        }
        let mut lower = DVector::from_element(nq, f64::NEG_INFINITY);
        let mut upper = DVector::from_element(nq, f64::INFINITY);
        let mut velocity = DVector::from_element(nv, f64::INFINITY);
        let mut effort = DVector::from_element(nv, f64::INFINITY);
        for j in self.joints.iter().skip(1).filter(|j| j.mimic.is_none()) {
            if j.kind.nq() == 1 {
                lower[j.idx_q] = j.limits.lower;
                upper[j.idx_q] = j.limits.upper;
                velocity[j.idx_v] = j.limits.velocity;
                effort[j.idx_v] = j.limits.effort;
            }
        }
        let mut supports: Vec<Vec<usize>> = vec![Vec::new(); self.joints.len()];
        for i in 1..self.joints.len() {
            let mut s = supports[self.joints[i].parent.0].clone();
            s.push(i);
            supports[i] = s;
        }
        let support_dofs = supports
            .iter()
            .map(|s| {
                s.iter()
                    .filter(|&&j| self.joints[j].kind != JointKind::FreeFlyer)
                    .flat_map(|&j| {
                        let joint = &self.joints[j];
                        joint.idx_dof..joint.idx_dof + joint.kind.nv()
                    })
                    .collect()
            })
            .collect();
        Model {
            name: self.robot.name.clone(),
            joints: self.joints,
            frames: self.frames,
            links: self.links,
            nq,
            nv,
            ndof,
            gravity: Vec3::new(0.0, 0.0, -9.81),
            lower_position_limit: lower,
            upper_position_limit: upper,
            velocity_limit: velocity,
            effort_limit: effort,
            supports,
            support_dofs,
        }
    }
}

fn invalid(source: &str, kind: &str, name: &str, reason: &str) -> ModelError {
    ModelError::Invalid {
        source_name: source.to_string(),
        element: format!("{kind} '{name}'"),
        reason: reason.to_string(),
    }
}

/// Largest distance (m) and angle (rad) an origin may give: past these a value is a
/// typo or corruption, and the algorithms lose every digit of precision.
const MAX_OFFSET_M: f64 = 1e4;
const MAX_ANGLE_RAD: f64 = 1e3;
/// Largest mass (kg), principal moment (kg·m²), damping or friction a link or joint may
/// have: a robot's are many orders of magnitude below.
const MAX_MASS_KG: f64 = 1e6;
const MAX_INERTIA_KG_M2: f64 = 1e6;
const MAX_DYNAMICS: f64 = 1e6;
/// Largest gear ratio a mimic joint may have to its leader: a coupling of 1e300 makes
/// the dynamics infinite.
const MAX_MIMIC_MULTIPLIER: f64 = 1e3;

/// `v` if it is a finite number whose magnitude is at most `max`.
fn sane(v: f64, max: f64) -> bool {
    v.is_finite() && v.abs() <= max
}

/// A number as a user would write it: `1e300` rather than three hundred digits.
fn number(x: f64) -> String {
    if x.is_finite() && (x == 0.0 || (1e-4..1e6).contains(&x.abs())) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

fn pose(source: &str, kind: &str, name: &str, p: &urdf_rs::Pose) -> Result<Transform, ModelError> {
    if let Some(v) = p.xyz.iter().find(|v| !sane(**v, MAX_OFFSET_M)) {
        let reason = format!(
            "origin xyz must be finite and within ±{MAX_OFFSET_M:e} m, not {}",
            number(*v)
        );
        return Err(invalid(source, kind, name, &reason));
    }
    if let Some(v) = p.rpy.iter().find(|v| !sane(**v, MAX_ANGLE_RAD)) {
        let reason = format!(
            "origin rpy must be finite and within ±{MAX_ANGLE_RAD:e} rad, not {}",
            number(*v)
        );
        return Err(invalid(source, kind, name, &reason));
    }
    Ok(Transform::from_xyz_rpy(*p.xyz, *p.rpy))
}

fn axis(source: &str, j: &urdf_rs::Joint) -> Result<Axis, ModelError> {
    let a = Vec3::from(*j.axis.xyz);
    let norm = a.norm();
    if !norm.is_finite() || norm < 1e-12 {
        return Err(invalid(
            source,
            "joint",
            &j.name,
            "axis must be a finite, non-zero vector",
        ));
    }
    Ok(Axis::from_unit(if (norm - 1.0).abs() < 1e-15 {
        a
    } else {
        a / norm
    }))
}

fn limits(source: &str, j: &urdf_rs::Joint, kind: &JointKind) -> Result<JointLimits, ModelError> {
    let l = &j.limit;
    let bad = |reason: &str| invalid(source, "joint", &j.name, reason);
    if l.lower.is_nan() || l.upper.is_nan() || l.velocity.is_nan() || l.effort.is_nan() {
        return Err(bad("limit has a value that is not a number"));
    }
    let bounded = sane(l.lower, MAX_OFFSET_M) && sane(l.upper, MAX_OFFSET_M);
    if !bounded && !matches!(kind, JointKind::Continuous(_)) {
        return Err(bad(&format!(
            "limit lower and upper must be finite and within ±{MAX_OFFSET_M:e}, not {} and {}",
            number(l.lower),
            number(l.upper)
        )));
    }
    if l.velocity < 0.0 || l.effort < 0.0 {
        return Err(bad("limit velocity and effort must not be negative"));
    }
    let positive_or_inf = |v: f64| if v > 0.0 { v } else { f64::INFINITY };
    let (lower, upper) = match kind {
        JointKind::Continuous(_) => (f64::NEG_INFINITY, f64::INFINITY),
        _ => {
            if l.lower > l.upper {
                return Err(bad(&format!(
                    "limit lower ({}) is above upper ({})",
                    l.lower, l.upper
                )));
            }
            (l.lower, l.upper)
        }
    };
    Ok(JointLimits {
        lower,
        upper,
        velocity: positive_or_inf(l.velocity),
        effort: positive_or_inf(l.effort),
    })
}

/// Negative principal moments smaller than this (kg·m²) are taken as rounding, not error.
const INERTIA_ROUNDING_KG_M2: f64 = 1e-6;

/// The link's inertia in the link frame, checked for physical sense.
fn link_inertia(source: &str, l: &urdf_rs::Link) -> Result<Inertia, ModelError> {
    let bad = |reason: String| invalid(source, "link", &l.name, &reason);
    let i = &l.inertial;
    let m = i.mass.value;
    if !sane(m, MAX_MASS_KG) || m < 0.0 {
        return Err(bad(format!(
            "mass must be a finite number from 0 to {MAX_MASS_KG:e} kg, not {}",
            number(m)
        )));
    }
    let t = &i.inertia;
    let values = [t.ixx, t.ixy, t.ixz, t.iyy, t.iyz, t.izz];
    if let Some(v) = values.iter().find(|v| !sane(**v, MAX_INERTIA_KG_M2)) {
        return Err(bad(format!(
            "inertia values must be finite and within ±{MAX_INERTIA_KG_M2:e} kg·m², not {}",
            number(*v)
        )));
    }
    let local = Mat3::new(
        t.ixx, t.ixy, t.ixz, t.ixy, t.iyy, t.iyz, t.ixz, t.iyz, t.izz,
    );
    let eig = SymmetricEigen::new(local).eigenvalues;
    // Tolerate rounding: CAD exports of gram-sized parts carry negative moments of ~1e-8.
    let scale = eig.iter().fold(0.0_f64, |a, e| a.max(e.abs()));
    let tolerance = (1e-9 * scale).max(INERTIA_ROUNDING_KG_M2);
    if let Some(e) = eig.iter().find(|&&e| e < -tolerance) {
        return Err(bad(format!(
            "inertia is not positive semi-definite (principal moment {e:e} kg·m²)"
        )));
    }
    let frame = pose(source, "link", &l.name, &i.origin)?;
    Ok(Inertia {
        mass: m,
        com: frame.translation,
        inertia_com: frame.rotation * local * frame.rotation.transpose(),
    })
}

fn geometry(
    source: &str,
    link: &str,
    g: &urdf_rs::Geometry,
    origin: &urdf_rs::Pose,
    material: Option<&urdf_rs::Material>,
) -> Result<Geometry, ModelError> {
    let (shape, dimensions) = match g {
        urdf_rs::Geometry::Box { size } => (
            Shape::Box {
                size: Vec3::from(**size),
            },
            size.to_vec(),
        ),
        urdf_rs::Geometry::Cylinder { radius, length } => (
            Shape::Cylinder {
                radius: *radius,
                length: *length,
            },
            vec![*radius, *length],
        ),
        urdf_rs::Geometry::Capsule { radius, length } => (
            Shape::Capsule {
                radius: *radius,
                length: *length,
            },
            vec![*radius, *length],
        ),
        urdf_rs::Geometry::Sphere { radius } => (Shape::Sphere { radius: *radius }, vec![*radius]),
        urdf_rs::Geometry::Mesh { filename, scale } => {
            let scale = scale.map_or(Vec3::new(1.0, 1.0, 1.0), |s| Vec3::from(*s));
            // A negative scale mirrors the mesh: only finiteness is checked.
            let magnitudes = scale.iter().map(|s| s.abs()).collect();
            (
                Shape::Mesh {
                    filename: filename.clone(),
                    scale,
                },
                magnitudes,
            )
        }
    };
    if !dimensions
        .iter()
        .all(|&v| sane(v, MAX_OFFSET_M) && v >= 0.0)
    {
        let reason = format!(
            "{} dimensions must be finite, from 0 to {MAX_OFFSET_M:e}",
            shape.name()
        );
        return Err(invalid(source, "link", link, &reason));
    }
    Ok(Geometry {
        shape,
        origin: pose(source, "link", link, origin)?,
        rgba: material.and_then(|m| m.color.as_ref()).map(|c| *c.rgba),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_that_ends_on_a_control_character_shows_it() {
        // The XML parser's reason ends on the character it stopped at: here a vertical tab.
        for text in [
            "<robot\u{b}/>",
            "<robot name=\"a\"><link name=\"b\" a\u{b}=\"1\"/></robot>",
        ] {
            let e = from_urdf_str(text, "vt.urdf", &ModelOptions::default())
                .expect_err("not URDF")
                .to_string();
            assert!(!e.chars().any(char::is_control), "{e:?}");
            assert!(e.contains("\\u{b}") && !e.ends_with(':'), "{e}");
        }
    }

    /// A workspace: `ws/src/arm_pkg/urdf` holds the URDF, `ws/src/parts_pkg` a sibling
    /// package, `opt/far_pkg` a package only `ROS_PACKAGE_PATH` knows.
    fn workspace(test: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("embody-packages-{}-{test}", std::process::id()));
        for dir in ["ws/src/arm_pkg/urdf", "ws/src/parts_pkg", "opt/far_pkg"] {
            std::fs::create_dir_all(root.join(dir)).expect("temp dirs");
        }
        root
    }

    #[test]
    fn package_uris_are_found_in_the_workspace_and_on_the_package_path() {
        let root = workspace("found");
        let urdf_folder = root.join("ws/src/arm_pkg/urdf");
        let roots = [root.join("opt")];
        let find = |uri: &str| package_path(uri, &urdf_folder, &roots);
        // The URDF's own package, an ancestor of its folder.
        assert_eq!(
            find("arm_pkg/meshes/base.stl"),
            Some(root.join("ws/src/arm_pkg/meshes/base.stl"))
        );
        // A sibling package beside it.
        assert_eq!(
            find("parts_pkg/hand.obj"),
            Some(root.join("ws/src/parts_pkg/hand.obj"))
        );
        // Only on the package path.
        assert_eq!(
            find("far_pkg/m/x.stl"),
            Some(root.join("opt/far_pkg/m/x.stl"))
        );
        // Nowhere, or not a package name.
        assert_eq!(find("missing_pkg/x.stl"), None);
        assert_eq!(find("no_slash"), None);
        assert_eq!(find("../x.stl"), None);
        assert_eq!(find("/x.stl"), None);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_urdf_file_s_package_meshes_point_into_its_package() {
        let root = workspace("file");
        std::fs::create_dir_all(root.join("my_robot/urdf")).expect("temp dirs");
        let urdf = root.join("my_robot/urdf/r.urdf");
        std::fs::write(
            &urdf,
            r#"<robot name="r"><link name="base"><visual><geometry>
               <mesh filename="package://my_robot/meshes/base.stl"/></geometry></visual>
               <collision><geometry><mesh filename="package://nowhere_pkg/c.stl"/></geometry>
               </collision></link></robot>"#,
        )
        .expect("write");
        let model = from_urdf_file(&urdf, &ModelOptions::default()).expect("model");
        let base = &model.links[0];
        let Shape::Mesh { filename, .. } = &base.visuals[0].shape else {
            panic!("a mesh");
        };
        assert_eq!(
            Path::new(filename),
            std::path::absolute(root.join("my_robot/meshes/base.stl")).expect("absolute")
        );
        let Shape::Mesh { filename, .. } = &base.collisions[0].shape else {
            panic!("a mesh");
        };
        assert_eq!(filename, "package://nowhere_pkg/c.stl", "kept as written");
        let _ = std::fs::remove_dir_all(&root);
    }
}
