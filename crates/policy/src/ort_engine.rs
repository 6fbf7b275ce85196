//! The onnxruntime engine (feature `ort`): the ONNX Runtime library opened at run time —
//! the PyPI wheel's `libonnxruntime.so`, named by `ORT_DYLIB_PATH` ([`init`]; nothing is
//! downloaded or linked at build) — with the one environment a process may have, and a
//! session per network ([`OrtGraph`], whose declared inputs can be checked before
//! anything runs) built for the package's input shapes and run once on zeros at load, so
//! an op the library lacks is found there and the outputs' shapes are known
//! ([`OrtEngine`]). Sessions run on the calling thread alone (one intra-op thread): the
//! policy runs beside the control loop.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, TensorElementType, TensorRef, ValueType};

use crate::engine::{Engine, TensorSpec};
use crate::error::{PolicyError, Problem};
use crate::tract_engine::check_size;

/// The environment variable naming the ONNX Runtime library.
pub const LIBRARY_VAR: &str = "ORT_DYLIB_PATH";

/// The library opened when [`LIBRARY_VAR`] is unset: found on the loader's search path.
pub const DEFAULT_LIBRARY: &str = "libonnxruntime.so";

/// The process's environment, once made (ONNX Runtime allows one per process).
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// The library [`init`] opens for `library`: it, else [`LIBRARY_VAR`], else
/// [`DEFAULT_LIBRARY`].
pub fn library_path(library: Option<&Path>) -> PathBuf {
    match library {
        Some(path) => path.to_owned(),
        None => std::env::var_os(LIBRARY_VAR)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_LIBRARY), PathBuf::from),
    }
}

/// Opens the ONNX Runtime library ([`library_path`]) and makes the process's environment,
/// at the first success; later calls return at once, whatever `library` says (a process
/// keeps the library it opened). A failure is not kept: a later call tries again.
pub fn init(library: Option<&Path>) -> Result<(), Problem> {
    environment(library).map(|_| ())
}

/// The process's environment, made by [`init`] if it is not yet.
fn environment(library: Option<&Path>) -> Result<Environment, Problem> {
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(env) = slot.as_ref() {
        return Ok(env.clone());
    }
    let path = library_path(library);
    let builder = ort::init_from(&path).map_err(|e| {
        Problem::new(
            &path,
            "",
            format!(
                "cannot load the ONNX Runtime library ({e}): set {LIBRARY_VAR} to the \
                 onnxruntime wheel's onnxruntime/capi/libonnxruntime.so.* \
                 (scripts/policy_venv.sh installs one in .venv-policy)"
            ),
        )
    })?;
    let env = builder
        .with_name("embody")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            Problem::new(
                &path,
                "",
                format!("cannot make the ONNX Runtime environment: {e}"),
            )
        })?;
    *slot = Some(env.clone());
    Ok(env)
}

/// See the module docs.
pub struct OrtEngine {
    session: Session,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    /// Each input's shape as run.
    shapes: Vec<Vec<usize>>,
}

/// An ONNX graph loaded into a session, before it is built for a package's shapes.
pub struct OrtGraph {
    path: PathBuf,
    session: Session,
    inputs: Vec<TensorSpec>,
}

impl OrtGraph {
    /// Loads the graph at `path` (opening the library first if need be, see [`init`]).
    pub fn read(path: &Path) -> Result<OrtGraph, Problem> {
        let problem = |reason: String| Problem::new(path, "", reason);
        check_size(path)?;
        let env = environment(None)?;
        let cannot = |e: String| problem(format!("onnxruntime cannot load this graph: {e}"));
        let session = Session::builder(&env)
            .map_err(|e| cannot(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| cannot(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| cannot(e.to_string()))?
            .with_parallel_execution(false)
            .map_err(|e| cannot(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| cannot(e.to_string()))?;
        let inputs = session
            .inputs()
            .iter()
            .map(|i| spec(i.name(), i.dtype()))
            .collect();
        Ok(OrtGraph {
            path: path.to_owned(),
            session,
            inputs,
        })
    }

    /// The graph's inputs as it declares them.
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// Builds the graph for the input shapes `shape_of` gives by input name (`None`: the
    /// graph's own, which must then be fixed), and runs it once on zeros: an op the
    /// library lacks is found here, and the outputs' shapes are the ones run.
    pub fn build(
        self,
        shape_of: &dyn Fn(&str) -> Option<Vec<usize>>,
    ) -> Result<OrtEngine, Problem> {
        let path = self.path;
        let problem = |reason: String| Problem::new(&path, "", reason);
        let mut shapes = Vec::with_capacity(self.inputs.len());
        for spec in &self.inputs {
            if spec.dtype != "F32" {
                return Err(problem(format!("the graph's input {spec} is not f32")));
            }
            let shape = spec.run_shape(shape_of).map_err(problem)?;
            shapes.push(shape);
        }
        let mut session = self.session;
        let names: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        let zeros: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| vec![0.0; s.iter().product()])
            .collect();
        let outputs = {
            let values = run(&mut session, &shapes, &zeros)
                .map_err(|e| problem(format!("onnxruntime cannot run this graph: {e}")))?;
            names
                .iter()
                .zip(values.iter())
                .map(|(name, value)| spec(name, value.dtype()))
                .collect()
        };
        Ok(OrtEngine {
            session,
            inputs: self.inputs,
            outputs,
            shapes,
        })
    }
}

/// One run of `session` on `inputs` (graph order, each flat in its shape in `shapes`).
fn run(
    session: &mut Session,
    shapes: &[Vec<usize>],
    inputs: &[Vec<f32>],
) -> ort::Result<Vec<DynValue>> {
    let values = inputs
        .iter()
        .zip(shapes)
        .map(|(data, shape)| {
            TensorRef::from_array_view((shape.as_slice(), data.as_slice()))
                .map(SessionInputValue::from)
        })
        .collect::<ort::Result<Vec<SessionInputValue<'_>>>>()?;
    let outputs = session.run(values.as_slice())?;
    Ok(outputs.into_iter().map(|(_, value)| value).collect())
}

/// A graph input's or output's spec: open dimensions (`-1`) as `None`, the element type
/// named as tract names it (`F32`, …) so the package's checks read the same.
fn spec(name: &str, dtype: &ValueType) -> TensorSpec {
    let (shape, dtype) = match dtype {
        ValueType::Tensor { ty, shape, .. } => (
            shape.iter().map(|&d| usize::try_from(d).ok()).collect(),
            element_name(*ty),
        ),
        ValueType::Sequence(_) => (Vec::new(), "Sequence".to_owned()),
        ValueType::Map { .. } => (Vec::new(), "Map".to_owned()),
        ValueType::Optional(_) => (Vec::new(), "Optional".to_owned()),
    };
    TensorSpec {
        name: name.to_owned(),
        shape,
        dtype,
    }
}

/// An element type as tract's `DatumType` prints it, where it has one.
fn element_name(ty: TensorElementType) -> String {
    let name = match ty {
        TensorElementType::Float32 => "F32",
        TensorElementType::Float64 => "F64",
        TensorElementType::Float16 => "F16",
        TensorElementType::Int8 => "I8",
        TensorElementType::Int16 => "I16",
        TensorElementType::Int32 => "I32",
        TensorElementType::Int64 => "I64",
        TensorElementType::Uint8 => "U8",
        TensorElementType::Uint16 => "U16",
        TensorElementType::Uint32 => "U32",
        TensorElementType::Uint64 => "U64",
        TensorElementType::Bool => "Bool",
        TensorElementType::String => "String",
        other => return format!("{other:?}"),
    };
    name.to_owned()
}

impl Engine for OrtEngine {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    fn run(&mut self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, PolicyError> {
        if inputs.len() != self.shapes.len() {
            return Err(PolicyError::Inference(format!(
                "{} inputs given, and the graph has {}",
                inputs.len(),
                self.shapes.len()
            )));
        }
        let fail = |e: ort::Error| PolicyError::Inference(e.to_string());
        let outputs = run(&mut self.session, &self.shapes, inputs).map_err(fail)?;
        outputs
            .iter()
            .map(|value| {
                value
                    .try_extract_tensor::<f32>()
                    .map(|(_, data)| data.to_vec())
            })
            .collect::<ort::Result<Vec<Vec<f32>>>>()
            .map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test here that opens a library: a process keeps the first it opens.
    #[test]
    fn a_library_that_cannot_be_loaded_says_how_to_name_one() {
        let missing = Path::new("/nonexistent/libonnxruntime.so.1.31.1");
        let Err(problem) = init(Some(missing)) else {
            panic!("a missing library loaded");
        };
        assert_eq!(problem.file, missing);
        assert!(problem.reason.contains(LIBRARY_VAR), "{problem}");
        assert!(
            problem.reason.contains("capi/libonnxruntime.so"),
            "{problem}"
        );
    }
}
