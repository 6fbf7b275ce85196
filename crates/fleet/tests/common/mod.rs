//! A scratch copy of `examples/fleet` to break, shared by the fleet's tests.

#![allow(dead_code)] // Each test file uses its own share of the helpers.

use std::path::{Path, PathBuf};

use embody_fleet::check::check;
use embody_fleet::config::{Problem, load};

/// A scratch copy of the example fleet.
pub struct Fleet {
    pub dir: PathBuf,
}

impl Fleet {
    pub fn new(name: &str) -> Fleet {
        let dir = std::env::temp_dir().join(format!("embody-fleet-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet");
        for sub in ["", "robots", "units", "calibration"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dir");
            for entry in std::fs::read_dir(example.join(sub)).expect("example") {
                let path = entry.expect("entry").path();
                if path.is_file() {
                    std::fs::copy(&path, dir.join(sub).join(path.file_name().expect("name")))
                        .expect("copy");
                }
            }
        }
        Fleet { dir }
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn append(&self, rel: &str, text: &str) {
        let mut s = std::fs::read_to_string(self.file(rel)).unwrap_or_default();
        s.push_str(text);
        std::fs::write(self.file(rel), s).expect("write");
    }

    pub fn replace(&self, rel: &str, from: &str, to: &str) {
        let s = std::fs::read_to_string(self.file(rel)).expect("read");
        assert!(s.contains(from), "{rel} has no '{from}'");
        std::fs::write(self.file(rel), s.replace(from, to)).expect("write");
    }

    /// Every problem with unit ARM-0001.
    pub fn problems(&self) -> Vec<Problem> {
        match load(&self.dir, "ARM-0001") {
            Err(problems) => problems,
            Ok((layers, config)) => check(&layers, &config),
        }
    }

    /// Asserts exactly one problem, at `key` in `file`, whose reason mentions `words`.
    pub fn expect_one(&self, file: &str, key: &str, words: &str) {
        let problems = self.problems();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let p = &problems[0];
        assert_eq!(p.file, self.file(file), "{p}");
        assert_eq!(p.key, key, "{p}");
        assert!(p.reason.contains(words), "{p}");
    }

    /// Asserts a problem at `key` in `file` whose reason mentions `words` (among others).
    pub fn expect_among(&self, file: &str, key: &str, words: &str) {
        let problems = self.problems();
        assert!(
            problems
                .iter()
                .any(|p| p.file == self.file(file) && p.key == key && p.reason.contains(words)),
            "no {file}: {key}: …{words}… in {problems:#?}"
        );
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
