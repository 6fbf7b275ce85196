//! Mesh files for objects and robot links: an STL (binary or ASCII, read by `stl_io`) or
//! Wavefront OBJ (read by `tobj`) file's vertices and triangles, scaled; their convex
//! hull (parry's) is the shape it collides with, the triangles what a camera sees. A
//! file that cannot be read, has no vertices or no volume is refused with the path and
//! the reason.

use std::path::Path;

use embody_model::spatial::Vec3;
use parry3d_f64::math::Vector;
use parry3d_f64::shape::{ConvexPolyhedron, Shape};

use crate::render::TriMesh;

/// The largest mesh file read (bytes): 64 MiB.
pub const MAX_MESH_BYTES: u64 = 64 << 20;

/// A mesh file's vertices and triangles (indices into them).
type Read = (Vec<[f64; 3]>, Vec<[u32; 3]>);

/// The vertices and triangles of the mesh file at `path`.
fn read_mesh(path: &Path) -> Result<Read, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?
        .len();
    if size > MAX_MESH_BYTES {
        return Err(format!(
            "{}: {size} bytes, more than the {MAX_MESH_BYTES} a mesh may have",
            path.display()
        ));
    }
    let extension = (path.extension().and_then(|e| e.to_str()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "stl" => read_stl(path),
        "obj" => read_obj(path),
        other => Err(format!(
            "{}: a mesh is an .stl or .obj file, not '.{other}'",
            path.display()
        )),
    }
}

/// The mesh at `path`, its vertices scaled by `scale` per axis, as triangles.
pub fn load_triangles(path: &Path, scale: [f64; 3]) -> Result<TriMesh, String> {
    let (vertices, triangles) = read_mesh(path)?;
    let n = vertices.len();
    if triangles.iter().flatten().any(|&i| i as usize >= n) {
        return Err(format!(
            "{}: a face names a vertex it does not have",
            path.display()
        ));
    }
    Ok(TriMesh {
        vertices: (vertices.iter())
            .map(|v| Vec3::new(v[0] * scale[0], v[1] * scale[1], v[2] * scale[2]))
            .collect(),
        triangles,
    })
}

/// The convex hull of the mesh at `path`, its vertices scaled by `scale` per axis.
pub fn load_hull(path: &Path, scale: [f64; 3]) -> Result<ConvexPolyhedron, String> {
    let (vertices, _) = read_mesh(path)?;
    let points: Vec<Vector> = (vertices.iter())
        .map(|v| Vector::new(v[0] * scale[0], v[1] * scale[1], v[2] * scale[2]))
        .filter(|v| v.is_finite())
        .collect();
    if points.len() < 4 {
        return Err(format!(
            "{}: {} finite vertices: a solid needs at least 4",
            path.display(),
            points.len()
        ));
    }
    let flat = || {
        format!(
            "{}: its vertices span no volume (flat or degenerate)",
            path.display()
        )
    };
    let hull = ConvexPolyhedron::from_convex_hull(&points).ok_or_else(flat)?;
    // parry hulls coplanar points as a two-faced polygon: measure the volume.
    let extent = (points.iter()).fold(0.0f64, |m, p| m.max(p.abs().max_element()));
    let volume = hull.mass_properties(1.0).mass();
    if !(volume.is_finite() && volume > 1e-9 * extent.powi(3)) {
        return Err(flat());
    }
    Ok(hull)
}

fn read_stl(path: &Path) -> Result<Read, String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mesh = stl_io::read_stl(&mut file)
        .map_err(|e| format!("{}: not an STL file: {e}", path.display()))?;
    let vertices = (mesh.vertices.iter())
        .map(|v| [f64::from(v[0]), f64::from(v[1]), f64::from(v[2])])
        .collect();
    let triangles = (mesh.faces.iter())
        .map(|f| f.vertices.map(|i| u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    Ok((vertices, triangles))
}

fn read_obj(path: &Path) -> Result<Read, String> {
    let options = tobj::LoadOptions {
        single_index: false,
        triangulate: true,
        ignore_points: true,
        ignore_lines: true,
    };
    let (models, _) = tobj::load_obj(path, &options)
        .map_err(|e| format!("{}: not an OBJ file: {e}", path.display()))?;
    let (mut vertices, mut triangles) = (Vec::new(), Vec::new());
    for model in &models {
        let base = u32::try_from(vertices.len()).unwrap_or(u32::MAX);
        vertices.extend(
            (model.mesh.positions.chunks_exact(3))
                .map(|p| [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]),
        );
        triangles.extend((model.mesh.indices.chunks_exact(3)).map(|t| {
            [
                base.saturating_add(t[0]),
                base.saturating_add(t[1]),
                base.saturating_add(t[2]),
            ]
        }));
    }
    Ok((vertices, triangles))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("embody-mesh-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// A unit cube's 8 corners and its 6 faces, and a face through its centre.
    const CUBE_OBJ: &str = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nv 0 0 1\nv 1 0 1\nv 0 1 1\nv 1 1 1\nv 0.5 0.5 0.5\n\
        f 1 3 4 2\nf 5 6 8 7\nf 1 2 6 5\nf 3 7 8 4\nf 1 5 7 3\nf 2 4 8 6\nf 1 2 9\n";

    #[test]
    fn an_obj_cube_hulls_to_its_eight_corners_scaled() {
        let path = scratch("cube.obj", CUBE_OBJ.as_bytes());
        let hull = load_hull(&path, [0.1; 3]).expect("hull");
        // The centre vertex is inside: the hull keeps the corners.
        assert_eq!(hull.points().len(), 8);
        assert!(hull.points().iter().all(|p| p.max_element() <= 0.1 + 1e-12));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn bad_mesh_files_are_refused_with_the_path_and_why() {
        let flat = scratch(
            "flat.obj",
            b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 4 3\n",
        );
        let junk = scratch("junk.stl", b"\x00\x01not an stl");
        let other = scratch("cube.ply", CUBE_OBJ.as_bytes());
        for (path, why) in [
            (&flat, "span no volume"),
            (&junk, "STL"),
            (&other, "an .stl or .obj file"),
        ] {
            let error = load_hull(path, [1.0; 3]).expect_err("refused");
            assert!(error.contains(why), "{error}");
            assert!(error.contains(&*path.to_string_lossy()), "{error}");
            let _ = std::fs::remove_file(path);
        }
        let missing = load_hull(Path::new("/nonexistent/mug.stl"), [1.0; 3]).expect_err("refused");
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
