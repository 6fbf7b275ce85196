//! Firmware files read from disk with their size bounded: a file larger than its limit
//! (a flash slot's payload, or a full image) is refused from its size before it is read,
//! and one that is not what its size says (it grew, a pipe, a device) is read no further
//! than one byte past the limit, so memory and time are bounded whatever the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use embody_fwimage::{MAX_PAYLOAD, image_len};

/// What a file read is limited to: its size in bytes and what the limit is.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Most bytes.
    pub bytes: u64,
    /// What is limited, for messages.
    pub what: &'static str,
}

/// A firmware binary to sign: at most a flash slot.
pub const PAYLOAD_LIMIT: Limit = Limit {
    bytes: MAX_PAYLOAD as u64,
    what: "a firmware payload (the bridge's flash slot)",
};

/// A signed image: a full slot's payload with its header and trailer.
pub const IMAGE_LIMIT: Limit = Limit {
    bytes: image_len(MAX_PAYLOAD as usize) as u64,
    what: "a firmware image",
};

/// A file that could not be read, or was too large.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Reads `path` whole if it is no larger than `limit`. See the module docs.
pub fn read_bounded(path: &Path, limit: Limit) -> Result<Vec<u8>, ReadError> {
    let fail = |reason: String| ReadError {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let size = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    let too_large = format!("more than the {}-byte limit of {}", limit.bytes, limit.what);
    if size > limit.bytes {
        return Err(fail(format!("{size} bytes, {too_large}")));
    }
    read_at_most(file, limit.bytes)
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail(too_large))
}

/// All of `reader` if it holds at most `limit` bytes, `None` if it holds more; reads no
/// more than `limit + 1` bytes either way.
fn read_at_most(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what is read through it.
    struct Counted<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    #[test]
    fn an_endless_input_is_read_one_byte_past_the_limit_and_no_further() {
        let mut endless = Counted {
            inner: std::io::repeat(0xAB),
            read: 0,
        };
        let read = read_at_most(&mut endless, 1000).expect("reads");
        assert_eq!(read, None, "more than the limit");
        assert_eq!(endless.read, 1001);
    }

    #[test]
    fn an_input_within_the_limit_is_read_whole() {
        assert_eq!(
            read_at_most(&[7u8; 1000][..], 1000).expect("reads"),
            Some(vec![7u8; 1000])
        );
        assert_eq!(read_at_most(&[][..], 0).expect("reads"), Some(Vec::new()));
    }
}
