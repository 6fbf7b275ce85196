//! A virtual MCU's link (the symlink to its pseudo-terminal that a host opens as its
//! serial port) and its flash file are its own while it runs. A second MCU on the same
//! link took it over, and when the first stopped it deleted the link that by then
//! pointed at the second's pty; two MCUs could also share one flash file, each writing
//! the other's firmware slots and record. Now the second is refused on either, a stale
//! link left by a crashed MCU is replaced, and an MCU removes only its own link.

use std::path::{Path, PathBuf};

use embody_fwimage::ed25519_dalek::SigningKey;
use embody_vmcu::link::{LinkError, lock_path};
use embody_vmcu::{VmcuConfig, VmcuError, VmcuThread};

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("embody-vmcu-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn arm7(link: &Path) -> VmcuConfig {
    VmcuConfig::new("arm7", link.to_owned()).expect("arm7 maps")
}

fn unit(link: &Path, flash: &Path) -> VmcuConfig {
    VmcuConfig {
        flash: Some((
            flash.to_owned(),
            SigningKey::from_bytes(&[9; 32]).verifying_key(),
        )),
        ..arm7(link)
    }
}

fn target(link: &Path) -> PathBuf {
    std::fs::read_link(link).expect("the link is up")
}

#[test]
fn second_vmcu_on_a_live_link_is_refused() {
    let dir = Scratch::new("second");
    let link = dir.0.join("tty");
    let first = VmcuThread::start(arm7(&link)).expect("first starts");
    let pty = target(&link);
    match VmcuThread::start(arm7(&link)) {
        Err(VmcuError::Link(LinkError::InUse { holder, .. })) => {
            assert_eq!(holder, Some(std::process::id()));
        }
        Err(other) => panic!("second: {other}"),
        Ok(_) => panic!("the second virtual MCU took the link"),
    }
    assert_eq!(target(&link), pty, "the first keeps its link");
    assert!(first.control().linked());
    first.stop().expect("first ran");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
    assert!(!lock_path(&link).exists(), "lock file removed");
}

#[test]
fn vmcu_removes_only_its_own_link() {
    let dir = Scratch::new("own");
    let link = dir.0.join("tty");
    let mcu = VmcuThread::start(arm7(&link)).expect("starts");
    // Someone puts another link in its place while it runs.
    std::fs::remove_file(&link).expect("remove");
    std::os::unix::fs::symlink("/dev/null", &link).expect("someone else's link");
    mcu.stop().expect("ran");
    assert_eq!(target(&link), Path::new("/dev/null"), "left alone");
}

#[test]
fn a_stale_link_of_a_crashed_vmcu_is_replaced() {
    let dir = Scratch::new("stale");
    let link = dir.0.join("tty");
    // What a killed MCU leaves: its link, dangling, and its lock file, no longer locked.
    std::os::unix::fs::symlink("/dev/pts/does-not-exist", &link).expect("stale link");
    std::fs::write(lock_path(&link), "4194304\n").expect("stale lock");
    let mcu = VmcuThread::start(arm7(&link)).expect("starts over the stale link");
    assert!(target(&link).starts_with("/dev/pts"), "{:?}", target(&link));
    mcu.stop().expect("ran");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
    assert!(!lock_path(&link).exists(), "lock file removed");
}

#[test]
fn two_vmcus_cannot_share_a_flash_file() {
    let dir = Scratch::new("flash");
    let flash = dir.0.join("unit.flash");
    let first = VmcuThread::start(unit(&dir.0.join("a"), &flash)).expect("first starts");
    let second_link = dir.0.join("b");
    match VmcuThread::start(unit(&second_link, &flash)) {
        Err(e @ VmcuError::Flash { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("in use by another virtual MCU")
                    && message.contains(&flash.display().to_string()),
                "{message}"
            );
        }
        Err(other) => panic!("second: {other}"),
        Ok(_) => panic!("two virtual MCUs share one flash file"),
    }
    assert!(
        std::fs::symlink_metadata(&second_link).is_err(),
        "the refused MCU made no link"
    );
    first.stop().expect("first ran");
}

#[test]
fn flash_file_of_wrong_size_is_refused() {
    let dir = Scratch::new("size");
    let flash = dir.0.join("unit.flash");
    std::fs::write(&flash, [0u8; 1000]).expect("a file");
    let link = dir.0.join("tty");
    match VmcuThread::start(unit(&link, &flash)) {
        Err(e @ VmcuError::Flash { .. }) => {
            let message = e.to_string();
            assert!(message.contains("1000 bytes"), "{message}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a 1000-byte flash file was taken"),
    }
    assert_eq!(
        std::fs::read(&flash).expect("kept"),
        [0u8; 1000],
        "untouched"
    );
    assert!(std::fs::symlink_metadata(&link).is_err(), "no link made");
}
