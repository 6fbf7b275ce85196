//! A policy package loaded and checked — [`Package`]: the manifest against the robot
//! (every joint and frame exists, the default posture is within the limits) and against
//! the ONNX graph (every input fed and every fed input there, shapes and element types,
//! the action's size, recurrent pairs of equal shape) — and run — [`Policy`]: one step
//! turns the robot's state into the network's inputs, runs it, carries its recurrent
//! state and turns its output into impedance targets for the policy's joints.

use std::path::{Path, PathBuf};

use embody_hal::JointCommand;
use embody_model::Model;

use crate::act::ActionMapper;
use crate::engine::{Engine, TensorSpec};
use crate::error::{PolicyError, Problem};
use crate::manifest::{Manifest, TermKind};
use crate::observe::{Command, ObservationBuilder, StepInput};
use crate::stats::{Normalizer, Stats};
use crate::tract_engine::{TractEngine, TractGraph};

/// Largest manifest or statistics file read (bytes).
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// A package read and checked against a robot. See the module docs.
#[derive(Clone, Debug)]
pub struct Package {
    /// The package directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Policy joint `k` is the robot's actuated joint `joints[k]`.
    pub joints: Vec<usize>,
    /// Each input's normaliser, in manifest order.
    input_normalizers: Vec<Option<Normalizer>>,
    action_normalizer: Option<Normalizer>,
}

/// A text file of the package, size-checked before it is read.
fn read_text(path: &Path) -> Result<String, Problem> {
    let problem = |reason: String| Problem::new(path, "", reason);
    let size = std::fs::metadata(path)
        .map_err(|e| problem(format!("cannot read: {e}")))?
        .len();
    if size > MAX_TEXT_BYTES {
        return Err(problem(format!(
            "{size} bytes, more than the {MAX_TEXT_BYTES}-byte limit"
        )));
    }
    std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read: {e}")))
}

/// Reads and checks `dir`'s manifest on its own (not against a robot or the graph).
pub fn read_manifest(dir: &Path) -> Result<Manifest, PolicyError> {
    let file = dir.join("policy.toml");
    Manifest::parse(&read_text(&file)?, &file).map_err(PolicyError::Problems)
}

/// The robot a package runs on: `robot` if given (a built-in name or a URDF path), else
/// the manifest's (a URDF path there is relative to the package), with the manifest's
/// floating base unless `floating_base` says otherwise.
pub fn robot_for(
    dir: &Path,
    robot: Option<&str>,
    floating_base: Option<bool>,
) -> Result<Model, PolicyError> {
    let file = dir.join("policy.toml");
    let manifest = read_manifest(dir)?;
    let (name, floating) = robot_name(dir, &manifest, robot, floating_base)?;
    let key = if robot.is_some() { "--robot" } else { "robot" };
    embody_model::robots::load(&name, floating)
        .map_err(|e| Problem::new(&file, key, e.to_string()).into())
}

/// The robot `manifest` (in `dir`) runs on, as [`robot_for`] loads it: `robot` if given,
/// else the manifest's (a built-in name, or a URDF path made relative to the package),
/// and whether its base floats when that is said.
pub fn robot_name(
    dir: &Path,
    manifest: &Manifest,
    robot: Option<&str>,
    floating_base: Option<bool>,
) -> Result<(String, Option<bool>), PolicyError> {
    let name = match (robot, &manifest.robot) {
        (Some(r), _) => r.to_owned(),
        (None, Some(r)) if embody_model::robots::builtin(r).is_some() => r.clone(),
        (None, Some(r)) => dir.join(r).display().to_string(),
        (None, None) => {
            let file = dir.join("policy.toml");
            return Err(Problem::new(&file, "robot", "names no robot: give one (--robot)").into());
        }
    };
    Ok((name, floating_base.or(manifest.floating_base)))
}

impl Package {
    /// Reads the package in `dir` and checks it against `model`.
    pub fn load(dir: &Path, model: &Model) -> Result<Package, PolicyError> {
        let file = dir.join("policy.toml");
        let manifest = Manifest::parse(&read_text(&file)?, &file).map_err(PolicyError::Problems)?;
        let mut problems = Vec::new();
        let actuated: Vec<&str> = model
            .actuated_joints()
            .map(|j| model.joints[j.0].name.as_str())
            .collect();
        let mut joints = Vec::with_capacity(manifest.joints.len());
        for (k, name) in manifest.joints.iter().enumerate() {
            match actuated.iter().position(|a| a == name) {
                Some(j) => joints.push(j),
                None => problems.push(Problem::new(
                    &file,
                    format!("joints[{k}]"),
                    format!("{} has no actuated joint named '{name}'", model.name),
                )),
            }
        }
        for (name, value) in manifest
            .default_posture
            .iter()
            .map(|(n, v)| ("default_posture", n, v))
            .chain(
                manifest
                    .start
                    .iter()
                    .flat_map(|s| s.posture.iter().map(|(n, v)| ("start.posture", n, v))),
            )
            .map(|(table, n, v)| (format!("{table}.{n}"), (n, v)))
        {
            let (joint, value) = value;
            let limits = model
                .joints
                .iter()
                .find(|j| &j.name == joint)
                .map(|j| j.limits);
            match limits {
                None => problems.push(Problem::new(&file, name, "no such joint")),
                Some(l) if *value < l.lower || *value > l.upper => problems.push(Problem::new(
                    &file,
                    name,
                    format!(
                        "{value} is outside the joint's limits [{}, {}]",
                        l.lower, l.upper
                    ),
                )),
                Some(_) => {}
            }
        }
        for (i, input) in manifest.inputs.iter().enumerate() {
            for (t, term) in input.terms.iter().enumerate() {
                if let Some(frame) = &term.frame
                    && model.frame_id(frame).is_none()
                {
                    problems.push(Problem::new(
                        &file,
                        format!("inputs[{i}].terms[{t}].frame"),
                        format!("{} has no frame named '{frame}'", model.name),
                    ));
                }
                let base_term = matches!(term.kind, TermKind::BaseLinVel | TermKind::BaseAngVel);
                if base_term && model.free_flyer().is_none() {
                    problems.push(Problem::new(
                        &file,
                        format!("inputs[{i}].terms[{t}].kind"),
                        "observes a floating base, and this robot's base is fixed",
                    ));
                }
            }
        }
        if let Some(crate::manifest::Episode {
            success: crate::manifest::Success::Reach { frame, .. },
            ..
        }) = &manifest.episode
            && model.frame_id(frame).is_none()
        {
            problems.push(Problem::new(
                &file,
                "episode.success.frame",
                format!("{} has no frame named '{frame}'", model.name),
            ));
        }
        if let Err(key) = Command::from_values(&manifest.command) {
            problems.push(Problem::new(
                &file,
                format!("command.{key}"),
                "is not a command (vx, vy, wz, x, y, z)",
            ));
        }
        let stats = match &manifest.stats {
            Some(name) => {
                let path = dir.join(name);
                Some((Stats::parse(&read_text(&path)?, &path)?, path))
            }
            None => None,
        };
        let mut normalizer =
            |spec: &Option<crate::manifest::Normalize>, size: usize, key: String| {
                let spec = spec.as_ref()?;
                match &stats {
                    Some((stats, path)) => match stats.normalizer(spec, size, path) {
                        Ok(n) => Some(n),
                        Err(p) => {
                            problems.push(p);
                            None
                        }
                    },
                    None => {
                        problems.push(Problem::new(
                            &file,
                            key,
                            "normalises, and the manifest names no `stats` file",
                        ));
                        None
                    }
                }
            };
        let input_normalizers = (0..manifest.inputs.len())
            .map(|i| {
                normalizer(
                    &manifest.inputs[i].normalize,
                    manifest.input_size(i),
                    format!("inputs[{i}].normalize"),
                )
            })
            .collect();
        let action_normalizer = normalizer(
            &manifest.action.normalize,
            manifest.action_size(),
            "action.normalize".into(),
        );
        if !problems.is_empty() {
            return Err(PolicyError::Problems(problems));
        }
        Ok(Package {
            dir: dir.to_owned(),
            manifest,
            joints,
            input_normalizers,
            action_normalizer,
        })
    }

    /// The builder of the network's inputs for `model` (the one the package was checked
    /// against).
    pub fn observation_builder(&self, model: &Model) -> ObservationBuilder {
        ObservationBuilder::new(
            &self.manifest,
            model,
            self.joints.clone(),
            self.input_normalizers.clone(),
        )
    }

    /// The network's file.
    pub fn onnx_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.onnx)
    }

    /// The shape the manifest gives input `name`, if it feeds it.
    fn input_shape_of(&self, name: &str) -> Option<Vec<usize>> {
        let m = &self.manifest;
        (m.inputs.iter())
            .position(|i| i.name == name)
            .map(|i| m.input_shape(i))
    }

    /// Refuses a graph whose declared inputs the manifest does not fill.
    fn check_inputs(&self, inputs: &[TensorSpec]) -> Result<(), PolicyError> {
        let problems = self.input_problems(inputs);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Problems(problems))
        }
    }

    /// The package's network on tract, checked against the manifest.
    pub fn tract(&self) -> Result<TractEngine, PolicyError> {
        let graph = TractGraph::read(&self.onnx_path())?;
        self.check_inputs(graph.inputs())?;
        let engine = graph.build(&|name: &str| self.input_shape_of(name))?;
        self.check_graph(&engine)?;
        Ok(engine)
    }

    /// The package's network on onnxruntime (feature `ort`), checked against the manifest.
    /// The library is opened at the first use ([`crate::ort_engine::init`]).
    #[cfg(feature = "ort")]
    pub fn onnxruntime(&self) -> Result<crate::ort_engine::OrtEngine, PolicyError> {
        let graph = crate::ort_engine::OrtGraph::read(&self.onnx_path())?;
        self.check_inputs(graph.inputs())?;
        let engine = graph.build(&|name: &str| self.input_shape_of(name))?;
        self.check_graph(&engine)?;
        Ok(engine)
    }

    /// Problems between the manifest's inputs and the graph's: every manifest input is
    /// there, in a shape its terms fill.
    fn input_problems(&self, inputs: &[TensorSpec]) -> Vec<Problem> {
        let file = self.dir.join("policy.toml");
        let m = &self.manifest;
        let mut problems = Vec::new();
        for (i, input) in m.inputs.iter().enumerate() {
            match inputs.iter().find(|s| s.name == input.name) {
                None => problems.push(Problem::new(
                    &file,
                    format!("inputs[{i}].name"),
                    format!(
                        "the graph has no input '{}' (it has {})",
                        input.name,
                        names(inputs)
                    ),
                )),
                Some(spec) => {
                    let shape = m.input_shape(i);
                    let fits = spec.shape.len() == shape.len()
                        && spec
                            .shape
                            .iter()
                            .zip(&shape)
                            .all(|(d, s)| d.is_none_or(|d| d == *s));
                    if !fits {
                        problems.push(Problem::new(
                            &file,
                            format!("inputs[{i}]"),
                            format!("its terms make {shape:?}, and the graph's input is {spec}"),
                        ));
                    }
                }
            }
        }
        problems
    }

    /// Problems between the manifest and the graph `engine` runs.
    pub fn check_graph(&self, engine: &dyn Engine) -> Result<(), PolicyError> {
        let file = self.dir.join("policy.toml");
        let m = &self.manifest;
        let (inputs, outputs) = (engine.inputs(), engine.outputs());
        let mut problems = self.input_problems(inputs);
        let find = |specs: &[TensorSpec], name: &str| specs.iter().position(|s| s.name == name);
        for (r, pair) in m.recurrent.iter().enumerate() {
            let (i, o) = (find(inputs, &pair.input), find(outputs, &pair.output));
            match (i, o) {
                (Some(i), Some(o)) if inputs[i].shape != outputs[o].shape => {
                    problems.push(Problem::new(
                        &file,
                        format!("recurrent[{r}]"),
                        format!("{} and {} differ in shape", inputs[i], outputs[o]),
                    ))
                }
                (Some(_), Some(_)) => {}
                _ => problems.push(Problem::new(
                    &file,
                    format!("recurrent[{r}]"),
                    format!(
                        "'{}' must be a graph input and '{}' an output (inputs {}; outputs {})",
                        pair.input,
                        pair.output,
                        names(inputs),
                        names(outputs)
                    ),
                )),
            }
        }
        for spec in inputs {
            let fed = m.inputs.iter().any(|i| i.name == spec.name)
                || m.recurrent.iter().any(|r| r.input == spec.name);
            if !fed {
                problems.push(Problem::new(
                    &file,
                    "inputs",
                    format!("the graph's input {spec} is fed by no input or recurrent pair"),
                ));
            }
        }
        for spec in inputs.iter().chain(outputs) {
            if spec.dtype != "F32" {
                problems.push(Problem::new(
                    &file,
                    "",
                    format!("the graph's {spec} is not f32"),
                ));
            }
        }
        match find(outputs, &m.action.output) {
            None => problems.push(Problem::new(
                &file,
                "action.output",
                format!(
                    "the graph has no output '{}' (it has {})",
                    m.action.output,
                    names(outputs)
                ),
            )),
            Some(o) => {
                let want = ActionMapper::new(m, None).output_len();
                let size: Option<usize> = outputs[o].shape.iter().copied().product();
                if size.is_some_and(|s| s != want) {
                    problems.push(Problem::new(
                        &file,
                        "action",
                        format!(
                            "{} joints{} make {want} values, and the graph's output is {}",
                            m.joints.len(),
                            m.action
                                .chunk
                                .as_ref()
                                .map_or(String::new(), |c| format!(" × {} steps", c.length)),
                            outputs[o]
                        ),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Problems(problems))
        }
    }
}

/// The specs, listed.
fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReport {
    /// Whether the network ran (a chunk's later steps do not infer).
    pub inferred: bool,
    /// The action executed (policy order, clipped, before scaling).
    pub action: Vec<f64>,
}

/// A package running: engine, observation, action and recurrent state.
pub struct Policy {
    package: Package,
    engine: Box<dyn Engine>,
    observe: ObservationBuilder,
    act: ActionMapper,
    /// Each graph input's values, graph order.
    feeds: Vec<Vec<f32>>,
    /// Manifest input `i` feeds graph input `input_slot[i]`.
    input_slot: Vec<usize>,
    /// Recurrent pairs as (graph input, graph output).
    recurrent: Vec<(usize, usize)>,
    action_output: usize,
    last_action: Vec<f64>,
    /// Per manifest input, its observation (reused).
    observed: Vec<Vec<f32>>,
    /// The network's outputs at the last inference, graph order.
    outputs: Vec<Vec<f32>>,
}

impl Policy {
    /// `package` running on `engine` (checked with [`Package::check_graph`]) for `model`.
    pub fn new(
        package: Package,
        engine: Box<dyn Engine>,
        model: &Model,
    ) -> Result<Policy, PolicyError> {
        package.check_graph(engine.as_ref())?;
        let m = &package.manifest;
        let slot = |specs: &[TensorSpec], name: &str| {
            specs
                .iter()
                .position(|s| s.name == name)
                .unwrap_or(usize::MAX)
        };
        let input_slot = m
            .inputs
            .iter()
            .map(|i| slot(engine.inputs(), &i.name))
            .collect();
        let recurrent = m
            .recurrent
            .iter()
            .map(|r| {
                (
                    slot(engine.inputs(), &r.input),
                    slot(engine.outputs(), &r.output),
                )
            })
            .collect();
        let action_output = slot(engine.outputs(), &m.action.output);
        let feeds = engine
            .inputs()
            .iter()
            .map(|s| vec![0.0; s.shape.iter().map(|d| d.unwrap_or(1)).product()])
            .collect();
        let observe = package.observation_builder(model);
        let act = ActionMapper::new(m, package.action_normalizer.clone());
        let last_action = vec![0.0; m.action_size()];
        let observed = vec![Vec::new(); m.inputs.len()];
        Ok(Policy {
            package,
            engine,
            observe,
            act,
            feeds,
            input_slot,
            recurrent,
            action_output,
            last_action,
            observed,
            outputs: Vec::new(),
        })
    }

    /// The package.
    pub fn package(&self) -> &Package {
        &self.package
    }

    /// The engine's name.
    pub fn engine(&self) -> &'static str {
        self.engine.name()
    }

    /// Starts afresh: recurrent state zero, history and queued actions forgotten.
    pub fn reset(&mut self) {
        for &(input, _) in &self.recurrent {
            self.feeds[input].iter_mut().for_each(|x| *x = 0.0);
        }
        self.outputs.clear();
        self.observe.reset();
        self.act.reset();
        self.last_action.iter_mut().for_each(|a| *a = 0.0);
    }

    /// The network's inputs at the last inference, graph order (what `--record-policy`
    /// writes, so a peer can recompute the outputs).
    pub fn feeds(&self) -> &[Vec<f32>] {
        &self.feeds
    }

    /// Each manifest input's values at the last inference (manifest order; laid out as
    /// [`Manifest::layout`] says).
    pub fn observation(&self) -> &[Vec<f32>] {
        &self.observed
    }

    /// The network's outputs at the last inference, graph order.
    pub fn outputs(&self) -> &[Vec<f32>] {
        &self.outputs
    }

    /// The graph's input and output names, in order.
    pub fn io_names(&self) -> (Vec<String>, Vec<String>) {
        let names = |specs: &[TensorSpec]| specs.iter().map(|s| s.name.clone()).collect();
        (names(self.engine.inputs()), names(self.engine.outputs()))
    }

    /// Carries the last inference's recurrent outputs into this one's inputs (after a
    /// reset there are none: the state starts at zero).
    fn carry_state(&mut self) {
        for &(input, output) in &self.recurrent {
            if let Some(next) = self.outputs.get(output) {
                self.feeds[input].clone_from(next);
            }
        }
    }

    /// One step for `state`: writes each policy joint's target into `targets` (the
    /// robot's actuated order; other joints untouched).
    pub fn step(
        &mut self,
        model: &Model,
        state: &StepInput<'_>,
        targets: &mut [JointCommand],
    ) -> Result<StepReport, PolicyError> {
        let inferred = self.act.needs_inference();
        if inferred {
            self.carry_state();
            self.observe
                .build(model, state, &self.last_action, &mut self.observed);
            for (i, values) in self.observed.iter().enumerate() {
                self.feeds[self.input_slot[i]].clone_from(values);
            }
            self.outputs = self.engine.run(&self.feeds)?;
            self.act.accept(&self.outputs[self.action_output])?;
        }
        let action = self.act.next_action().ok_or_else(|| {
            PolicyError::Inference("the network gave no action to execute".into())
        })?;
        for (k, &a) in action.iter().enumerate() {
            if let Some(target) = targets.get_mut(self.package.joints[k]) {
                *target = self.act.target(k, a);
            }
        }
        self.last_action.clone_from(&action);
        Ok(StepReport { inferred, action })
    }
}
