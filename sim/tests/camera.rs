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
