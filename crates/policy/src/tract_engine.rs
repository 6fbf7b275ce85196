//! The tract engine: the ONNX graph read with `tract-onnx` ([`TractGraph`], whose declared
//! inputs can be checked before anything is built), typed and optimised for the
//! package's input shapes (an op tract lacks is found here, at load, not at the first
//! step), and run with its state kept between steps ([`TractEngine`]).

use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid as _;
use tract_onnx::tract_hir::internal::DimLike as _;

use crate::engine::{Engine, TensorSpec};
use crate::error::{PolicyError, Problem};

/// Largest network file read (bytes).
pub const MAX_ONNX_BYTES: u64 = 1 << 30;

/// See the module docs.
pub struct TractEngine {
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    /// Each input's shape as run.
    shapes: Vec<Vec<usize>>,
    state: TypedSimpleState,
}

/// An ONNX graph read, before it is built for a package's shapes.
pub struct TractGraph {
    path: std::path::PathBuf,
    model: InferenceModel,
    inputs: Vec<TensorSpec>,
}

impl TractGraph {
    /// Reads the graph at `path`.
    pub fn read(path: &Path) -> Result<TractGraph, Problem> {
        let problem = |reason: String| Problem::new(path, "", reason);
        check_size(path)?;
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_path(path)
            .map_err(|e| problem(format!("not a readable ONNX graph: {e:#}")))?;
        if let Some(graph) = &proto.graph {
            recurrent_nodes_tract_runs(graph).map_err(problem)?;
        }
        let model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| problem(format!("not a readable ONNX graph: {e:#}")))?;
        let inputs = declared_inputs(&model).map_err(|e| problem(format!("{e:#}")))?;
        Ok(TractGraph {
            path: path.to_owned(),
            model,
            inputs,
        })
    }

    /// The graph's inputs as it declares them.
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// Builds the graph for the input shapes `shape_of` gives by input name (`None`: the
    /// graph's own, which must then be fixed). An op tract lacks is found here.
    pub fn build(
        self,
        shape_of: &dyn Fn(&str) -> Option<Vec<usize>>,
    ) -> Result<TractEngine, Problem> {
        let path = self.path;
        let problem = |reason: String| Problem::new(&path, "", reason);
        let mut model = self.model;
        let mut shapes = Vec::with_capacity(self.inputs.len());
        for (ix, spec) in self.inputs.iter().enumerate() {
            let shape = spec.run_shape(shape_of).map_err(problem)?;
            model
                .set_input_fact(ix, f32::fact(shape.as_slice()).into())
                .map_err(|e| problem(format!("input {}: {e:#}", spec.name)))?;
            shapes.push(shape);
        }
        let cannot = |e: TractError| problem(format!("tract cannot run this graph: {e:#}"));
        let typed = model.into_optimized().map_err(cannot)?;
        // Outputs as typed for these inputs: the graph's own declarations may be empty.
        let outputs = typed_outputs(&typed).map_err(cannot)?;
        let plan = typed.into_runnable().map_err(cannot)?;
        let state = plan.spawn().map_err(cannot)?;
        Ok(TractEngine {
            inputs: self.inputs,
            outputs,
            shapes,
            state,
        })
    }
}

/// The graph's inputs as it declares them.
fn declared_inputs(model: &InferenceModel) -> TractResult<Vec<TensorSpec>> {
    let outlets = model.input_outlets()?;
    (0..outlets.len())
        .map(|ix| {
            let fact = model.input_fact(ix)?;
            Ok(TensorSpec {
                name: model.node(outlets[ix].node).name.clone(),
                shape: fact
                    .shape
                    .dims()
                    .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
                    .collect(),
                dtype: fact
                    .datum_type()
                    .map_or_else(|| "?".to_owned(), |t| format!("{t:?}")),
            })
        })
        .collect()
}

/// The typed graph's outputs, named as the ONNX graph names them.
fn typed_outputs(model: &TypedModel) -> TractResult<Vec<TensorSpec>> {
    let outlets = model.output_outlets()?;
    (0..outlets.len())
        .map(|ix| {
            let fact = model.output_fact(ix)?;
            let outlet = outlets[ix];
            Ok(TensorSpec {
                name: model
                    .outlet_label(outlet)
                    .map_or_else(|| model.node(outlet.node).name.clone(), str::to_owned),
                shape: fact.shape.iter().map(|d| d.as_usize()).collect(),
                dtype: format!("{:?}", fact.datum_type),
            })
        })
        .collect()
}

impl Engine for TractEngine {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn run(&mut self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, PolicyError> {
        let fail = |e: TractError| PolicyError::Inference(format!("{e:#}"));
        let tensors = inputs
            .iter()
            .zip(&self.shapes)
            .map(|(data, shape)| Tensor::from_shape(shape, data).map(IntoTValue::into_tvalue))
            .collect::<TractResult<TVec<TValue>>>()
            .map_err(fail)?;
        let outputs = self.state.run(tensors).map_err(fail)?;
        outputs
            .iter()
            .map(|t| Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()))
            .collect::<TractResult<Vec<Vec<f32>>>>()
            .map_err(fail)
    }
}

/// Refuses a network file that cannot be read or is past [`MAX_ONNX_BYTES`].
pub fn check_size(path: &Path) -> Result<(), Problem> {
    let problem = |reason: String| Problem::new(path, "", reason);
    let size = std::fs::metadata(path)
        .map_err(|e| problem(format!("cannot read the network: {e}")))?
        .len();
    if size > MAX_ONNX_BYTES {
        return Err(problem(format!(
            "{size} bytes, more than the {MAX_ONNX_BYTES}-byte limit of a network"
        )));
    }
    Ok(())
}

/// Refuses the recurrent nodes (GRU, LSTM, RNN) tract would run differently from the
/// graph: tract's cells take the standard activations and run forward, whatever the
/// node's `activations`, `direction`, `clip` or `input_forget` say.
fn recurrent_nodes_tract_runs(graph: &tract_onnx::pb::GraphProto) -> Result<(), String> {
    for node in &graph.node {
        let defaults: &[&str] = match node.op_type.as_str() {
            "GRU" => &["Sigmoid", "Tanh"],
            "LSTM" => &["Sigmoid", "Tanh", "Tanh"],
            "RNN" => &["Tanh"],
            _ => continue,
        };
        let what = match node.name.as_str() {
            "" => format!("{} node", node.op_type),
            name => format!("{} node '{name}'", node.op_type),
        };
        for attr in &node.attribute {
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            match attr.name.as_str() {
                "direction" if attr.s != b"forward" => {
                    return Err(format!(
                        "the {what} runs {}: only forward recurrence runs here",
                        text(&attr.s)
                    ));
                }
                "activations" => {
                    let given: Vec<String> = attr.strings.iter().map(|s| text(s)).collect();
                    let standard = given
                        .iter()
                        .zip(defaults.iter().cycle())
                        .all(|(g, d)| g.eq_ignore_ascii_case(d));
                    if !standard {
                        return Err(format!(
                            "the {what} has activations {given:?}: only the standard {defaults:?} run here"
                        ));
                    }
                }
                "clip" => return Err(format!("the {what} clips its cell: not supported here")),
                "input_forget" if attr.i != 0 => {
                    return Err(format!(
                        "the {what} couples its input and forget gates: not supported here"
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}
