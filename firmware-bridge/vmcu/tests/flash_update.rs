//! The firmware's A/B update on the virtual MCU's file-backed flash: an image installed,
//! booted on trial and confirmed is what the unit boots after the process is gone and a
//! new one opens the same flash file.

use embody_firmware_bridge::update::{Layout, Updater, boot};
use embody_fwimage::Version;
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_protocol::crc32;
use embody_vmcu::flash::{ERASE_SIZE, FileFlash};

const LAYOUT: Layout = Layout::new(16 * ERASE_SIZE as u32, ERASE_SIZE as u32, ERASE_SIZE as u32);

#[test]
fn an_installed_image_survives_the_process() {
    let path = std::env::temp_dir().join(format!("embody-vmcu-flash-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let key = SigningKey::from_bytes(&[3; 32]);
    let public = key.verifying_key();
    let image = embody_testkit::images::signed(&key, 1, 1, 20_000);
    {
        let mut f = FileFlash::open(&path, LAYOUT.capacity() as usize).expect("flash");
        let mut u = Updater::open(&mut f, LAYOUT, public).expect("updater");
        u.begin(&mut f, image.len() as u32).expect("begin");
        for (k, chunk) in image.chunks(1024).enumerate() {
            u.chunk(&mut f, (k * 1024) as u32, chunk, crc32(chunk))
                .expect("chunk");
        }
        u.finish(&mut f).expect("verified");
        assert!(boot(&mut f, &LAYOUT, &public).expect("boots").trial);
        Updater::open(&mut f, LAYOUT, public)
            .expect("updater")
            .confirm(&mut f)
            .expect("confirm");
    }
    // A new process, the same flash.
    let mut f = FileFlash::open(&path, LAYOUT.capacity() as usize).expect("flash");
    let b = boot(&mut f, &LAYOUT, &public).expect("boots");
    assert_eq!(
        (b.slot, b.trial, b.image.version),
        (
            1,
            false,
            Version {
                major: 1,
                minor: 1,
                patch: 0
            }
        )
    );
    let _ = std::fs::remove_file(&path);
}
