//! From robot state to network inputs: each input is its terms, in order, each term
//! `clip(scale · (x − offset))` with `history` steps kept oldest first (the first step
//! after a reset fills every slot, as Isaac Lab does), then the whole vector normalised
//! if the manifest says so. Frames: base velocities and projected gravity in the base
//! frame; end-effector poses and goals in the world unless a goal term says `base`.

use std::collections::VecDeque;
use std::sync::Arc;

use embody_hal::Image;

use embody_model::spatial::{Mat3, Vec3};
use embody_model::{Data, FrameId, Model, frame_placements};
use nalgebra::UnitQuaternion;

use crate::manifest::{GoalFrame, ImageLayout, ImageTerm, Manifest, PerElement, Term, TermKind};
use crate::stats::Normalizer;

/// The command a policy follows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Command {
    /// Base velocity forward, left (m/s) and yaw rate (rad/s).
    pub velocity: [f64; 3],
    /// A goal position in the world (m).
    pub goal: [f64; 3],
}

/// A command's keys: the velocity's `vx vy wz`, then the goal's `x y z`.
pub const COMMAND_KEYS: [&str; 6] = ["vx", "vy", "wz", "x", "y", "z"];

impl Command {
    /// The command `values` give by key ([`COMMAND_KEYS`]); on an unknown key, the key.
    pub fn from_values<'a>(
        values: impl IntoIterator<Item = (&'a String, &'a f64)>,
    ) -> Result<Command, String> {
        let mut command = Command::default();
        for (key, value) in values {
            match COMMAND_KEYS.iter().position(|k| k == key) {
                Some(i @ 0..3) => command.velocity[i] = *value,
                Some(i) => command.goal[i - 3] = *value,
                None => return Err(key.clone()),
            }
        }
        Ok(command)
    }
}

/// The robot's state at one policy step, as the loop's snapshot gives it.
#[derive(Clone, Copy, Debug)]
pub struct StepInput<'a> {
    /// Time since the policy started (s).
    pub t_s: f64,
    /// Actuated joint positions, the robot's order.
    pub q: &'a [f64],
    /// Actuated joint velocities.
    pub dq: &'a [f64],
    /// Actuated joint efforts, measured.
    pub tau: &'a [f64],
    /// The base's pose in the world, `x y z qx qy qz qw` (identity for a fixed base).
    pub base_pose: [f64; 7],
    /// The base's velocity in its own frame, `[vx vy vz wx wy wz]`.
    pub base_velocity: [f64; 6],
    /// What the policy is commanded to do.
    pub command: &'a Command,
    /// Objects' poses in the world, `x y z qx qy qz qw`, by name (`object_pose` terms).
    pub objects: &'a [(String, [f64; 7])],
    /// The cameras' newest images, by camera name (`image` terms).
    pub images: &'a [(String, Arc<Image>)],
}

/// One term, ready to fill.
#[derive(Clone, Debug)]
struct TermPlan {
    kind: TermKind,
    size: usize,
    scale: Vec<f64>,
    offset: Vec<f64>,
    clip: f64,
    history: usize,
    frame: Option<FrameId>,
    goal_in_base: bool,
    period_s: f64,
    object: Option<String>,
    image: Option<ImageTerm>,
    /// Past values, oldest first.
    past: VecDeque<Vec<f64>>,
}

/// Builds every network input the manifest describes.
#[derive(Clone, Debug)]
pub struct ObservationBuilder {
    inputs: Vec<(Vec<TermPlan>, Option<Normalizer>)>,
    /// Policy joint `k` is actuated joint `joints[k]` of the robot.
    joints: Vec<usize>,
    default: Vec<f64>,
    /// Configuration index of each actuated joint.
    idx_q: Vec<usize>,
    floating: bool,
    q_full: Vec<f64>,
    data: Data,
}

impl ObservationBuilder {
    /// The builder for `manifest`'s inputs on `model`, whose actuated joint `joints[k]`
    /// is the policy's joint `k`, with each input's normaliser; `frames` resolves each
    /// term's frame (checked by the package).
    pub fn new(
        manifest: &Manifest,
        model: &Model,
        joints: Vec<usize>,
        normalizers: Vec<Option<Normalizer>>,
    ) -> ObservationBuilder {
        let n = manifest.joints.len();
        let per = |v: &Option<PerElement>, size: usize, default: f64| -> Vec<f64> {
            (0..size)
                .map(|k| v.as_ref().map_or(default, |v| v.at(k)))
                .collect()
        };
        let inputs = manifest
            .inputs
            .iter()
            .zip(normalizers)
            .map(|(input, normalizer)| {
                let terms = input
                    .terms
                    .iter()
                    .map(|t: &Term| {
                        let size = t.size(n, n);
                        TermPlan {
                            kind: t.kind,
                            size,
                            scale: per(&t.scale, size, 1.0),
                            offset: per(&t.offset, size, 0.0),
                            clip: t.clip.unwrap_or(f64::INFINITY),
                            history: t.history,
                            frame: t.frame.as_deref().and_then(|f| model.frame_id(f)),
                            goal_in_base: t.goal_frame == Some(GoalFrame::Base),
                            period_s: t.period_s.unwrap_or(1.0),
                            object: t.object.clone(),
                            image: t.image.clone(),
                            past: VecDeque::with_capacity(t.history),
                        }
                    })
                    .collect();
                (terms, normalizer)
            })
            .collect();
        let default = manifest
            .joints
            .iter()
            .map(|j| manifest.default_posture.get(j).copied().unwrap_or(0.0))
            .collect();
        ObservationBuilder {
            inputs,
            joints,
            default,
            idx_q: model
                .actuated_joints()
                .map(|j| model.joints[j.0].idx_q)
                .collect(),
            floating: model.free_flyer().is_some(),
            q_full: model.neutral_configuration().as_slice().to_vec(),
            data: Data::new(model),
        }
    }

    /// Forgets the history: the next step fills every slot.
    pub fn reset(&mut self) {
        for (terms, _) in &mut self.inputs {
            for term in terms {
                term.past.clear();
            }
        }
    }

    /// Writes input `i`'s values into `out[i]` for `state`, with `last_action` the
    /// previous step's action (policy order).
    pub fn build(
        &mut self,
        model: &Model,
        state: &StepInput<'_>,
        last_action: &[f64],
        out: &mut [Vec<f32>],
    ) {
        let needs_kinematics = self.inputs.iter().any(|(terms, _)| {
            terms
                .iter()
                .any(|t| matches!(t.kind, TermKind::EePosition | TermKind::EePose))
        });
        if needs_kinematics {
            self.place_frames(model, state);
        }
        let mut raw = Vec::new();
        for ((terms, normalizer), out) in self.inputs.iter_mut().zip(out.iter_mut()) {
            let mut values: Vec<f64> = Vec::with_capacity(out.len());
            for term in terms.iter_mut() {
                raw.clear();
                observe(
                    term,
                    state,
                    &self.joints,
                    &self.default,
                    last_action,
                    &self.data,
                    &mut raw,
                );
                let shaped: Vec<f64> = raw
                    .iter()
                    .enumerate()
                    .map(|(k, x)| {
                        (term.scale[k] * (x - term.offset[k])).clamp(-term.clip, term.clip)
                    })
                    .collect();
                if term.past.is_empty() {
                    term.past.extend(std::iter::repeat_n(shaped, term.history));
                } else {
                    term.past.pop_front();
                    term.past.push_back(shaped);
                }
                for step in &term.past {
                    values.extend(step);
                }
            }
            if let Some(normalizer) = normalizer {
                normalizer.normalize(&mut values);
            }
            out.clear();
            out.extend(values.iter().map(|&x| x as f32));
        }
    }

    /// Places every frame for the state's configuration.
    fn place_frames(&mut self, model: &Model, state: &StepInput<'_>) {
        if self.floating {
            self.q_full[..7].copy_from_slice(&state.base_pose);
        }
        for (&iq, &q) in self.idx_q.iter().zip(state.q) {
            self.q_full[iq] = q;
        }
        frame_placements(model, &mut self.data, &self.q_full);
    }
}

/// The base's rotation (world from base).
fn base_rotation(pose: &[f64; 7]) -> Mat3 {
    let q = nalgebra::Quaternion::new(pose[6], pose[3], pose[4], pose[5]);
    UnitQuaternion::from_quaternion(q)
        .to_rotation_matrix()
        .into_inner()
}

/// Appends one step of `term` before scaling.
fn observe(
    term: &TermPlan,
    state: &StepInput<'_>,
    joints: &[usize],
    default: &[f64],
    last_action: &[f64],
    data: &Data,
    out: &mut Vec<f64>,
) {
    let joint = |values: &[f64], k: usize| values.get(joints[k]).copied().unwrap_or(0.0);
    match term.kind {
        TermKind::BaseLinVel => out.extend(&state.base_velocity[..3]),
        TermKind::BaseAngVel => out.extend(&state.base_velocity[3..]),
        TermKind::ProjectedGravity => {
            let g = base_rotation(&state.base_pose).transpose() * Vec3::new(0.0, 0.0, -1.0);
            out.extend(g.iter());
        }
        TermKind::VelocityCommand => out.extend(state.command.velocity),
        TermKind::GoalPosition => {
            let goal = Vec3::from(state.command.goal);
            if term.goal_in_base {
                let base = Vec3::new(state.base_pose[0], state.base_pose[1], state.base_pose[2]);
                let local = base_rotation(&state.base_pose).transpose() * (goal - base);
                out.extend(local.iter());
            } else {
                out.extend(goal.iter());
            }
        }
        TermKind::JointPos => out.extend((0..joints.len()).map(|k| joint(state.q, k) - default[k])),
        TermKind::JointVel => out.extend((0..joints.len()).map(|k| joint(state.dq, k))),
        TermKind::JointEffort => out.extend((0..joints.len()).map(|k| joint(state.tau, k))),
        TermKind::LastAction => out.extend(last_action),
        TermKind::Phase => {
            let angle = std::f64::consts::TAU * (state.t_s / term.period_s).fract();
            out.extend([angle.sin(), angle.cos()]);
        }
        TermKind::ObjectPose => {
            let name = term.object.as_deref().unwrap_or_default();
            match state.objects.iter().find(|(n, _)| n == name) {
                Some((_, pose)) => out.extend(pose),
                None => out.extend(std::iter::repeat_n(0.0, 7)),
            }
        }
        TermKind::Image => {
            if let Some(spec) = &term.image {
                let image = state.images.iter().find(|(n, _)| *n == spec.camera);
                image_values(spec, image.map(|(_, i)| i.as_ref()), out);
            }
        }
        TermKind::EePosition | TermKind::EePose => {
            let Some(frame) = term.frame else {
                out.extend(std::iter::repeat_n(0.0, term.size));
                return;
            };
            let placement = &data.world_from_frame[frame.0];
            out.extend(placement.translation.iter());
            if term.kind == TermKind::EePose {
                let r = UnitQuaternion::from_matrix(&placement.rotation);
                out.extend([r.i, r.j, r.k, r.w]);
            }
        }
    }
}

/// Appends `spec`'s values of `image` (zeros when there is none, or it has no colour):
/// its crop resized bilinearly (sampling at pixel centres, as OpenCV's `INTER_LINEAR`),
/// each channel `(v / 255 − mean) / std`, in the term's layout.
pub fn image_values(spec: &ImageTerm, image: Option<&Image>, out: &mut Vec<f64>) {
    let (w, h) = (spec.width, spec.height);
    let start = out.len();
    out.resize(start + 3 * w * h, 0.0);
    let Some(im) = image.filter(|i| i.rgb.len() == 3 * i.width as usize * i.height as usize) else {
        return;
    };
    let (iw, ih) = (im.width as usize, im.height as usize);
    if iw == 0 || ih == 0 {
        return;
    }
    let [u0, v0, cw, ch] = spec.crop.map_or([0, 0, iw, ih], |c| c.map(|x| x as usize));
    let (u0, v0) = (u0.min(iw - 1), v0.min(ih - 1));
    let (cw, ch) = (cw.clamp(1, iw - u0), ch.clamp(1, ih - v0));
    let mean = spec.mean.unwrap_or([0.0; 3]);
    let std = spec.std.unwrap_or([1.0; 3]);
    // The source coordinate of an output pixel's centre, and its two neighbours' weights.
    let taps = |i: usize, n: usize, from: usize, len: usize| {
        let x = (i as f64 + 0.5) * len as f64 / n as f64 - 0.5;
        let x = x.clamp(0.0, (len - 1) as f64);
        let lo = x.floor() as usize;
        let hi = (lo + 1).min(len - 1);
        (from + lo, from + hi, x - lo as f64)
    };
    let at = |u: usize, v: usize, c: usize| f64::from(im.rgb[3 * (v * iw + u) + c]);
    for y in 0..h {
        let (v_lo, v_hi, fy) = taps(y, h, v0, ch);
        for x in 0..w {
            let (u_lo, u_hi, fx) = taps(x, w, u0, cw);
            for c in 0..3 {
                let top = at(u_lo, v_lo, c) * (1.0 - fx) + at(u_hi, v_lo, c) * fx;
                let bottom = at(u_lo, v_hi, c) * (1.0 - fx) + at(u_hi, v_hi, c) * fx;
                let v = top * (1.0 - fy) + bottom * fy;
                let k = match spec.layout {
                    ImageLayout::Chw => c * h * w + y * w + x,
                    ImageLayout::Hwc => (y * w + x) * 3 + c,
                };
                out[start + k] = (v / 255.0 - mean[c]) / std[c];
            }
        }
    }
}
