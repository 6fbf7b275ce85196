//! `embody fw sign`, `inspect` and `verify` take files no larger than a firmware image
//! can be (an 8 MiB payload: the bridge's flash slot). They read the whole file before
//! checking — a 1 GB sparse file cost 1 GB of memory, a 5 GB one was read for as long
//! as it took — and a 9 MiB payload was reported as `payload of 4294967295 bytes`. Now
//! a file is refused from its size before it is read, the error names the file, its
//! size and the limit, and no more than the limit and a byte is ever read (the reader
//! itself is tested beside it, in `fw.rs`).

mod common;

use std::path::Path;

use common::{Scratch, embody};

/// A sparse file of `bytes` bytes: no disk, and no memory unless it is read.
fn sparse(path: &Path, bytes: u64) -> String {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(bytes))
        .expect("sparse file");
    path.display().to_string()
}

/// A key pair in `dir`: the private key's path and the public key's.
fn keys(dir: &Path) -> (String, String) {
    let key = dir.join("fw.key").display().to_string();
    let out = embody(&["fw", "keygen", "--out", &key]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = format!("{key}.pub");
    (key, public)
}

/// Runs `embody` with `args`, which must fail: what it said.
fn refused(args: &[&str]) -> String {
    let out = embody(args);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
    said
}

#[test]
fn oversized_image_is_refused_without_reading_it() {
    let dir = Scratch::new("fw-oversized");
    let (key, public) = keys(&dir.0);
    let big = sparse(&dir.0.join("big.img"), 5_000_000_000);
    let out = dir.0.join("out.img").display().to_string();
    let image_limit = embody_fwimage::image_len(embody_fwimage::MAX_PAYLOAD as usize);
    for (args, limit) in [
        (vec!["fw", "inspect", &big], image_limit),
        (vec!["fw", "verify", "--pubkey", &public, &big], image_limit),
        (
            vec![
                "fw",
                "sign",
                "--key",
                &key,
                "--version",
                "1.0.0",
                "--counter",
                "1",
                &big,
                &out,
            ],
            embody_fwimage::MAX_PAYLOAD as usize,
        ),
    ] {
        let said = refused(&args);
        assert!(
            said.contains(&format!(
                "{big}: 5000000000 bytes, more than the {limit}-byte limit"
            )),
            "{args:?}: {said}"
        );
    }
    assert!(!Path::new(&out).exists(), "nothing written");
}

#[test]
fn oversized_payload_is_reported_at_its_real_size() {
    let dir = Scratch::new("fw-nine");
    let (key, _) = keys(&dir.0);
    let payload = sparse(&dir.0.join("fw.bin"), 9 << 20);
    let out = dir.0.join("fw.img").display().to_string();
    let said = refused(&[
        "fw",
        "sign",
        "--key",
        &key,
        "--version",
        "1.0.0",
        "--counter",
        "1",
        &payload,
        &out,
    ]);
    assert!(
        said.contains(&format!(
            "{payload}: 9437184 bytes, more than the 8388608-byte limit"
        )) && !said.contains("4294967295"),
        "{said}"
    );
}

#[test]
fn a_payload_filling_the_slot_signs_and_its_image_reads_back() {
    let dir = Scratch::new("fw-full");
    let (key, public) = keys(&dir.0);
    let payload = sparse(&dir.0.join("fw.bin"), embody_fwimage::MAX_PAYLOAD.into());
    let image = dir.0.join("fw.img").display().to_string();
    let signed = embody(&[
        "fw",
        "sign",
        "--key",
        &key,
        "--version",
        "1.0.0",
        "--counter",
        "1",
        &payload,
        &image,
    ]);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    for args in [
        vec!["fw", "inspect", &image],
        vec!["fw", "verify", "--pubkey", &public, &image],
    ] {
        let out = embody(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
