//! Signed firmware images for tests: a payload that differs with the version, signed.

use embody_fwimage::ed25519_dalek::SigningKey;
use embody_fwimage::{Header, Version, image_len, sign};

/// An image of version `1.minor.0` with security counter `counter` and a payload of
/// `payload_len` bytes, signed by `key`.
pub fn signed(key: &SigningKey, minor: u8, counter: u32, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(u32::from(minor)) as u8)
        .collect();
    let header = Header {
        version: Version {
            major: 1,
            minor,
            patch: 0,
        },
        payload_len: payload_len as u32,
        build_id: [minor; 16],
    };
    let mut out = vec![0u8; image_len(payload_len)];
    if let Err(e) = sign(&payload, &header, counter, key, &mut out) {
        panic!("a test image of {payload_len} bytes does not sign: {e}");
    }
    out
}
