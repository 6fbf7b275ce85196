//! The user's link path: a symlink to the virtual MCU's pseudo-terminal, what a host's
//! `--port` takes. A virtual MCU claims the path for as long as it runs with an advisory
//! lock on `<link>.lock` next to it, so a second one is refused instead of taking over a
//! live link. The kernel drops the lock when its holder dies, however it dies: a link and
//! lock file left behind by a crashed MCU are stale and the next MCU replaces them.
//! A link is only ever a symlink — a file at the path is never replaced — and an MCU
//! removes the link only while it still points at its own pseudo-terminal.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a link could not be claimed or made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Another virtual MCU holds the link's lock.
    #[error(
        "{} is the link of another virtual MCU{}, which is still running (its lock {} is held): stop it or choose another link path",
        .link.display(),
        .holder.map(|pid| format!(" (process {pid})")).unwrap_or_default(),
        .lock.display()
    )]
    InUse {
        /// The link.
        link: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// The process that holds it, as its lock file says.
        holder: Option<u32>,
    },
    /// Something other than a symlink is at the link's path.
    #[error("{} exists and is not a symlink: refusing to replace it with a link", .0.display())]
    NotASymlink(PathBuf),
    /// The file system refused.
    #[error("link {}: {what}: {source}", .link.display())]
    Io {
        /// The link.
        link: PathBuf,
        /// What was being done, and to which file.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(link: &Path, what: String) -> impl FnOnce(std::io::Error) -> LinkError {
    let link = link.to_owned();
    move |source| LinkError::Io { link, what, source }
}

/// The lock file of `link`: `<link>.lock`.
pub fn lock_path(link: &Path) -> PathBuf {
    let mut name = link.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A claimed link path: held until dropped, which removes the link (if it is still this
/// MCU's) and the lock file.
#[derive(Debug)]
pub struct Link {
    path: PathBuf,
    lock_path: PathBuf,
    /// Holds the lock; closing it releases the lock.
    _lock: File,
    /// The pseudo-terminal the link points at while it is up.
    target: Option<PathBuf>,
}

/// How often a claim retries when the lock file it locked was removed meanwhile.
const CLAIM_TRIES: usize = 5;

impl Link {
    /// Claims `path` for this MCU: refused while another MCU holds it.
    pub fn claim(path: &Path) -> Result<Link, LinkError> {
        let lock_path = lock_path(path);
        for _ in 0..CLAIM_TRIES {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(io_error(
                    path,
                    format!("creating its lock file {}", lock_path.display()),
                ))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(LinkError::InUse {
                        link: path.to_owned(),
                        holder: holder(&mut file),
                        lock: lock_path,
                    });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(io_error(path, format!("locking {}", lock_path.display()))(
                        source,
                    ));
                }
            }
            // A holder that stopped after we opened the file removed it: the lock must be
            // on the file the path names now, or a third MCU could hold that one.
            if !names(&lock_path, &file) {
                continue;
            }
            let record = format!("{}\n", std::process::id());
            file.set_len(0)
                .and_then(|()| file.write_all(record.as_bytes()))
                .map_err(io_error(
                    path,
                    format!("writing its lock file {}", lock_path.display()),
                ))?;
            return Ok(Link {
                path: path.to_owned(),
                lock_path,
                _lock: file,
                target: None,
            });
        }
        Err(LinkError::Io {
            link: path.to_owned(),
            what: format!("locking {}", lock_path.display()),
            source: std::io::Error::other("the lock file keeps being replaced"),
        })
    }

    /// The link's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the link point at `target`, replacing an older symlink (one a crashed MCU
    /// left: this MCU holds the lock) but never a file.
    pub fn point_at(&mut self, target: &Path) -> Result<(), LinkError> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(&self.path)
                .map_err(io_error(&self.path, "removing the stale symlink".into()))?,
            Ok(_) => return Err(LinkError::NotASymlink(self.path.clone())),
            Err(_) => {}
        }
        std::os::unix::fs::symlink(target, &self.path).map_err(io_error(
            &self.path,
            format!("making the symlink to {}", target.display()),
        ))?;
        self.target = Some(target.to_owned());
        Ok(())
    }

    /// Removes the link if it still points at this MCU's pseudo-terminal; false if it
    /// was up but something else has replaced it since (left alone).
    pub fn remove(&mut self) -> bool {
        let Some(target) = self.target.take() else {
            return true;
        };
        match std::fs::read_link(&self.path) {
            Ok(now) if now == target => {
                let _ = std::fs::remove_file(&self.path);
                true
            }
            Ok(_) => false,
            // Gone already.
            Err(_) => true,
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if !self.remove() {
            tracing::warn!(link = %self.path.display(), "the link no longer points at this virtual MCU: left alone");
        }
        // Removed while still locked: a claim that opened it meanwhile sees the path name
        // another file (or none) and retries.
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Whether `path` names the open `file`.
fn names(path: &Path, file: &File) -> bool {
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The process id a held lock file records, if it can be read.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("embody-link-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    #[test]
    fn a_claimed_link_is_refused_to_a_second_claim_and_free_once_dropped() {
        let dir = scratch("claim");
        let path = dir.join("tty");
        let first = Link::claim(&path).expect("free");
        match Link::claim(&path) {
            Err(LinkError::InUse { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("second claim: {other:?}"),
        }
        drop(first);
        assert!(!lock_path(&path).exists(), "the lock file is removed");
        Link::claim(&path).expect("free again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_at_the_link_path_is_never_replaced() {
        let dir = scratch("file");
        let path = dir.join("tty");
        std::fs::write(&path, b"mine").expect("file");
        let mut link = Link::claim(&path).expect("free");
        assert!(matches!(
            link.point_at(Path::new("/dev/null")),
            Err(LinkError::NotASymlink(_))
        ));
        drop(link);
        assert_eq!(std::fs::read(&path).expect("still there"), b"mine");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_link_replaced_by_another_is_left_alone() {
        let dir = scratch("replaced");
        let path = dir.join("tty");
        let mut link = Link::claim(&path).expect("free");
        link.point_at(Path::new("/dev/null")).expect("link");
        std::fs::remove_file(&path).expect("remove");
        std::os::unix::fs::symlink("/dev/zero", &path).expect("someone else's");
        assert!(!link.remove());
        drop(link);
        assert_eq!(
            std::fs::read_link(&path).expect("left"),
            Path::new("/dev/zero")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
