//! Collision geometry as contact probes: every URDF collision shape of a moving body
//! becomes a few points with a radius, fixed in the body's joint frame — a sphere its
//! centre, a capsule its two cap centres, a box its eight corners, a cylinder points on
//! its two cap rims, a mesh its convex hull's corners (read once, by `crate::mesh`;
//! one that cannot be read is skipped and counted). This is what compliant contact
//! against a ground plane and boxes needs, at a cost of a point–plane or point–box test
//! per probe.
//!
//! Why not parry's shape pairs here: every query is a closed form on points, done with
//! the model's own placements, allocation-free and deterministic. Contact with objects,
//! and between links, is parry's (`crate::objects`).

use std::path::Path;

use embody_model::{Data, Model, Shape, forward_kinematics, spatial::Vec3};

/// A contact point of a body: a sphere of `radius` at `local` in the joint frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    /// The joint whose body carries it.
    pub joint: usize,
    /// Centre in the joint frame (m).
    pub local: Vec3,
    /// Radius (m); 0 for a corner.
    pub radius: f64,
}

/// The probes of every moving body of `model`, and how many mesh shapes could not be
/// read (and were skipped).
pub fn probes(model: &Model, rim_points: usize) -> (Vec<Probe>, usize) {
    let mut out = Vec::new();
    let mut skipped_meshes = 0;
    for link in &model.links {
        let frame = &model.frames[link.frame.0];
        if frame.joint.0 == 0 {
            continue; // welded to the world: never moves, never pushed
        }
        for geometry in &link.collisions {
            let joint_from_shape = frame.placement.mul(&geometry.origin);
            let mut add = |p: Vec3, radius: f64| {
                out.push(Probe {
                    joint: frame.joint.0,
                    local: joint_from_shape.transform_point(&p),
                    radius,
                });
            };
            match &geometry.shape {
                Shape::Sphere { radius } => add(Vec3::zeros(), *radius),
                Shape::Capsule { radius, length } => {
                    add(Vec3::new(0.0, 0.0, length / 2.0), *radius);
                    add(Vec3::new(0.0, 0.0, -length / 2.0), *radius);
                }
                Shape::Box { size } => {
                    for corner in 0..8 {
                        let sign = |bit: usize| if corner & bit == 0 { -0.5 } else { 0.5 };
                        add(
                            Vec3::new(sign(1) * size.x, sign(2) * size.y, sign(4) * size.z),
                            0.0,
                        );
                    }
                }
                Shape::Cylinder { radius, length } => {
                    let n = rim_points.max(3);
                    for end in [-0.5, 0.5] {
                        for k in 0..n {
                            let angle = std::f64::consts::TAU * k as f64 / n as f64;
                            add(
                                Vec3::new(radius * angle.cos(), radius * angle.sin(), end * length),
                                0.0,
                            );
                        }
                    }
                }
                // Its convex hull's corners; a mesh that cannot be read is left out.
                Shape::Mesh { filename, scale } => {
                    match crate::mesh::load_hull(Path::new(filename), [scale.x, scale.y, scale.z]) {
                        Ok(hull) => {
                            for v in hull.points() {
                                add(Vec3::new(v.x, v.y, v.z), 0.0);
                            }
                        }
                        Err(_) => skipped_meshes += 1,
                    }
                }
            }
        }
    }
    (out, skipped_meshes)
}

/// Height of the lowest point of every probe at configuration `q` (`None` without
/// collision geometry).
pub fn lowest_point(model: &Model, q: &[f64]) -> Option<f64> {
    let mut data = Data::new(model);
    forward_kinematics(model, &mut data, q);
    let (probes, _) = probes(model, 8);
    probes
        .iter()
        .map(|p| data.world_from_joint[p.joint].transform_point(&p.local).z - p.radius)
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_model::robots;

    #[test]
    fn the_humanoid_soles_have_their_corners_as_probes() {
        let model = robots::load("humanoid", None).expect("humanoid");
        let (probes, meshes) = probes(&model, 8);
        assert_eq!(meshes, 0);
        let foot = model.frame_id("left_foot").expect("foot");
        let joint = model.frames[foot.0].joint.0;
        let corners: Vec<_> = probes.iter().filter(|p| p.joint == joint).collect();
        // Two shapes ride on the ankle roll joint: the foot box (8 corners) and nothing else.
        assert_eq!(corners.len(), 8);
        let lowest = corners
            .iter()
            .map(|p| p.local.z)
            .fold(f64::INFINITY, f64::min);
        assert!(lowest < 0.0);
    }
}
