//! The simulated scene as a camera sees it: the robot's visual shapes (primitives and
//! meshes, in their URDF material colours), the objects (their shapes, colours and
//! printed AprilTags), the
//! static boxes and a checkerboard ground, as [`Drawable`]s placed for a configuration
//! and the objects' poses; and where a [`Mount`] puts a camera. Meshes are read once.

use std::sync::Arc;

use embody_hal::Mount;
use embody_model::spatial::{Transform, Vec3};
use embody_model::{Data, Model, Shape, forward_kinematics};

use crate::contact::Environment;
use crate::objects::{ObjectShape, PrintedTag};
use crate::render::{Drawable, TriMesh};

/// A robot link's colour when its URDF gives none.
const LINK_GREY: [f32; 3] = [0.55, 0.56, 0.6];
/// An object's colour when it gives none.
const OBJECT_ORANGE: [f32; 3] = [0.9, 0.45, 0.1];
/// Static boxes (tables, steps).
const BOX_WOOD: [f32; 3] = [0.55, 0.4, 0.25];
/// A printed tag's ink and paper, and how far above its face it is drawn (m): enough
/// for the depth test to put it in front.
const TAG_BLACK: [f32; 3] = [0.02, 0.02, 0.02];
const TAG_WHITE: [f32; 3] = [0.95, 0.95, 0.95];
const PRINT_M: f64 = 2e-4;
/// The ground's two tiles, and their size (m) and count a side.
const GROUND: ([f32; 3], [f32; 3]) = ([0.7, 0.7, 0.68], [0.45, 0.45, 0.43]);
const TILE_M: f64 = 0.5;
const TILES: usize = 40;

/// What a drawable is attached to.
#[derive(Clone, Copy, Debug)]
enum Attached {
    /// Still in the world.
    World,
    /// A robot joint's body, at a placement in its frame.
    Joint(usize, Transform),
    /// Object `k`, at a placement in its frame.
    Object(usize, Transform),
}

/// The scene's drawables, placed by [`SceneView::place`].
#[derive(Clone, Debug)]
pub struct SceneView {
    model: Arc<Model>,
    data: Data,
    attached: Vec<Attached>,
    drawables: Vec<Drawable>,
    /// Visual meshes that could not be read, and why.
    skipped: Vec<String>,
}

impl SceneView {
    /// The scene of `model` in `environment` (its objects' meshes already loaded).
    pub fn new(model: Arc<Model>, environment: &Environment) -> SceneView {
        let mut view = SceneView {
            data: Data::new(&model),
            attached: Vec::new(),
            drawables: Vec::new(),
            skipped: Vec::new(),
            model: model.clone(),
        };
        if environment.ground {
            let (even, odd) = TriMesh::checkerboard(TILES, TILE_M);
            let at = Transform::from_xyz_rpy([0.0, 0.0, environment.ground_height_m], [0.0; 3]);
            view.add(Attached::World, even, at, GROUND.0);
            view.add(Attached::World, odd, at, GROUND.1);
        }
        for b in &environment.boxes {
            let pose = Transform::new(b.rotation(), Vec3::from(b.center));
            view.add(Attached::World, TriMesh::cuboid(b.size), pose, BOX_WOOD);
        }
        for link in &model.links {
            let frame = &model.frames[link.frame.0];
            for visual in &link.visuals {
                let mesh = match &visual.shape {
                    Shape::Box { size } => TriMesh::cuboid([size.x, size.y, size.z]),
                    Shape::Sphere { radius } => TriMesh::sphere(*radius),
                    Shape::Cylinder { radius, length } => TriMesh::cylinder(*radius, *length),
                    Shape::Capsule { radius, length } => TriMesh::capsule(*radius, *length),
                    Shape::Mesh { filename, scale } => {
                        match crate::mesh::load_triangles(
                            std::path::Path::new(filename),
                            [scale.x, scale.y, scale.z],
                        ) {
                            Ok(mesh) => mesh,
                            Err(why) => {
                                view.skipped.push(why);
                                continue;
                            }
                        }
                    }
                };
                let color = visual
                    .rgba
                    .map_or(LINK_GREY, |c| [c[0] as f32, c[1] as f32, c[2] as f32]);
                let local = frame.placement.mul(&visual.origin);
                view.add(
                    Attached::Joint(frame.joint.0, local),
                    mesh,
                    Transform::default(),
                    color,
                );
            }
        }
        for (k, object) in environment.objects.iter().enumerate() {
            let Ok(shape) = object.geometry() else {
                continue; // refused when the scene was checked
            };
            let mesh = match &shape {
                ObjectShape::Box { size } => TriMesh::cuboid(*size),
                ObjectShape::Sphere { radius } => TriMesh::sphere(*radius),
                ObjectShape::Cylinder { radius, length } => TriMesh::cylinder(*radius, *length),
                ObjectShape::Capsule { radius, length } => TriMesh::capsule(*radius, *length),
                ObjectShape::Hull(mesh) => TriMesh::hull(&mesh.hull),
            };
            let color = object.color.map_or(OBJECT_ORANGE, |c| c.map(|x| x as f32));
            view.add(
                Attached::Object(k, Transform::default()),
                mesh,
                Transform::default(),
                color,
            );
            if let (Some(tag), ObjectShape::Box { size }) = (&object.tag, &shape) {
                view.add_tag(k, tag, size[2] / 2.0);
            }
        }
        view
    }

    /// `tag` printed on object `k`'s face `height` above its centre, facing +z.
    fn add_tag(&mut self, k: usize, tag: &PrintedTag, height: f64) {
        let Some(cells) = embody_vision::tag36h11_cells(tag.id) else {
            return; // refused when the scene was checked
        };
        let cell = tag.size_m / embody_vision::TAG_BLACK_CELLS as f64;
        let last = embody_vision::TAG_CELLS - 1;
        // Printed rows count down from the top (+y); the grid counts up.
        let (black, white) =
            TriMesh::grid(embody_vision::TAG_CELLS, cell, |i, j| cells[last - j][i]);
        let on_face = Transform::from_xyz_rpy([0.0, 0.0, height + PRINT_M], [0.0; 3]);
        self.add(
            Attached::Object(k, on_face),
            black,
            Transform::default(),
            TAG_BLACK,
        );
        self.add(
            Attached::Object(k, on_face),
            white,
            Transform::default(),
            TAG_WHITE,
        );
    }

    fn add(&mut self, attached: Attached, mesh: TriMesh, pose: Transform, color: [f32; 3]) {
        self.attached.push(attached);
        self.drawables.push(Drawable {
            mesh: Arc::new(mesh),
            pose,
            color,
        });
    }

    /// Places everything for the robot at `q` and the objects at `poses` (`x y z qx qy
    /// qz qw`, one per object as written); the drawables to render.
    pub fn place(&mut self, q: &[f64], poses: &[[f64; 7]]) -> &[Drawable] {
        forward_kinematics(&self.model, &mut self.data, q);
        for (drawable, attached) in self.drawables.iter_mut().zip(&self.attached) {
            match attached {
                Attached::World => {}
                Attached::Joint(joint, local) => {
                    drawable.pose = self.data.world_from_joint[*joint].mul(local);
                }
                Attached::Object(k, local) => {
                    if let Some(p) = poses.get(*k) {
                        drawable.pose = Transform::from_pose(p).mul(local);
                    }
                }
            }
        }
        &self.drawables
    }

    /// Where `mount` puts a camera (world from camera, OpenCV's axes) with the robot as
    /// last placed; `None` for a frame the robot does not have.
    pub fn camera_pose(&self, mount: &Mount) -> Option<Transform> {
        match mount {
            Mount::World { xyz, rpy } => Some(Transform::from_xyz_rpy(*xyz, *rpy)),
            Mount::Frame { frame, xyz, rpy } => {
                let id = self.model.frame_id(frame)?;
                let f = &self.model.frames[id.0];
                let world_from_frame = self.data.world_from_joint[f.joint.0].mul(&f.placement);
                Some(world_from_frame.mul(&Transform::from_xyz_rpy(*xyz, *rpy)))
            }
        }
    }

    /// The drawables as last placed.
    pub fn drawables(&self) -> &[Drawable] {
        &self.drawables
    }

    /// Triangles in the scene.
    pub fn triangles(&self) -> usize {
        self.drawables.iter().map(|d| d.mesh.triangles.len()).sum()
    }

    /// Visual meshes left out, each with why.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

/// A camera at `eye` looking at `target` (world), level (its x axis horizontal): world
/// from camera, OpenCV's axes. `None` when it looks straight up or down.
pub fn look_at(eye: [f64; 3], target: [f64; 3]) -> Option<Transform> {
    let forward = (Vec3::from(target) - Vec3::from(eye)).try_normalize(1e-9)?;
    let right = forward.cross(&Vec3::z()).try_normalize(1e-9)?;
    let down = forward.cross(&right);
    let rotation = embody_model::spatial::Mat3::from_columns(&[right, down, forward]);
    Some(Transform::new(rotation, Vec3::from(eye)))
}
