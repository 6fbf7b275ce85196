//! Firmware signing keys: Ed25519 key pairs in the standard PEM files (PKCS#8 private
//! key, SubjectPublicKeyInfo public key), so keys made here work with OpenSSL and keys
//! made with `openssl genpkey -algorithm ed25519` work here. The private key file is
//! created readable by its owner only and never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use embody_fwimage::ed25519_dalek::{SigningKey, VerifyingKey};

/// DER of an Ed25519 PKCS#8 private key, before its 32-byte seed (RFC 8410).
const PRIVATE_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of an Ed25519 SubjectPublicKeyInfo, before its 32-byte key (RFC 8410).
const PUBLIC_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected PEM key.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The system gave no randomness.
    #[error("no randomness from the system: {0}")]
    Random(String),
}

/// A new key pair from the system's randomness.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Where the public half of the key at `path` goes: `path` + `.pub`.
pub fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

/// Writes the private key to `path` (owner-only, refusing to overwrite) and the public
/// key to `path.pub`.
pub fn write_pair(path: &Path, key: &SigningKey) -> Result<PathBuf, KeyError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    let mut der = PRIVATE_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Format {
                path: path.to_owned(),
                why: "already exists: a key is never overwritten".into(),
            }
        } else {
            KeyError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    file.write_all(pem("PRIVATE KEY", &der).as_bytes())
        .map_err(io(path))?;
    let public = public_path(path);
    let mut der = PUBLIC_PREFIX.to_vec();
    der.extend_from_slice(key.verifying_key().as_bytes());
    std::fs::write(&public, pem("PUBLIC KEY", &der)).map_err(io(&public))?;
    Ok(public)
}

/// The DER inside the PEM block `label` of the file at `path`.
fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>, KeyError> {
    let format = |why: String| KeyError::Format {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .ok_or_else(|| format(format!("no '{begin}' … '{end}' block")))?;
    let base64: String = body.split_whitespace().collect();
    STANDARD
        .decode(base64)
        .map_err(|e| format(format!("the {label} block is not base64: {e}")))
}

/// The 32 bytes after `prefix` in `der`, if `der` is exactly that.
fn key_bytes(der: &[u8], prefix: &[u8]) -> Option<[u8; 32]> {
    let rest = der.strip_prefix(prefix)?;
    rest.try_into().ok()
}

/// Reads a private key (PEM PKCS#8 Ed25519).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let der = read_pem(path, "PRIVATE KEY")?;
    let seed = key_bytes(&der, &PRIVATE_PREFIX).ok_or_else(|| KeyError::Format {
        path: path.to_owned(),
        why: "not an Ed25519 private key (PKCS#8 with the Ed25519 OID)".into(),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key (PEM SubjectPublicKeyInfo Ed25519).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let der = read_pem(path, "PUBLIC KEY")?;
    let format = |why: &str| KeyError::Format {
        path: path.to_owned(),
        why: why.into(),
    };
    let bytes = key_bytes(&der, &PUBLIC_PREFIX)
        .ok_or_else(|| format("not an Ed25519 public key (SPKI with the Ed25519 OID)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| format("not a valid Ed25519 point"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_written_reads_back_and_is_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("embody-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("fw.key");
        let key = generate().expect("random");
        let public = write_pair(&path, &key).expect("writes");
        assert_eq!(
            read_signing_key(&path).expect("reads").as_bytes(),
            key.as_bytes()
        );
        assert_eq!(
            read_verifying_key(&public).expect("reads"),
            key.verifying_key()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = write_pair(&path, &generate().expect("random")).expect_err("exists");
        assert!(again.to_string().contains("never overwritten"), "{again}");
        // A public key is not a private one, and garbage is neither.
        assert!(read_signing_key(&public).is_err());
        std::fs::write(
            dir.join("junk"),
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
        )
        .expect("write");
        let err = read_verifying_key(&dir.join("junk")).expect_err("junk");
        assert!(err.to_string().contains("not base64"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
