//! From network output to joint targets. Each raw action is un-normalised (if the
//! manifest says so) and clipped — that is the "last action" the next observation
//! sees — then scaled into an impedance target per joint: position `default + scale·a`
//! with the manifest's `kp`, `kd`; velocity `scale·a` with `kd`; torque `scale·a`.
//! Chunked outputs are queued (`execute` steps per inference) or blended by temporal
//! ensembling (ACT: each step's action is the mean of every chunk's prediction for it,
//! weighted `wᵢ = exp(−m·i)` with `w₀` the oldest).

use std::collections::VecDeque;

use embody_hal::JointCommand;

use crate::error::PolicyError;
use crate::manifest::{ActionKind, Blend, Manifest};
use crate::stats::Normalizer;

/// Turns outputs into actions and actions into targets. See the module docs.
#[derive(Clone, Debug)]
pub struct ActionMapper {
    kind: ActionKind,
    /// Values per action (the policy's joints).
    size: usize,
    scale: Vec<f64>,
    clip: f64,
    kp: Vec<f64>,
    kd: Vec<f64>,
    default: Vec<f64>,
    normalizer: Option<Normalizer>,
    /// Steps per chunk (1: no chunks).
    length: usize,
    /// Steps executed per inference.
    execute: usize,
    ensemble: Option<Ensemble>,
    /// Actions ready to execute, oldest first.
    queue: VecDeque<Vec<f64>>,
}

/// Temporal ensembling's running state.
#[derive(Clone, Debug)]
struct Ensemble {
    /// `wᵢ` for i = 0..length.
    weights: Vec<f64>,
    /// For each future step: the weighted mean so far and how many chunks made it.
    slots: VecDeque<(Vec<f64>, usize)>,
}

impl ActionMapper {
    /// The mapper `manifest` describes, with the action's normaliser.
    pub fn new(manifest: &Manifest, normalizer: Option<Normalizer>) -> ActionMapper {
        let a = &manifest.action;
        let size = manifest.action_size();
        let per = |v: &Option<crate::manifest::PerElement>, default: f64| -> Vec<f64> {
            (0..size)
                .map(|k| v.as_ref().map_or(default, |v| v.at(k)))
                .collect()
        };
        let (length, ensemble) = match &a.chunk {
            Some(c) => (
                c.length,
                (c.blend == Blend::TemporalEnsemble).then(|| {
                    let m = c.coeff.unwrap_or(0.01);
                    Ensemble {
                        weights: (0..c.length).map(|i| (-m * i as f64).exp()).collect(),
                        slots: VecDeque::new(),
                    }
                }),
            ),
            None => (1, None),
        };
        ActionMapper {
            kind: a.kind,
            size,
            scale: per(&a.scale, 1.0),
            clip: a.clip.unwrap_or(f64::INFINITY),
            kp: per(&a.kp, 0.0),
            kd: per(&a.kd, 0.0),
            default: manifest
                .joints
                .iter()
                .map(|j| manifest.default_posture.get(j).copied().unwrap_or(0.0))
                .collect(),
            normalizer,
            length,
            execute: a.steps_per_inference(),
            ensemble,
            queue: VecDeque::new(),
        }
    }

    /// The values the action output must hold.
    pub fn output_len(&self) -> usize {
        self.length * self.size
    }

    /// Forgets queued actions and blends.
    pub fn reset(&mut self) {
        self.queue.clear();
        if let Some(e) = &mut self.ensemble {
            e.slots.clear();
        }
    }

    /// Whether the next step needs an inference.
    pub fn needs_inference(&self) -> bool {
        self.queue.is_empty()
    }

    /// Takes one inference's output (`length × size` values): queues what it executes.
    /// A non-finite value refuses the whole output.
    pub fn accept(&mut self, output: &[f32]) -> Result<(), PolicyError> {
        if output.len() != self.output_len() {
            return Err(PolicyError::Inference(format!(
                "the action output has {} values, not {}",
                output.len(),
                self.output_len()
            )));
        }
        if let Some(k) = output.iter().position(|x| !x.is_finite()) {
            return Err(PolicyError::NonFinite {
                index: k,
                value: output[k],
            });
        }
        let actions: Vec<Vec<f64>> = output
            .chunks(self.size)
            .map(|raw| {
                let mut a: Vec<f64> = raw.iter().map(|&x| f64::from(x)).collect();
                if let Some(n) = &self.normalizer {
                    n.denormalize(&mut a);
                }
                a.iter_mut()
                    .for_each(|x| *x = x.clamp(-self.clip, self.clip));
                a
            })
            .collect();
        match &mut self.ensemble {
            None => self.queue.extend(actions.into_iter().take(self.execute)),
            Some(e) => {
                // Blend the new chunk into the slots of the steps it predicts.
                for (i, action) in actions.into_iter().enumerate() {
                    if i == e.slots.len() {
                        e.slots.push_back((action, 1));
                        continue;
                    }
                    let (mean, count) = &mut e.slots[i];
                    let before: f64 = e.weights[..*count].iter().sum();
                    let w = e.weights[(*count).min(e.weights.len() - 1)];
                    for (m, x) in mean.iter_mut().zip(&action) {
                        *m = (*m * before + x * w) / (before + w);
                    }
                    *count = (*count + 1).min(e.weights.len());
                }
                if let Some((first, _)) = e.slots.pop_front() {
                    self.queue.push_back(first);
                }
            }
        }
        Ok(())
    }

    /// The next action to execute (clipped, un-normalised, before scaling).
    pub fn next_action(&mut self) -> Option<Vec<f64>> {
        self.queue.pop_front()
    }

    /// Joint `k`'s target for action value `a` (policy order).
    pub fn target(&self, k: usize, a: f64) -> JointCommand {
        let value = self.scale[k] * a;
        match self.kind {
            ActionKind::Position => JointCommand::Impedance {
                q: self.default[k] + value,
                dq: 0.0,
                kp: self.kp[k],
                kd: self.kd[k],
                tau_ff: 0.0,
            },
            ActionKind::Velocity => JointCommand::Impedance {
                q: 0.0,
                dq: value,
                kp: 0.0,
                kd: self.kd[k],
                tau_ff: 0.0,
            },
            ActionKind::Torque => JointCommand::Torque { tau: value },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(action: &str) -> Manifest {
        let text = format!(
            "name = \"t\"\nrate_hz = 30.0\njoints = [\"a\", \"b\"]\ndefault_posture = {{ a = 0.5 }}\n\
             [[inputs]]\nname = \"obs\"\nterms = [{{ kind = \"joint_pos\" }}]\n[action]\n{action}"
        );
        Manifest::parse(&text, Path::new("policy.toml")).expect("manifest")
    }

    #[test]
    fn position_targets_are_default_plus_scaled_clipped_action() {
        let m = manifest(
            "output = \"actions\"\nkind = \"position\"\nscale = 0.25\nclip = 2.0\nkp = [40.0, 30.0]\nkd = 1.0\n",
        );
        let mut mapper = ActionMapper::new(&m, None);
        mapper.accept(&[1.0, -8.0]).expect("accept");
        let a = mapper.next_action().expect("action");
        assert_eq!(a, vec![1.0, -2.0], "clipped before scaling");
        assert_eq!(
            mapper.target(0, a[0]),
            JointCommand::Impedance {
                q: 0.75,
                dq: 0.0,
                kp: 40.0,
                kd: 1.0,
                tau_ff: 0.0
            }
        );
        assert_eq!(
            mapper.target(1, a[1]),
            JointCommand::Impedance {
                q: -0.5,
                dq: 0.0,
                kp: 30.0,
                kd: 1.0,
                tau_ff: 0.0
            }
        );
        assert!(mapper.needs_inference());
        assert!(matches!(
            mapper.accept(&[f32::NAN, 0.0]),
            Err(PolicyError::NonFinite { index: 0, .. })
        ));
    }

    #[test]
    fn a_chunk_executes_its_first_steps_in_order() {
        let m = manifest(
            "output = \"actions\"\nkind = \"torque\"\nchunk = { length = 3, execute = 2 }\n",
        );
        let mut mapper = ActionMapper::new(&m, None);
        mapper
            .accept(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .expect("accept");
        assert_eq!(mapper.next_action(), Some(vec![1.0, 2.0]));
        assert_eq!(mapper.next_action(), Some(vec![3.0, 4.0]));
        assert_eq!(
            mapper.next_action(),
            None,
            "the third step is never executed"
        );
    }

    #[test]
    fn temporal_ensembling_weights_the_oldest_prediction_most() {
        let m = manifest(
            "output = \"actions\"\nkind = \"torque\"\nchunk = { length = 3, blend = \"temporal_ensemble\", coeff = 0.5 }\n",
        );
        let mut mapper = ActionMapper::new(&m, None);
        // Chunk 1 predicts steps 0, 1, 2; chunk 2 (one step later) steps 1, 2, 3.
        mapper
            .accept(&[0.0, 0.0, 10.0, 10.0, 20.0, 20.0])
            .expect("first");
        assert_eq!(mapper.next_action(), Some(vec![0.0, 0.0]));
        mapper
            .accept(&[30.0, 30.0, 40.0, 40.0, 50.0, 50.0])
            .expect("second");
        // Step 1: chunk 1 said 10 (w₀ = 1), chunk 2 said 30 (w₁ = e^-0.5).
        let w1 = (-0.5f64).exp();
        let expected = (10.0 + 30.0 * w1) / (1.0 + w1);
        let step1 = mapper.next_action().expect("step 1");
        assert!(
            (step1[0] - expected).abs() < 1e-12,
            "{step1:?} vs {expected}"
        );
    }
}
