//! `image` and `object_pose` observation terms: a camera's image cropped, resized
//! bilinearly and normalised as the manifest says, checked against the exact values a
//! linear ramp must give (bilinear sampling reproduces a linear function); and the
//! manifest's checks of the new keys.

use std::path::Path;

use embody_hal::{CameraInfo, Image, Intrinsics, Mount};
use embody_policy::Manifest;
use embody_policy::manifest::{ImageLayout, ImageTerm};
use embody_policy::observe::image_values;

/// A 64×48 image whose red is 2u + 1, green 3v and blue 50.
fn ramp() -> Image {
    let mut image = Image::blank(&CameraInfo {
        name: "wrist".into(),
        width: 64,
        height: 48,
        rate_hz: 30.0,
        depth: false,
        intrinsics: Intrinsics::from_fov(64, 48, 1.0),
        mount: Mount::World {
            xyz: [0.0; 3],
            rpy: [0.0; 3],
        },
    });
    for v in 0..48usize {
        for u in 0..64usize {
            let k = 3 * (v * 64 + u);
            image.rgb[k..k + 3].copy_from_slice(&[(2 * u + 1) as u8, (3 * v) as u8, 50]);
        }
    }
    image
}

fn term(layout: ImageLayout) -> ImageTerm {
    ImageTerm {
        camera: "wrist".into(),
        width: 16,
        height: 12,
        crop: Some([8, 4, 32, 24]),
        layout,
        mean: Some([0.5, 0.25, 0.0]),
        std: Some([0.5, 0.25, 2.0]),
    }
}

#[test]
fn a_crop_is_resized_bilinearly_and_normalised_in_either_layout() {
    let image = ramp();
    // Output pixel (x, y) samples the crop at u = 8 + 2x + 0.5, v = 4 + 2y + 0.5.
    let want = |x: usize, y: usize, c: usize| {
        let (u, v) = (8.5 + 2.0 * x as f64, 4.5 + 2.0 * y as f64);
        let raw = [2.0 * u + 1.0, 3.0 * v, 50.0][c];
        let (mean, std) = ([0.5, 0.25, 0.0][c], [0.5, 0.25, 2.0][c]);
        (raw / 255.0 - mean) / std
    };
    for layout in [ImageLayout::Chw, ImageLayout::Hwc] {
        let mut out = vec![7.0]; // appended after what is there
        image_values(&term(layout), Some(&image), &mut out);
        assert_eq!(out.len(), 1 + 3 * 16 * 12);
        assert_eq!(out[0], 7.0);
        let mut worst: f64 = 0.0;
        for y in 0..12 {
            for x in 0..16 {
                for c in 0..3 {
                    let k = match layout {
                        ImageLayout::Chw => c * 12 * 16 + y * 16 + x,
                        ImageLayout::Hwc => (y * 16 + x) * 3 + c,
                    };
                    worst = worst.max((out[1 + k] - want(x, y, c)).abs());
                }
            }
        }
        assert!(worst < 1e-12, "{layout:?}: off by {worst}");
    }
}

#[test]
fn no_image_gives_zeros_and_the_whole_image_is_the_default_crop() {
    let mut out = Vec::new();
    image_values(&term(ImageLayout::Chw), None, &mut out);
    assert_eq!(out, vec![0.0; 3 * 16 * 12]);
    // Upsampled 2×: output x samples u = (x + 0.5) / 2 − 0.5, clamped at the edges.
    let whole = ImageTerm {
        crop: None,
        width: 128,
        height: 96,
        mean: None,
        std: None,
        ..term(ImageLayout::Hwc)
    };
    let mut out = Vec::new();
    image_values(&whole, Some(&ramp()), &mut out);
    let red = |x: usize| out[3 * (10 * 128 + x)] * 255.0;
    assert!(
        (red(0) - 1.0).abs() < 1e-9,
        "clamped at the left edge: {}",
        red(0)
    );
    assert!((red(11) - (2.0 * 5.25 + 1.0)).abs() < 1e-9, "{}", red(11));
}

#[test]
fn image_and_object_terms_are_checked() {
    let manifest = |term: &str| {
        format!(
            "name = \"t\"\nrate_hz = 10.0\njoints = [\"joint1\"]\n[[inputs]]\nname = \"obs\"\nterms = [{term}]\n[action]\noutput = \"actions\"\nkind = \"position\"\nkp = 10.0\nkd = 1.0\n"
        )
    };
    let problems = |term: &str| match Manifest::parse(&manifest(term), Path::new("policy.toml")) {
        Ok(_) => String::new(),
        Err(problems) => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    };
    assert_eq!(problems("{ kind = \"object_pose\", object = \"box\" }"), "");
    assert_eq!(
        problems("{ kind = \"image\", image = { camera = \"wrist\", width = 32, height = 24 } }"),
        ""
    );
    let why = problems("{ kind = \"image\" }");
    assert!(
        why.contains("inputs[0].terms[0].image") && why.contains("needs `image"),
        "{why}"
    );
    let why = problems(
        "{ kind = \"image\", scale = 2.0, image = { camera = \"c\", width = 8, height = 8 } }",
    );
    assert!(
        why.contains("normalised by its image's `mean` and `std`"),
        "{why}"
    );
    let why = problems("{ kind = \"image\", image = { camera = \"c\", width = 0, height = 8 } }");
    assert!(
        why.contains("image.width") && why.contains("from 1 to 1024"),
        "{why}"
    );
    let why = problems(
        "{ kind = \"image\", image = { camera = \"c\", width = 8, height = 8, std = [1.0, 0.0, 1.0] } }",
    );
    assert!(why.contains("image.std"), "{why}");
    let why = problems("{ kind = \"object_pose\" }");
    assert!(why.contains("give `object`"), "{why}");
    let why = problems("{ kind = \"joint_pos\", object = \"box\" }");
    assert!(why.contains("only an object_pose term takes it"), "{why}");
}
