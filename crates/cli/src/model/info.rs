//! `embody model info`: the configuration layout a user needs to build `q` and `v`.

use embody_model::Model;
use serde_json::json;

use super::finite_or_null;

/// Runs `embody model info`.
pub fn run(model: &Model, as_json: bool) -> crate::error::Result {
    if as_json {
        println!("{:#}", to_json(model));
    } else {
        print!("{}", table(model));
    }
    Ok(())
}

fn to_json(model: &Model) -> serde_json::Value {
    let joints: Vec<_> = model
        .joints
        .iter()
        .skip(1)
        .map(|j| {
            json!({
                "name": j.name,
                "type": j.kind.name(),
                "idx_q": j.idx_q,
                "nq": j.nq(),
                "idx_v": j.idx_v,
                "nv": j.nv(),
                "lower": finite_or_null(j.limits.lower),
                "upper": finite_or_null(j.limits.upper),
                "velocity": finite_or_null(j.limits.velocity),
                "effort": finite_or_null(j.limits.effort),
                "parent": model.joints[j.parent.0].name,
                "mimic": j.mimic.map(|m| json!({
                    "joint": model.joints[m.master.0].name,
                    "multiplier": m.multiplier,
                    "offset": m.offset,
                })),
            })
        })
        .collect();
    let links: Vec<_> = model
        .links
        .iter()
        .map(|l| &model.frames[l.frame.0].name)
        .collect();
    let frames: Vec<_> = model
        .frames
        .iter()
        .map(|f| json!({"name": f.name, "kind": f.kind.name(), "joint": model.joints[f.joint.0].name}))
        .collect();
    json!({
        "name": model.name,
        "nq": model.nq,
        "nv": model.nv,
        "mass_kg": model.total_mass(),
        "joints": joints,
        "links": links,
        "frames": frames,
    })
}

fn table(model: &Model) -> String {
    let mut out = format!(
        "robot {}: nq {}, nv {}, {} joints, {} links, {} frames, moving mass {:.2} kg\n\n",
        model.name,
        model.nq,
        model.nv,
        model.njoints() - 1,
        model.links.len(),
        model.frames.len(),
        model.total_mass()
    );
    let width = model
        .joints
        .iter()
        .map(|j| j.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    out += &format!(
        "{:<width$}  {:<10} {:>5} {:>2} {:>5} {:>2} {:>9} {:>9} {:>9} {:>8}  mimic\n",
        "joint", "type", "idx_q", "nq", "idx_v", "nv", "lower", "upper", "velocity", "effort"
    );
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.4}")
        } else {
            "-".into()
        }
    };
    for j in model.joints.iter().skip(1) {
        let mimic = j.mimic.map_or(String::new(), |m| {
            format!(
                "{} x {} + {}",
                model.joints[m.master.0].name, m.multiplier, m.offset
            )
        });
        out += &format!(
            "{:<width$}  {:<10} {:>5} {:>2} {:>5} {:>2} {:>9} {:>9} {:>9} {:>8}  {}\n",
            j.name,
            j.kind.name(),
            j.idx_q,
            j.nq(),
            j.idx_v,
            j.nv(),
            num(j.limits.lower),
            num(j.limits.upper),
            num(j.limits.velocity),
            num(j.limits.effort),
            mimic
        );
    }
    let links: Vec<&str> = model
        .links
        .iter()
        .map(|l| model.frames[l.frame.0].name.as_str())
        .collect();
    out += &format!("\nlinks: {}\n", links.join(", "));
    let frames: Vec<String> = model
        .frames
        .iter()
        .map(|f| format!("{} ({})", f.name, f.kind.name()))
        .collect();
    out += &format!("frames: {}\n", frames.join(", "));
    out
}
