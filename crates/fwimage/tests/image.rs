//! Signed images round-trip, and every way an image can be wrong is refused with its
//! reason: each single-bit flip, each truncation, extra bytes, another key, an older
//! format; arbitrary bytes never panic the parser.

use embody_fwimage::ed25519_dalek::SigningKey;
use embody_fwimage::{Header, ImageError, Version, image_len, key_id, parse, sign};
use proptest::prelude::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn header(payload: &[u8]) -> Header {
    Header {
        version: "1.2.300".parse().expect("version"),
        payload_len: payload.len() as u32,
        build_id: *b"0123456789abcdef",
    }
}

fn image(payload: &[u8], counter: u32, key: &SigningKey) -> Vec<u8> {
    let mut out = vec![0u8; image_len(payload.len())];
    let n = sign(payload, &header(payload), counter, key, &mut out).expect("signs");
    assert_eq!(n, out.len());
    out
}

#[test]
fn a_signed_image_parses_and_verifies_with_its_key() {
    let payload: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let bytes = image(&payload, 5, &key(1));
    let parsed = parse(&bytes).expect("parses");
    assert_eq!(parsed.payload, &payload[..]);
    assert_eq!(
        parsed.header.version,
        Version {
            major: 1,
            minor: 2,
            patch: 300
        }
    );
    assert_eq!(parsed.header.build_id, *b"0123456789abcdef");
    assert_eq!(parsed.security_counter, 5);
    assert_eq!(parsed.key_id, key_id(&key(1).verifying_key()));
    parsed.verify(&key(1).verifying_key()).expect("verifies");
}

#[test]
fn another_key_is_refused_naming_the_signer() {
    let bytes = image(b"firmware", 0, &key(1));
    let parsed = parse(&bytes).expect("parses");
    assert_eq!(
        parsed.verify(&key(2).verifying_key()),
        Err(ImageError::WrongKey {
            signed_by: key_id(&key(1).verifying_key())
        })
    );
}

#[test]
fn every_single_bit_flip_is_caught() {
    let bytes = image(b"a small firmware payload", 3, &key(1));
    let public = key(1).verifying_key();
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[at] ^= 1 << bit;
            let verdict = parse(&bad).and_then(|image| image.verify(&public));
            assert!(verdict.is_err(), "a flip of bit {bit} at byte {at} passed");
        }
    }
}

#[test]
fn every_truncation_and_any_extra_byte_is_refused() {
    let bytes = image(b"payload", 0, &key(1));
    for len in 0..bytes.len() {
        assert!(
            matches!(parse(&bytes[..len]), Err(ImageError::Truncated { got, .. }) if got == len),
            "length {len}: {:?}",
            parse(&bytes[..len])
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        parse(&longer),
        Err(ImageError::TrailingBytes { .. })
    ));
}

#[test]
fn a_forged_signature_with_the_right_key_id_is_refused() {
    let mut bytes = image(b"payload", 0, &key(1));
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40; // the signature is not covered by the digest
    let parsed = parse(&bytes).expect("the structure and digest are intact");
    assert_eq!(
        parsed.verify(&key(1).verifying_key()),
        Err(ImageError::BadSignature)
    );
}

#[test]
fn header_fields_out_of_range_are_named() {
    let bytes = image(b"payload", 0, &key(1));
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(parse(&bad), Err(ImageError::BadMagic(_))));
    let mut bad = bytes.clone();
    bad[6] = 2;
    assert_eq!(parse(&bad), Err(ImageError::UnsupportedFormat(2)));
    let mut bad = bytes.clone();
    bad[4] = 64;
    assert_eq!(parse(&bad), Err(ImageError::BadHeaderLength(64)));
    let mut bad = bytes.clone();
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(parse(&bad), Err(ImageError::TooLarge(u32::MAX)));
    assert!(
        ImageError::DigestMismatch
            .to_string()
            .contains("corrupted or was altered")
    );
}

#[test]
fn versions_parse_strictly() {
    assert_eq!(
        "0.1.65535".parse::<Version>(),
        Ok(Version {
            major: 0,
            minor: 1,
            patch: 65535
        })
    );
    for bad in ["1.2", "1.2.3.4", "256.0.0", "1.x.0", "", "1..2"] {
        assert_eq!(bad.parse::<Version>(), Err(ImageError::BadVersion), "{bad}");
    }
    assert_eq!(
        Version {
            major: 1,
            minor: 0,
            patch: 7
        }
        .to_string(),
        "1.0.7"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&bytes).map(|image| image.verify(&key(1).verifying_key()));
    }

    /// A valid header in front of arbitrary bytes exercises the deeper checks.
    #[test]
    fn a_valid_header_over_arbitrary_bytes_never_panics(
        tail in prop::collection::vec(any::<u8>(), 0..400),
        len in 0u32..300,
    ) {
        let mut bytes = image(b"", 0, &key(1))[..32].to_vec();
        bytes[12..16].copy_from_slice(&len.to_le_bytes());
        bytes.extend(tail);
        let _ = parse(&bytes).map(|image| image.verify(&key(1).verifying_key()));
    }

    #[test]
    fn any_payload_round_trips(payload in prop::collection::vec(any::<u8>(), 0..2000), counter in any::<u32>()) {
        let bytes = image(&payload, counter, &key(9));
        let parsed = parse(&bytes).expect("parses");
        prop_assert_eq!(parsed.payload, &payload[..]);
        prop_assert_eq!(parsed.security_counter, counter);
        prop_assert!(parsed.verify(&key(9).verifying_key()).is_ok());
    }
}
