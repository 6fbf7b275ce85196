//! `embody vmcu` owns its `--link` (the symlink to its pseudo-terminal a host opens as
//! its serial port) and its `--flash` file while it runs. A second `embody vmcu` on a
//! live link took it over, and the first deleted it on exit though it then pointed at the
//! second's pty; two could share a flash file; a flash file of the wrong size was grown;
//! and a link in a missing directory printed "link removed" before the real error. Now a
//! held link or flash file is refused, a killed vmcu's stale link is replaced, a vmcu
//! removes only its own link, and an error is said first and alone.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, Scratch, embody, wait_for};

/// Starts `embody vmcu --link LINK` with `extra` arguments and waits for its link.
fn start_vmcu(link: &Path, extra: &[&str]) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(["vmcu", "--link"])
        .arg(link)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("embody vmcu starts");
    let vmcu = Killed(child);
    wait_for(link);
    vmcu
}

/// Runs `embody vmcu --link LINK` with `extra` arguments, which must end by itself
/// within 10 s (it is refused): what it printed on stderr. Killed and failed otherwise.
fn refused_vmcu(link: &Path, extra: &[&str]) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(["vmcu", "--link"])
        .arg(link)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("embody vmcu starts");
    let mut vmcu = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = vmcu.0.try_wait().expect("waits") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "embody vmcu --link {} was not refused: it runs",
            link.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1), "refused with exit code 1");
    stderr(&mut vmcu)
}

/// SIGINT, as Ctrl-C: the vmcu cleans up and exits cleanly; what it printed on stderr.
fn interrupt(mut vmcu: Killed) -> String {
    let status = Command::new("kill")
        .args(["-INT", &vmcu.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let said = stderr(&mut vmcu);
    let status: ExitStatus = vmcu.0.wait().expect("waits");
    assert!(status.success(), "vmcu exits cleanly on SIGINT: {said}");
    said
}

/// All a (finished or finishing) child's stderr.
fn stderr(vmcu: &mut Killed) -> String {
    let mut said = String::new();
    if let Some(mut pipe) = vmcu.0.stderr.take() {
        pipe.read_to_string(&mut said).expect("stderr");
    }
    said
}

fn target(link: &Path) -> PathBuf {
    std::fs::read_link(link).expect("the link is up")
}

fn lock_of(link: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", link.display()))
}

/// A key pair in `dir`: the public key's path.
fn pubkey(dir: &Path) -> String {
    let key = dir.join("fw.key");
    let out = embody(&["fw", "keygen", "--out", &key.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{}.pub", key.display())
}

#[test]
fn second_vmcu_on_a_live_link_is_refused() {
    let dir = Scratch::new("vmcu-second");
    let link = dir.0.join("tty");
    let first = start_vmcu(&link, &[]);
    let pty = target(&link);
    let said = refused_vmcu(&link, &[]);
    assert!(
        said.contains(&format!(
            "{} is the link of another virtual MCU",
            link.display()
        )) && said.contains(&format!("process {}", first.0.id())),
        "{said}"
    );
    assert!(!said.contains("removed"), "{said}");
    assert_eq!(target(&link), pty, "the first keeps its link");
    let said = interrupt(first);
    assert!(said.contains("removed"), "{said}");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
    assert!(!lock_of(&link).exists(), "lock file removed");
}

#[test]
fn vmcu_removes_only_its_own_link() {
    let dir = Scratch::new("vmcu-own");
    let link = dir.0.join("tty");
    let vmcu = start_vmcu(&link, &[]);
    std::fs::remove_file(&link).expect("remove");
    std::os::unix::fs::symlink("/dev/null", &link).expect("someone else's link");
    let said = interrupt(vmcu);
    assert_eq!(target(&link), Path::new("/dev/null"), "left alone");
    assert!(
        said.contains("no longer points at this virtual MCU") && !said.contains("removed"),
        "{said}"
    );
}

#[test]
fn stale_link_of_a_killed_vmcu_is_replaced() {
    let dir = Scratch::new("vmcu-stale");
    let link = dir.0.join("tty");
    let killed = start_vmcu(&link, &[]);
    let old = target(&link);
    drop(killed); // SIGKILL: its link and lock file stay behind
    assert!(std::fs::symlink_metadata(&link).is_ok() && lock_of(&link).exists());
    let next = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(["vmcu", "--link"])
        .arg(&link)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("embody vmcu starts");
    let next = Killed(next);
    // The dangling link is replaced by one to the new pty (which may reuse the number).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(lock_of(&link))
        .is_ok_and(|pid| pid.trim() == next.0.id().to_string())
        || !link.exists()
    {
        assert!(Instant::now() < deadline, "the stale link was not replaced");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(target(&link).starts_with("/dev/pts"), "{old:?}");
    let said = interrupt(next);
    assert!(said.contains("removed"), "{said}");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
    assert!(!lock_of(&link).exists(), "lock file removed");
}

#[test]
fn vmcu_on_a_link_in_a_missing_directory_says_why_and_nothing_else() {
    let dir = Scratch::new("vmcu-missing");
    let link = dir.0.join("missing").join("x");
    let said = refused_vmcu(&link, &[]);
    assert!(
        said.contains(&format!("link {}", link.display()))
            && said.contains("No such file or directory"),
        "{said}"
    );
    assert!(
        !said.contains("removed") && !said.contains("Ctrl-C"),
        "{said}"
    );
}

#[test]
fn two_vmcus_cannot_share_a_flash_file() {
    let dir = Scratch::new("vmcu-flash");
    let pubkey = pubkey(&dir.0);
    let flash = dir.0.join("unit.flash").display().to_string();
    let args = ["--flash", &flash, "--pubkey", &pubkey];
    let first = start_vmcu(&dir.0.join("a"), &args);
    let second_link = dir.0.join("b");
    let said = refused_vmcu(&second_link, &args);
    assert!(
        said.contains(&flash) && said.contains("in use by another virtual MCU"),
        "{said}"
    );
    assert!(!said.contains("removed"), "{said}");
    assert!(std::fs::symlink_metadata(&second_link).is_err(), "no link");
    interrupt(first);
}

#[test]
fn flash_file_of_wrong_size_is_refused() {
    let dir = Scratch::new("vmcu-size");
    let pubkey = pubkey(&dir.0);
    let flash = dir.0.join("unit.flash");
    std::fs::write(&flash, [0x5Au8; 1000]).expect("a file");
    let flash = flash.display().to_string();
    let link = dir.0.join("tty");
    let said = refused_vmcu(&link, &["--flash", &flash, "--pubkey", &pubkey]);
    assert!(
        said.contains(&flash) && said.contains("1000 bytes") && said.contains("refused"),
        "{said}"
    );
    assert_eq!(std::fs::read(&flash).expect("kept"), [0x5Au8; 1000]);
    assert!(std::fs::symlink_metadata(&link).is_err(), "no link");
}
