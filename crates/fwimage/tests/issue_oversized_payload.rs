//! A payload larger than the bridge's flash slot ([`MAX_PAYLOAD`], 8 MiB) cannot be
//! signed, and the refusal gives its real length: a 9 MiB payload was reported as
//! `payload of 4294967295 bytes` (the length saturated to `u32::MAX`).

use embody_fwimage::ed25519_dalek::SigningKey;
use embody_fwimage::{Header, ImageError, MAX_PAYLOAD, image_len, sign};

#[test]
fn oversized_payload_is_reported_at_its_real_size() {
    let payload = vec![0u8; 9 << 20];
    let header = Header {
        version: "1.0.0".parse().expect("version"),
        payload_len: u32::MAX,
        build_id: [0; 16],
    };
    let mut out = vec![0u8; image_len(payload.len())];
    let refused = sign(
        &payload,
        &header,
        1,
        &SigningKey::from_bytes(&[1; 32]),
        &mut out,
    );
    assert_eq!(refused, Err(ImageError::PayloadTooLarge(9 << 20)));
    let message = ImageError::PayloadTooLarge(9 << 20).to_string();
    assert!(
        message.contains("9437184 bytes") && message.contains(&MAX_PAYLOAD.to_string()),
        "{message}"
    );
}

#[test]
fn a_payload_filling_the_slot_exactly_signs() {
    let payload = vec![0u8; MAX_PAYLOAD as usize];
    let header = Header {
        version: "1.0.0".parse().expect("version"),
        payload_len: MAX_PAYLOAD,
        build_id: [0; 16],
    };
    let mut out = vec![0u8; image_len(payload.len())];
    let n = sign(
        &payload,
        &header,
        1,
        &SigningKey::from_bytes(&[1; 32]),
        &mut out,
    )
    .expect("fits");
    assert_eq!(n, out.len());
}
