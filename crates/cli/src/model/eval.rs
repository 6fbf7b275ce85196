//! `embody model eval`: RNEA, ABA, CRBA and frame placements on states from a JSON file,
//! printed as JSON in world coordinates. Every input problem is reported with the state
//! index and field.

use std::collections::BTreeMap;
use std::path::Path;

use embody_model::{Data, FrameKind, Model, aba, crba, frame_placements, normalize, rnea};
use serde::Deserialize;
use serde_json::json;

use crate::error::{CliError, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    states: Vec<State>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    q: Vec<f64>,
    #[serde(default)]
    v: Option<Vec<f64>>,
    #[serde(default)]
    a: Option<Vec<f64>>,
    #[serde(default)]
    tau: Option<Vec<f64>>,
}

/// Runs `embody model eval`.
pub fn run(model: &Model, input: &Path) -> Result {
    let text = std::fs::read_to_string(input).map_err(|e| CliError::file(input, e))?;
    let parsed: Input = serde_json::from_str(&text).map_err(|e| CliError::file(input, e))?;
    let mut data = Data::new(model);
    let mut results = Vec::with_capacity(parsed.states.len());
    for (i, state) in parsed.states.iter().enumerate() {
        let at = |field: &str| format!("states[{i}].{field}");
        let checked = |values: &[f64], expected: usize, field: &str| {
            checked(values, expected, &at(field)).map_err(|e| CliError::file(input, e))
        };
        let mut q = checked(&state.q, model.nq, "q")?;
        normalize(model, &mut q);
        let zeros = vec![0.0; model.nv];
        let v = checked(state.v.as_ref().unwrap_or(&zeros), model.nv, "v")?;
        let a = checked(state.a.as_ref().unwrap_or(&zeros), model.nv, "a")?;
        let tau = checked(state.tau.as_ref().unwrap_or(&zeros), model.nv, "tau")?;
        let rnea_out = rnea(model, &mut data, &q, &v, &a).as_slice().to_vec();
        let aba_out = aba(model, &mut data, &q, &v, &tau).as_slice().to_vec();
        let m = crba(model, &mut data, &q);
        let crba_out: Vec<Vec<f64>> = m.row_iter().map(|r| r.iter().copied().collect()).collect();
        frame_placements(model, &mut data, &q);
        results.push(json!({
            "rnea": rnea_out,
            "aba": aba_out,
            "crba": crba_out,
            "frames": frames_json(model, &data),
        }));
    }
    println!("{}", json!({ "results": results }));
    Ok(())
}

fn checked(values: &[f64], expected: usize, at: &str) -> std::result::Result<Vec<f64>, String> {
    if values.len() != expected {
        return Err(format!(
            "{at}: has {} values, the model needs {expected}",
            values.len()
        ));
    }
    Ok(values.to_vec())
}

/// Frames by name; where a joint frame shares a link's name, the link's is given.
fn frames_json(model: &Model, data: &Data) -> BTreeMap<String, serde_json::Value> {
    let mut frames = BTreeMap::new();
    for (f, frame) in model.frames.iter().enumerate() {
        if frame.kind != FrameKind::Link && frames.contains_key(&frame.name) {
            continue;
        }
        let x = &data.world_from_frame[f];
        let rotation: Vec<Vec<f64>> = x
            .rotation
            .row_iter()
            .map(|r| r.iter().copied().collect())
            .collect();
        frames.insert(
            frame.name.clone(),
            json!({ "translation": x.translation.as_slice(), "rotation": rotation }),
        );
    }
    frames
}
