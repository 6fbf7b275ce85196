//! Helpers the CLI's test files share.

use std::path::Path;

/// Copies `examples/fleet` (fleet, robots and units; not the calibration) to `to`.
pub fn copy_example_fleet(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet");
    for sub in ["", "robots", "units"] {
        std::fs::create_dir_all(to.join(sub)).expect("dir");
        for entry in std::fs::read_dir(from.join(sub)).expect("example fleet") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(&path, to.join(sub).join(path.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
}
