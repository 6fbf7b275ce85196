//! The inference engine a policy runs on, behind one trait so engines can be swapped:
//! tract (pure Rust, what everyone gets) and onnxruntime behind the `ort` feature. An
//! engine is built for fixed input shapes, lists its inputs and outputs as the graph
//! declares them, and runs one step on flat `f32` vectors.

use crate::error::PolicyError;

/// A tensor as the graph declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Its name in the graph.
    pub name: String,
    /// Its dimensions; `None` where the graph leaves one open.
    pub shape: Vec<Option<usize>>,
    /// Its element type, as the engine names it (`F32`, …).
    pub dtype: String,
}

impl TensorSpec {
    /// The shape an engine runs this input with: `shape_of`'s for its name, else the
    /// graph's own when every dimension is fixed.
    pub fn run_shape(
        &self,
        shape_of: &dyn Fn(&str) -> Option<Vec<usize>>,
    ) -> Result<Vec<usize>, String> {
        match shape_of(&self.name) {
            Some(shape) => Ok(shape),
            None => (self.shape.iter().copied().collect::<Option<Vec<usize>>>()).ok_or_else(|| {
                format!("input {self} has open dimensions and no shape is given for it")
            }),
        }
    }
}

impl std::fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| d.map_or("?".to_owned(), |d| d.to_string()))
            .collect();
        write!(f, "{} [{}] {}", self.name, dims.join(", "), self.dtype)
    }
}

/// Runs a network. See the module docs.
pub trait Engine: Send {
    /// The engine's name (`tract`, `onnxruntime`).
    fn name(&self) -> &'static str;

    /// The graph's inputs, in its order.
    fn inputs(&self) -> &[TensorSpec];

    /// The graph's outputs, in its order.
    fn outputs(&self) -> &[TensorSpec];

    /// One step: `inputs` in [`Engine::inputs`] order, each flat in its shape; the
    /// outputs in [`Engine::outputs`] order, flat.
    fn run(&mut self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, PolicyError>;
}
