//! The simulated camera's rasterizer against analytic geometry (issue 18): a world point
//! is drawn at the pixel the pinhole model predicts, within 0.5 px, across the image; a
//! plane's depth equals the ray's distance to it, within 1 mm, at every pixel.

use std::sync::Arc;

use embody_hal::{CameraInfo, Image, Intrinsics, Mount};
use embody_model::spatial::{Transform, Vec3};
use embody_sim::render::{Drawable, Lighting, Rasterizer, TriMesh};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

fn image() -> Image {
    Image::blank(&CameraInfo {
        name: "test".into(),
        width: WIDTH,
        height: HEIGHT,
        rate_hz: 30.0,
        depth: true,
        intrinsics: lens(),
        mount: Mount::World {
            xyz: [0.0; 3],
            rpy: [0.0; 3],
        },
    })
}

/// A 70° lens whose principal point is off centre, as a calibrated camera's is.
fn lens() -> Intrinsics {
    Intrinsics {
        cx: 331.7,
        cy: 236.2,
        fy: 461.0,
        ..Intrinsics::from_fov(WIDTH, HEIGHT, 70f64.to_radians())
    }
}

/// A camera 1.2 m up, looking down at 50° below the horizon, turned a little.
fn camera() -> Transform {
    // OpenCV's axes: z forward, y down. Start looking along world +x (z → +x, x → −y,
    // y → −z), then pitch down and yaw.
    let look = Transform::from_xyz_rpy(
        [0.0; 3],
        [
            -std::f64::consts::FRAC_PI_2,
            0.0,
            -std::f64::consts::FRAC_PI_2,
        ],
    );
    let aim = Transform::from_xyz_rpy([0.1, -0.2, 1.2], [0.0, 50f64.to_radians(), 0.3]);
    aim.mul(&look)
}

#[test]
fn a_world_point_is_drawn_where_the_pinhole_model_puts_it() {
    let k = lens();
    let eye = camera();
    let mut raster = Rasterizer::new(WIDTH, HEIGHT, k, Lighting::default());
    let mut worst: f64 = 0.0;
    // Points across the image: the ray through each pixel, 0.8 to 2 m out.
    for (u, v, range) in [
        (320.0, 240.0, 1.0),
        (40.0, 30.0, 0.8),
        (600.0, 40.0, 1.5),
        (30.0, 450.0, 2.0),
        (615.0, 455.0, 1.2),
        (200.5, 333.25, 1.7),
    ] {
        let ray = k.ray([u, v]);
        let at = eye.transform_point(&(Vec3::from(ray) * range));
        let mut im = image();
        raster.render(
            &eye,
            &[Drawable {
                // About 2.5 px across wherever it is.
                mesh: Arc::new(TriMesh::sphere(0.005 * range)),
                pose: Transform::from_xyz_rpy(at.into(), [0.0; 3]),
                color: [1.0, 0.0, 0.0],
            }],
            &mut im,
        );
        // The centroid of the pixels the dot covers.
        let (mut n, mut su, mut sv) = (0.0, 0.0, 0.0);
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                if im.depth_at(x, y).is_some_and(|d| d > 0.0) {
                    n += 1.0;
                    su += f64::from(x);
                    sv += f64::from(y);
                }
            }
        }
        assert!(n >= 9.0, "the dot at ({u}, {v}) covers {n} pixels");
        let predicted = k
            .project(eye.inverse().transform_point(&at).into())
            .expect("in front");
        let miss = ((su / n - predicted[0]).powi(2) + (sv / n - predicted[1]).powi(2)).sqrt();
        worst = worst.max(miss);
        assert!(
            miss < 0.5,
            "the dot meant for ({u}, {v}) is drawn at ({:.2}, {:.2}), predicted {predicted:?}",
            su / n,
            sv / n
        );
    }
    eprintln!("worst centroid error {worst:.3} px");
}

#[test]
fn the_ground_s_depth_is_the_ray_s_distance_at_every_pixel() {
    let k = lens();
    let eye = camera();
    let mut raster = Rasterizer::new(WIDTH, HEIGHT, k, Lighting::default());
    let (even, odd) = TriMesh::checkerboard(40, 0.5);
    let floor = |mesh: TriMesh, color| Drawable {
        mesh: Arc::new(mesh),
        pose: Transform::default(),
        color,
    };
    let mut im = image();
    raster.render(
        &eye,
        &[floor(even, [0.8, 0.8, 0.8]), floor(odd, [0.3, 0.3, 0.3])],
        &mut im,
    );
    let (mut seen, mut worst) = (0, 0.0_f64);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            // Where the pixel's ray meets z = 0, within the 20 m floor.
            let ray = eye.rotation * Vec3::from(k.ray([f64::from(x), f64::from(y)]));
            let t = -eye.translation.z / ray.z;
            let hit = eye.translation + ray * t;
            let depth = f64::from(im.depth_at(x, y).expect("pixel"));
            if !(t > 0.0 && hit.x.abs() < 9.9 && hit.y.abs() < 9.9) {
                assert_eq!(depth, 0.0, "({x}, {y}) sees nothing, yet has depth {depth}");
                continue;
            }
            seen += 1;
            // The ray has z = 1 in the camera frame: t is the depth, and the distance
            // along the ray t·|ray|.
            worst = worst.max((depth - t).abs());
            assert!(
                (depth - t).abs() < 1e-3,
                "({x}, {y}): depth {depth:.5} m, the ray meets the floor at {t:.5} m"
            );
        }
    }
    assert!(
        seen > 100_000,
        "the floor fills most of the image: {seen} pixels"
    );
    eprintln!(
        "{seen} floor pixels, worst depth error {:.3} mm",
        worst * 1e3
    );
}

/// A scenario with the pick-and-place table and box, and two cameras: a fixed one
/// looking at the table, and one on the arm's tool.
const SCENE: &str = r#"
robot = "arm7"
duration_s = 1.0
[environment]
boxes = [{ center = [-0.45, 0.15, 0.1], size = [0.4, 0.7, 0.2] }]
[[environment.objects]]
name = "box"
shape = "box"
size = [0.05, 0.05, 0.05]
color = [0.1, 0.2, 0.9]
position_m = [-0.45, 0.0, 0.225]
[[cameras]]
name = "table"
width = 320
height = 240
rate_hz = 30.0
xyz = [-0.45, 0.0, 1.0]
rpy = [3.141592653589793, 0.0, 0.0]
[[cameras]]
name = "wrist"
width = 160
height = 120
rate_hz = 10.0
frame = "tcp"
depth = false
"#;

/// The robot of [`SCENE`] with its cameras started.
fn scene_robot() -> embody_sim::SimRobot {
    use embody_sim::{Scenario, SensorMounts, SimRobot};
    let loaded = Scenario::parse(SCENE, std::path::Path::new("cameras.toml")).expect("scenario");
    let model = Arc::new(loaded.model.clone());
    let mut robot = SimRobot::new(
        model.clone(),
        &loaded.scenario.environment,
        loaded.scenario.sim.clone(),
        &SensorMounts::detect(&model),
    )
    .expect("robot");
    robot
        .add_cameras(&loaded.scenario.cameras, 7)
        .expect("cameras");
    robot
}

#[test]
fn scenario_cameras_draw_the_simulated_state_at_their_rate() {
    use embody_hal::{Camera, Robot, SensorFrame, Timestamp};
    use embody_sim::SimRobot;
    let mut robot = scene_robot();
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    // One simulated second, read at 1 kHz. The threads run idle (real time), so on a
    // busy machine they may get no CPU at all: after each tick the test waits (a while
    // at most) until every frame due so far is drawn or skipped.
    let settled = |robot: &SimRobot, tick: u64| {
        let [table, wrist] = robot.cameras() else {
            return true;
        };
        let due = |period_ns: u64| tick * 1_000_000 / period_ns + 1;
        table.images().published() + table.skipped() == due(33_333_333)
            && wrist.images().published() + wrist.skipped() == due(100_000_000)
    };
    for tick in 0..=1000u64 {
        robot
            .read(Timestamp::from_nanos(tick * 1_000_000), &mut frame)
            .expect("read");
        let start = std::time::Instant::now();
        while !settled(&robot, tick) && start.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    let [table, wrist] = robot.cameras() else {
        panic!("two cameras");
    };
    // 31 frames due at 30 Hz over 0–1 s, 11 at 10 Hz: each drawn or skipped, none lost.
    let table_images = table.images();
    assert_eq!(table_images.published() + table.skipped(), 31);
    assert_eq!(wrist.images().published() + wrist.skipped(), 11);
    assert!(
        table_images.published() >= 20,
        "drawn {}",
        table_images.published()
    );
    let image = table_images.latest().expect("an image");
    assert!(image.captured <= Timestamp::from_nanos(1_000_000_000));
    assert_eq!(
        image.captured.as_nanos() % 33_333_333 / 1_000_000,
        0,
        "on the frame grid"
    );
    // Straight down from 1 m above the box: its top (blue) fills the centre, 0.75 m away.
    let centre = image.rgb_at(160, 120).expect("pixel");
    assert!(centre[2] > 2 * centre[0], "the box is blue: {centre:?}");
    let depth = image.depth_at(160, 120).expect("depth");
    assert!(
        (depth - 0.75).abs() < 1e-3,
        "the box top is {depth} m below"
    );
    // The table around it, 0.8 m below.
    let table_depth = image.depth_at(160, 20).expect("depth");
    assert!(
        (table_depth - 0.8).abs() < 1e-3,
        "the table is {table_depth} m below"
    );
    let wrist_image = wrist.images().latest().expect("an image");
    assert!(wrist_image.depth.is_empty() && wrist_image.rgb.len() == 160 * 120 * 3);
}

#[test]
fn a_bad_camera_is_refused_with_its_key() {
    use embody_sim::Scenario;
    for (change, needle) in [
        (
            ("frame = \"tcp\"", "frame = \"nose\""),
            "cameras[1].frame: no frame named 'nose'",
        ),
        (("width = 160", "width = 4"), "cameras[1].width: 4 px"),
        (("rate_hz = 10.0", "rate_hz = -1.0"), "cameras[1].rate_hz"),
        (
            ("name = \"wrist\"", "name = \"table\""),
            "cameras[1].name: a second camera named 'table'",
        ),
        (
            ("depth = false", "depth = false\nlook_at = [0.0, 0.0, 0.0]"),
            "cameras[1].look_at",
        ),
    ] {
        let text = SCENE.replace(change.0, change.1);
        let e = Scenario::parse(&text, std::path::Path::new("cameras.toml")).expect_err("refused");
        assert!(e.to_string().contains(needle), "'{needle}' not in: {e}");
    }
}

#[test]
fn a_coloured_box_is_found_where_it_is_from_rgb_d() {
    use embody_sim::objects::{Object, ObjectShape};
    use embody_sim::view::{SceneView, look_at};
    use embody_sim::{Environment, StaticBox};
    use embody_vision::{ColorTarget, find_by_color};
    let model = Arc::new(embody_model::robots::load("arm7", None).expect("arm7"));
    let table = StaticBox {
        center: [-0.45, 0.15, 0.1],
        size: [0.4, 0.7, 0.2],
        yaw_rad: 0.0,
        rpy_rad: None,
    };
    let lens = Intrinsics::from_fov(WIDTH, HEIGHT, 60f64.to_radians());
    let eye = look_at([0.2, -0.6, 0.9], [-0.45, 0.15, 0.2]).expect("aimed");
    // The box's colour as the camera encodes it (gamma 2.2); shading scales all three
    // channels alike, so its chromaticity is the same on every face.
    let blue = ColorTarget {
        rgb: [0.1f64, 0.2, 0.9].map(|c| (c.powf(1.0 / 2.2) * 255.0).round() as u8),
        tolerance: 0.08,
        min_pixels: 20,
    };
    for at in [
        [-0.45, 0.0, 0.225],
        [-0.55, 0.3, 0.225],
        [-0.35, 0.12, 0.225],
    ] {
        let environment = Environment {
            boxes: vec![table.clone()],
            objects: vec![Object {
                color: Some([0.1, 0.2, 0.9]),
                ..Object::new("box", ObjectShape::Box { size: [0.05; 3] }, at)
            }],
            ..Environment::default()
        };
        let mut view = SceneView::new(model.clone(), &environment);
        let mut raster = Rasterizer::new(WIDTH, HEIGHT, lens, Lighting::default());
        let mut im = image();
        let q = model.neutral_configuration();
        let items = view.place(q.as_slice(), &[[at[0], at[1], at[2], 0.0, 0.0, 0.0, 1.0]]);
        raster.render(&eye, items, &mut im);
        let found = find_by_color(&im, &lens, &eye, &blue).expect("the box is seen");
        // The centre of its visible surface: the top and the sides facing the camera,
        // all within half the box's side of its centre.
        let miss = (found.position - Vec3::from(at)).norm();
        eprintln!(
            "box at {at:?}: found at {:.4?}, {miss:.4} m off, {} px, confidence {:.2}",
            found.position, found.pixels, found.confidence
        );
        assert!(
            miss < 0.025,
            "found {:?}, {miss:.4} m from {at:?}",
            found.position
        );
        assert!(
            found.position.z > at[2],
            "the top is seen, so the centroid is above the centre"
        );
        assert!(found.confidence > 0.95);
        assert!(
            find_by_color(
                &im,
                &lens,
                &eye,
                &ColorTarget {
                    rgb: [230, 30, 30],
                    ..blue
                }
            )
            .is_none()
        );
    }
}

#[test]
fn in_lockstep_every_frame_is_drawn_and_runs_repeat_exactly() {
    use embody_hal::{Camera, Robot, SensorFrame, Timestamp};
    let run = || {
        let mut robot = scene_robot();
        robot.cameras_wait_for_frames(true);
        let mut frame = SensorFrame::for_robot(robot.capabilities());
        // No pauses: the robot waits for its cameras at each frame.
        for tick in 0..=1000u64 {
            robot
                .read(Timestamp::from_nanos(tick * 1_000_000), &mut frame)
                .expect("read");
        }
        let [table, wrist] = robot.cameras() else {
            panic!("two cameras");
        };
        assert_eq!((table.images().published(), table.skipped()), (31, 0));
        assert_eq!((wrist.images().published(), wrist.skipped()), (11, 0));
        table.images().latest().expect("an image")
    };
    let (a, b) = (run(), run());
    assert_eq!((a.captured, a.counter), (b.captured, b.counter));
    assert!(
        a.rgb == b.rgb && a.depth == b.depth,
        "two runs drew different images"
    );
}

#[test]
fn a_printed_tag_is_found_at_its_pose() {
    use embody_sim::objects::{Object, ObjectShape, PrintedTag};
    use embody_sim::view::{SceneView, look_at};
    use embody_sim::{Environment, StaticBox};
    use embody_vision::TagDetector;
    use nalgebra::UnitQuaternion;
    let model = Arc::new(embody_model::robots::load("arm7", None).expect("arm7"));
    let lens = Intrinsics::from_fov(WIDTH, HEIGHT, 60f64.to_radians());
    let mut detector = TagDetector::new(WIDTH, HEIGHT).expect("a detector");
    let size = 0.04;
    // The box on the table, turned; the camera about 0.5 m from the tag, from above
    // and from the sides.
    for (at, yaw, eye) in [
        ([-0.45, 0.0, 0.225], 0.0, [-0.45, 0.0, 0.725]),
        ([-0.45, 0.05, 0.225], 0.5, [-0.2, -0.2, 0.6]),
        ([-0.5, -0.1, 0.225], -0.4, [-0.75, 0.1, 0.62]),
        ([-0.4, 0.2, 0.225], 1.2, [-0.1, 0.3, 0.55]),
    ] {
        let object = Object {
            rpy_rad: [0.0, 0.0, yaw],
            tag: Some(PrintedTag {
                id: 7,
                size_m: size,
            }),
            ..Object::new("box", ObjectShape::Box { size: [0.05; 3] }, at)
        };
        let environment = Environment {
            boxes: vec![StaticBox {
                center: [-0.45, 0.15, 0.1],
                size: [0.4, 0.7, 0.2],
                yaw_rad: 0.0,
                rpy_rad: None,
            }],
            objects: vec![object],
            ..Environment::default()
        };
        let mut view = SceneView::new(model.clone(), &environment);
        let mut raster = Rasterizer::new(WIDTH, HEIGHT, lens, Lighting::default());
        let mut im = image();
        let q = model.neutral_configuration();
        let turn = UnitQuaternion::from_euler_angles(0.0, 0.0, yaw);
        let c = turn.coords;
        let items = view.place(q.as_slice(), &[[at[0], at[1], at[2], c.x, c.y, c.z, c.w]]);
        // Looking straight down needs a direction to call up.
        let eye = look_at(eye, [at[0], at[1], at[2]])
            .or_else(|| look_at([eye[0] + 1e-3, eye[1], eye[2]], at))
            .expect("aimed");
        raster.render(&eye, items, &mut im);
        let tags = detector
            .detect(&im, &lens, &eye, &|_| Some(size))
            .expect("detects");
        assert_eq!(tags.len(), 1, "one tag in view, found {tags:?}");
        let tag = &tags[0];
        assert_eq!(tag.id, 7);
        // The tag's frame: the box's, on its top face.
        let truth = Transform::new(
            *turn.to_rotation_matrix().matrix(),
            Vec3::new(at[0], at[1], at[2] + 0.025 + 2e-4),
        );
        let miss = (tag.world_from_tag.translation - truth.translation).norm();
        let cos = ((tag.world_from_tag.rotation.transpose() * truth.rotation).trace() - 1.0) / 2.0;
        let angle = cos.clamp(-1.0, 1.0).acos().to_degrees();
        let q = UnitQuaternion::from_matrix(&tag.world_from_tag.rotation);
        eprintln!(
            "tag at {at:?} yaw {yaw}: {:.1} mm, {angle:.2}° off, reprojection {:.2} px, confidence {:.2}, yaw seen {:.3}",
            miss * 1e3,
            tag.reprojection_px,
            tag.confidence,
            q.euler_angles().2
        );
        assert!(miss < 0.005, "tag {:.1} mm from the truth", miss * 1e3);
        assert!(angle < 1.0, "tag turned {angle:.2}° from the truth");
    }
}
