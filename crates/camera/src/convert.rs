//! What a UVC camera sends, as RGB: YUYV (YUV 4:2:2, two pixels in four bytes
//! `Y0 U Y1 V`, BT.601 video range, as V4L2 cameras give it) and MJPEG (each frame a
//! JPEG, decoded by the `image` crate). Each writes into a caller's buffer, so a
//! capture thread converts into its pool's images without allocating for YUYV.

/// A frame that cannot be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    /// Its size is not what the camera said.
    #[error("a {format} frame of {width}×{height} needs {expected} bytes, got {got}")]
    Size {
        /// The format.
        format: &'static str,
        /// Width (px).
        width: u32,
        /// Height (px).
        height: u32,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The JPEG does not decode.
    #[error("an MJPEG frame does not decode: {0}")]
    Jpeg(String),
}

fn size_check(
    format: &'static str,
    width: u32,
    height: u32,
    per_pixel: usize,
    got: usize,
) -> Result<(), ConvertError> {
    let expected = width as usize * height as usize * per_pixel;
    if got != expected || width % 2 == 1 && format == "YUYV" {
        return Err(ConvertError::Size {
            format,
            width,
            height,
            expected,
            got,
        });
    }
    Ok(())
}

/// Converts a YUYV frame of `width × height` (even width) into `rgb`
/// (`width × height × 3` bytes).
pub fn yuyv_to_rgb(
    yuyv: &[u8],
    width: u32,
    height: u32,
    rgb: &mut [u8],
) -> Result<(), ConvertError> {
    size_check("YUYV", width, height, 2, yuyv.len())?;
    size_check("RGB", width, height, 3, rgb.len())?;
    for (pair, out) in yuyv.chunks_exact(4).zip(rgb.chunks_exact_mut(6)) {
        let (u, v) = (i32::from(pair[1]) - 128, i32::from(pair[3]) - 128);
        for (k, y) in [pair[0], pair[2]].into_iter().enumerate() {
            // BT.601 video range in 16.16 fixed point: 1.164 (Y − 16), 1.596 V,
            // −0.392 U − 0.813 V, 2.017 U.
            let c = 76_284 * (i32::from(y) - 16);
            let channel = |x: i32| ((x + 32_768) >> 16).clamp(0, 255) as u8;
            out[3 * k] = channel(c + 104_595 * v);
            out[3 * k + 1] = channel(c - 25_624 * u - 53_281 * v);
            out[3 * k + 2] = channel(c + 132_252 * u);
        }
    }
    Ok(())
}

/// Decodes an MJPEG frame, which must be `width × height`, into `rgb`
/// (`width × height × 3` bytes).
pub fn mjpeg_to_rgb(
    jpeg: &[u8],
    width: u32,
    height: u32,
    rgb: &mut [u8],
) -> Result<(), ConvertError> {
    size_check("RGB", width, height, 3, rgb.len())?;
    let decoded = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .map_err(|e| ConvertError::Jpeg(e.to_string()))?
        .into_rgb8();
    if decoded.dimensions() != (width, height) {
        return Err(ConvertError::Jpeg(format!(
            "it is {}×{}, the camera said {width}×{height}",
            decoded.width(),
            decoded.height()
        )));
    }
    rgb.copy_from_slice(decoded.as_raw());
    Ok(())
}
