//! Decoding what a camera sends, against OpenCV 4.12's decodes of the same frames
//! (fixtures made by `scripts/opencv_frames.py` from a simulated camera frame: YUYV in
//! BT.601 video range, and MJPEG at quality 90); bad frames are refused, never a panic;
//! a folder of images plays as a camera.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use embody_camera::ImageSequence;
use embody_camera::convert::{mjpeg_to_rgb, yuyv_to_rgb};
use embody_hal::{Camera, SystemClock};
use proptest::prelude::*;

const WIDTH: u32 = 160;
const HEIGHT: u32 = 120;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// OpenCV's decode, stored as a PPM.
fn opencv(name: &str) -> Vec<u8> {
    let image = image::open(data(name)).expect("fixture").into_rgb8();
    assert_eq!(image.dimensions(), (WIDTH, HEIGHT));
    image.into_raw()
}

/// (largest, mean) absolute difference per channel.
fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
    let diffs: Vec<u8> = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).collect();
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    (diffs.iter().copied().max().unwrap_or(0), mean)
}

#[test]
fn yuyv_decodes_as_opencv_decodes_it() {
    let yuyv = std::fs::read(data("frame.yuyv")).expect("fixture");
    let mut rgb = vec![0; (WIDTH * HEIGHT * 3) as usize];
    yuyv_to_rgb(&yuyv, WIDTH, HEIGHT, &mut rgb).expect("decodes");
    let (worst, mean) = difference(&rgb, &opencv("frame_yuyv_opencv.ppm"));
    eprintln!("YUYV: worst {worst}, mean {mean:.3} levels from OpenCV");
    assert!(worst <= 1, "{worst} levels from OpenCV's decode");
}

#[test]
fn mjpeg_decodes_as_opencv_decodes_it() {
    let jpeg = std::fs::read(data("frame.jpg")).expect("fixture");
    let mut rgb = vec![0; (WIDTH * HEIGHT * 3) as usize];
    mjpeg_to_rgb(&jpeg, WIDTH, HEIGHT, &mut rgb).expect("decodes");
    let (worst, mean) = difference(&rgb, &opencv("frame_jpg_opencv.ppm"));
    eprintln!("MJPEG: worst {worst}, mean {mean:.3} levels from OpenCV");
    // Two JPEG decoders differ only in their IDCT's and upsampling's rounding.
    assert!(
        worst <= 8 && mean < 1.0,
        "worst {worst}, mean {mean:.3} levels from OpenCV"
    );
}

#[test]
fn bad_frames_are_refused() {
    let mut rgb = vec![0; (WIDTH * HEIGHT * 3) as usize];
    let yuyv = std::fs::read(data("frame.yuyv")).expect("fixture");
    let e = yuyv_to_rgb(&yuyv[..100], WIDTH, HEIGHT, &mut rgb).expect_err("short");
    assert!(e.to_string().contains("needs 38400 bytes, got 100"), "{e}");
    assert!(yuyv_to_rgb(&yuyv, WIDTH, HEIGHT, &mut rgb[..10]).is_err());
    let jpeg = std::fs::read(data("frame.jpg")).expect("fixture");
    let e = mjpeg_to_rgb(&jpeg[..jpeg.len() / 3], WIDTH, HEIGHT, &mut rgb);
    assert!(
        e.is_err() || rgb.iter().any(|&c| c != 0),
        "a truncated JPEG"
    );
    let mut small = vec![0; 80 * 60 * 3];
    let e = mjpeg_to_rgb(&jpeg, 80, 60, &mut small).expect_err("another size");
    assert!(
        e.to_string().contains("160×120, the camera said 80×60"),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn no_bytes_make_the_decoders_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        width in 0u32..64,
        height in 0u32..64,
    ) {
        let mut rgb = vec![0; (width * height * 3) as usize];
        let _ = yuyv_to_rgb(&bytes, width, height, &mut rgb);
        let _ = mjpeg_to_rgb(&bytes, width, height, &mut rgb);
        // A JPEG's header kept, its body garbled.
        let mut jpeg = std::fs::read(data("frame.jpg")).expect("fixture");
        for (k, b) in bytes.iter().enumerate() {
            let at = 600 + k * 7 % (jpeg.len() - 600);
            jpeg[at] = *b;
        }
        let mut full = vec![0; (WIDTH * HEIGHT * 3) as usize];
        let _ = mjpeg_to_rgb(&jpeg, WIDTH, HEIGHT, &mut full);
    }
}

#[test]
fn a_folder_of_images_plays_as_a_camera() {
    let folder = std::env::temp_dir().join(format!("embody-sequence-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(data("frame_yuyv_opencv.ppm"), folder.join("a.ppm")).expect("copy");
    std::fs::write(folder.join("b.png"), b"not a png").expect("write");
    std::fs::copy(data("frame.jpg"), folder.join("c.jpg")).expect("copy");
    std::fs::write(folder.join("notes.txt"), b"ignored").expect("write");
    let camera = ImageSequence::open(&folder, "replay", 200.0, None, false, Arc::new(SystemClock))
        .expect("plays");
    assert_eq!((camera.info().width, camera.info().height), (WIDTH, HEIGHT));
    let started = std::time::Instant::now();
    while !camera.finished() && started.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(camera.finished());
    assert_eq!((camera.images().published(), camera.skipped()), (2, 1));
    let last = camera.images().latest().expect("an image");
    let mut want = vec![0; (WIDTH * HEIGHT * 3) as usize];
    mjpeg_to_rgb(
        &std::fs::read(data("frame.jpg")).expect("jpg"),
        WIDTH,
        HEIGHT,
        &mut want,
    )
    .expect("decodes");
    assert_eq!(last.rgb, want, "the last frame is the JPEG's");
    assert_eq!(last.counter, 1);
    let _ = std::fs::remove_dir_all(&folder);
    let empty = std::env::temp_dir().join(format!("embody-sequence-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("folder");
    let e = ImageSequence::open(&empty, "none", 30.0, None, false, Arc::new(SystemClock)).err();
    assert!(e.is_some_and(|e| e.to_string().contains("no .png, .jpg or .ppm files")));
    let _ = std::fs::remove_dir_all(&empty);
}
