//! Compliant contact between the robot's probes and the environment (a ground plane and
//! static boxes): a spring–damper along the normal, and along the surface a stiction
//! spring anchored where the contact began whose force is capped by the friction cone —
//! regularised Coulomb friction that holds a standing robot without creep and slides
//! when pushed past `μ·f_n`. Forces are accumulated per body as world spatial forces for
//! forward dynamics. Each body's probes are tested against a surface only when the
//! sphere bounding them reaches it. Real-time safe: every buffer is sized at
//! construction.

use embody_model::{
    Data, Model, forward_kinematics_velocity,
    spatial::{Force, Mat3, Vec3},
};
use serde::{Deserialize, Serialize};

use crate::config::ContactConfig;
use crate::geometry::{Probe, probes};

/// A static box in the world (a table, a step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticBox {
    /// Centre (m).
    pub center: [f64; 3],
    /// Full side lengths (m).
    pub size: [f64; 3],
    /// Yaw about the world z axis (rad). Default 0.
    #[serde(default)]
    pub yaw_rad: f64,
    /// Roll, pitch and yaw instead (rad): a tilted box, an incline.
    #[serde(default)]
    pub rpy_rad: Option<[f64; 3]>,
}

impl StaticBox {
    /// Its rotation (world from box).
    pub fn rotation(&self) -> Mat3 {
        let [r, p, y] = self.rpy_rad.unwrap_or([0.0, 0.0, self.yaw_rad]);
        *nalgebra::Rotation3::from_euler_angles(r, p, y).matrix()
    }
}

/// What the robot can touch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Environment {
    /// A ground plane at all. Default true.
    pub ground: bool,
    /// Height of the ground plane (m). Default 0.
    pub ground_height_m: f64,
    /// Static boxes.
    pub boxes: Vec<StaticBox>,
    /// Dynamic objects ([`crate::objects`]).
    pub objects: Vec<crate::objects::Object>,
    /// The light simulated cameras see the scene in.
    pub light: crate::render::Light,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            ground: true,
            ground_height_m: 0.0,
            boxes: Vec::new(),
            objects: Vec::new(),
            light: crate::render::Light::default(),
        }
    }
}

/// One contact force of the last step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActiveContact {
    /// The joint whose body is touched.
    pub joint: usize,
    /// Contact point in the world (m).
    pub point: Vec3,
    /// Force on the body in the world (N).
    pub force: Vec3,
    /// Unit normal pointing out of the environment.
    pub normal: Vec3,
}

/// A surface a probe can press on: where and how deep.
struct Touch {
    depth: f64,
    normal: Vec3,
    point: Vec3,
}

struct Obstacle {
    center: Vec3,
    half: Vec3,
    rotation: Mat3,
}

impl Obstacle {
    /// Whether any point within `radius` of `center` is in the box or on it.
    fn reaches(&self, center: &Vec3, radius: f64) -> bool {
        let local = self.rotation.transpose() * (center - self.center);
        let gap = Vec3::new(
            (local.x.abs() - self.half.x).max(0.0),
            (local.y.abs() - self.half.y).max(0.0),
            (local.z.abs() - self.half.z).max(0.0),
        );
        gap.norm() <= radius
    }

    fn touch(&self, center: &Vec3, radius: f64) -> Option<Touch> {
        let local = self.rotation.transpose() * (center - self.center);
        let outside = Vec3::new(
            local.x.abs() - self.half.x,
            local.y.abs() - self.half.y,
            local.z.abs() - self.half.z,
        );
        let (depth, normal_local, surface_local) = if outside.max() < 0.0 {
            // Inside: push out through the nearest face.
            let axis = outside.imax();
            let mut n = Vec3::zeros();
            n[axis] = local[axis].signum();
            let mut s = local;
            s[axis] = self.half[axis] * n[axis];
            (radius - outside[axis], n, s)
        } else {
            let clamped = Vec3::new(
                local.x.clamp(-self.half.x, self.half.x),
                local.y.clamp(-self.half.y, self.half.y),
                local.z.clamp(-self.half.z, self.half.z),
            );
            let gap = local - clamped;
            let distance = gap.norm();
            if distance >= radius || distance == 0.0 {
                return None;
            }
            (radius - distance, gap / distance, clamped)
        };
        Some(Touch {
            depth,
            normal: self.rotation * normal_local,
            point: self.center + self.rotation * surface_local,
        })
    }
}

/// The probes of one joint's body, `probes[range]`, and the sphere that bounds them
/// (joint frame).
struct ProbeGroup {
    joint: usize,
    range: std::ops::Range<usize>,
    center: Vec3,
    radius: f64,
}

impl ProbeGroup {
    /// `probes` sorted by joint, grouped.
    fn of(probes: &mut [Probe]) -> Vec<ProbeGroup> {
        probes.sort_by_key(|p| p.joint);
        let mut groups: Vec<ProbeGroup> = Vec::new();
        let mut start = 0;
        while start < probes.len() {
            let joint = probes[start].joint;
            let end = start + probes[start..].partition_point(|p| p.joint == joint);
            let members = &probes[start..end];
            let center = members.iter().map(|p| p.local).sum::<Vec3>() / members.len() as f64;
            let radius = (members.iter())
                .map(|p| (p.local - center).norm() + p.radius)
                .fold(0.0, f64::max);
            groups.push(ProbeGroup {
                joint,
                range: start..end,
                center,
                radius,
            });
            start = end;
        }
        groups
    }
}

/// The contact model of one robot in one environment, with its persistent stiction
/// anchors.
pub struct Contacts {
    config: ContactConfig,
    probes: Vec<Probe>,
    groups: Vec<ProbeGroup>,
    /// Per (group, surface): whether its probes were tested while anchors moved (so
    /// some may be set).
    near: Vec<bool>,
    ground: Option<f64>,
    obstacles: Vec<Obstacle>,
    /// Stiction anchor per (probe, surface): where the contact stuck, in the world.
    anchors: Vec<Option<Vec3>>,
    active: Vec<ActiveContact>,
    skipped_meshes: usize,
}

impl Contacts {
    /// Contacts of `model`'s collision shapes with `environment`.
    pub fn new(model: &Model, environment: &Environment, config: &ContactConfig) -> Contacts {
        let (mut probes, skipped_meshes) = if config.enabled {
            probes(model, config.cylinder_rim_points)
        } else {
            (Vec::new(), 0)
        };
        let groups = ProbeGroup::of(&mut probes);
        let obstacles: Vec<Obstacle> = environment
            .boxes
            .iter()
            .map(|b| Obstacle {
                center: Vec3::from(b.center),
                half: Vec3::from(b.size) / 2.0,
                rotation: b.rotation(),
            })
            .collect();
        let surfaces = 1 + obstacles.len();
        Contacts {
            config: config.clone(),
            anchors: vec![None; probes.len() * surfaces],
            active: Vec::with_capacity(probes.len() * surfaces),
            near: vec![false; groups.len() * surfaces],
            probes,
            groups,
            ground: environment.ground.then_some(environment.ground_height_m),
            obstacles,
            skipped_meshes,
        }
    }

    /// Number of probes.
    pub fn probe_count(&self) -> usize {
        self.probes.len()
    }

    /// Collision meshes that were not turned into probes.
    pub fn skipped_meshes(&self) -> usize {
        self.skipped_meshes
    }

    /// The contacts found by the last [`Contacts::compute`].
    pub fn active(&self) -> &[ActiveContact] {
        &self.active
    }

    /// Contact forces at state `(q, v)`, added into `forces` (world spatial forces per
    /// joint body). Runs forward kinematics with velocities into `data`. Anchors move
    /// only when `update_anchors` (once per step, not per integrator stage).
    pub fn compute(
        &mut self,
        model: &Model,
        data: &mut Data,
        q: &[f64],
        v: &[f64],
        forces: &mut [Force],
        update_anchors: bool,
    ) {
        self.active.clear();
        if self.probes.is_empty() {
            return;
        }
        forward_kinematics_velocity(model, data, q, v);
        let surfaces = 1 + self.obstacles.len();
        for (g, group) in self.groups.iter().enumerate() {
            let x = &data.world_from_joint[group.joint];
            let twist = &data.v[group.joint];
            let reach = x.transform_point(&group.center);
            for s in 0..surfaces {
                let near = if s == 0 {
                    self.ground.is_some_and(|h| reach.z - group.radius <= h)
                } else {
                    self.obstacles[s - 1].reaches(&reach, group.radius)
                };
                let tested = &mut self.near[g * surfaces + s];
                if !near {
                    // Out of reach: no anchors left behind from when it was near.
                    if update_anchors && std::mem::take(tested) {
                        for p in group.range.clone() {
                            self.anchors[p * surfaces + s] = None;
                        }
                    }
                    continue;
                }
                *tested |= update_anchors;
                for p in group.range.clone() {
                    let probe = &self.probes[p];
                    let center = x.transform_point(&probe.local);
                    let touch = if s == 0 {
                        self.ground.and_then(|h| {
                            let depth = probe.radius - (center.z - h);
                            (depth > 0.0).then(|| Touch {
                                depth,
                                normal: Vec3::z(),
                                point: Vec3::new(center.x, center.y, h),
                            })
                        })
                    } else {
                        self.obstacles[s - 1].touch(&center, probe.radius)
                    };
                    let slot = p * surfaces + s;
                    let Some(touch) = touch else {
                        if update_anchors {
                            self.anchors[slot] = None;
                        }
                        continue;
                    };
                    let velocity = x.rotation * (twist.linear + twist.angular.cross(&probe.local));
                    let force = contact_force(
                        &self.config,
                        &mut self.anchors[slot],
                        &touch,
                        &velocity,
                        update_anchors,
                    );
                    forces[probe.joint] =
                        forces[probe.joint].add(&Force::at_point(force, &touch.point));
                    self.active.push(ActiveContact {
                        joint: probe.joint,
                        point: touch.point,
                        force,
                        normal: touch.normal,
                    });
                }
            }
        }
    }
}

/// The force of one contact on the body, moving its stiction anchor.
fn contact_force(
    c: &ContactConfig,
    anchor_slot: &mut Option<Vec3>,
    touch: &Touch,
    velocity: &Vec3,
    update_anchors: bool,
) -> Vec3 {
    let n = touch.normal;
    let normal_speed = velocity.dot(&n);
    let normal = (c.stiffness_npm * touch.depth - c.damping_nspm * normal_speed).max(0.0);
    let tangential_velocity = velocity - n * normal_speed;
    let anchor = anchor_slot.unwrap_or(touch.point);
    let mut stretch = touch.point - anchor;
    stretch -= n * stretch.dot(&n);
    let mut tangential =
        -c.tangential_stiffness_npm * stretch - c.tangential_damping_nspm * tangential_velocity;
    let cap = c.friction * normal;
    let magnitude = tangential.norm();
    let sliding = magnitude > cap;
    if sliding {
        tangential *= cap / magnitude;
    }
    if update_anchors {
        // Sliding drags the anchor along so the spring holds exactly the cone's force.
        let anchor = if sliding && c.tangential_stiffness_npm > 0.0 {
            touch.point + tangential / c.tangential_stiffness_npm
        } else {
            anchor
        };
        *anchor_slot = Some(anchor);
    }
    n * normal + tangential
}
