//! embody-fwimage: the bridge firmware's image format, `#![no_std]` and allocation-free
//! so the host that signs and sends an image and the device that receives it share one
//! implementation. Modelled on MCUboot's: a fixed header, the payload, and a trailer that
//! carries a SHA-256 digest, an Ed25519 signature over that digest, the signing key's id
//! and a security counter (the device refuses images whose counter is below the one it
//! has accepted, so a signed but vulnerable old image cannot be installed again).
//!
//! Layout, all integers little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `EMBF` |
//! | 4 | 2 | header length (32) |
//! | 6 | 2 | format version (1) |
//! | 8 | 4 | image version: major u8, minor u8, patch u16 |
//! | 12 | 4 | payload length |
//! | 16 | 16 | build id |
//! | 32 | n | payload |
//! | 32+n | 4 | trailer magic `ESIG` |
//! | 36+n | 4 | security counter |
//! | 40+n | 8 | key id: the first 8 bytes of SHA-256 of the public key |
//! | 48+n | 32 | SHA-256 of everything before it (header, payload, trailer so far) |
//! | 80+n | 64 | Ed25519 signature of that digest |
//!
//! [`parse`] checks the structure and the digest and never panics on any input;
//! [`Image::verify`] checks the key and the signature.

#![no_std]

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

pub use ed25519_dalek;

/// `EMBF`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"EMBF");
/// `ESIG`.
pub const TRAILER_MAGIC: u32 = u32::from_le_bytes(*b"ESIG");
/// Header length (bytes).
pub const HEADER_LEN: usize = 32;
/// Trailer length (bytes).
pub const TRAILER_LEN: usize = 112;
/// The format version this crate reads and writes.
pub const FORMAT: u16 = 1;
/// Largest payload (bytes): the bridge's flash slot.
pub const MAX_PAYLOAD: u32 = 8 << 20;

/// Offsets within the trailer.
const T_COUNTER: usize = 4;
const T_KEY_ID: usize = 8;
const T_DIGEST: usize = 16;
const T_SIGNATURE: usize = 48;

/// An image's version, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Patch.
    pub patch: u16,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl core::str::FromStr for Version {
    type Err = ImageError;

    /// `X.Y.Z` with X, Y ≤ 255 and Z ≤ 65535.
    fn from_str(s: &str) -> Result<Version, ImageError> {
        let mut parts = s.split('.');
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ImageError::BadVersion);
        };
        Ok(Version {
            major: major.parse().map_err(|_| ImageError::BadVersion)?,
            minor: minor.parse().map_err(|_| ImageError::BadVersion)?,
            patch: patch.parse().map_err(|_| ImageError::BadVersion)?,
        })
    }
}

/// Why an image could not be made, read or trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Fewer bytes than the structure needs.
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The first four bytes are not `EMBF`.
    BadMagic(u32),
    /// A header length other than 32.
    BadHeaderLength(u16),
    /// A format version this build does not read.
    UnsupportedFormat(u16),
    /// A header declaring a payload larger than [`MAX_PAYLOAD`].
    TooLarge(u32),
    /// A payload to sign larger than [`MAX_PAYLOAD`]: its length.
    PayloadTooLarge(usize),
    /// More bytes than header, declared payload and trailer.
    TrailingBytes {
        /// Bytes the header implies.
        expected: usize,
        /// Bytes there are.
        got: usize,
    },
    /// The trailer does not start with `ESIG`.
    BadTrailerMagic(u32),
    /// The SHA-256 does not match the contents: corrupted or tampered.
    DigestMismatch,
    /// Signed by another key than the one it is verified with.
    WrongKey {
        /// The id of the key that signed it.
        signed_by: [u8; 8],
    },
    /// The signature does not verify.
    BadSignature,
    /// The output buffer is too small for the image.
    OutputTooSmall,
    /// Not a version `X.Y.Z`.
    BadVersion,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Truncated { needed, got } => {
                write!(f, "truncated: {got} bytes, the image needs {needed}")
            }
            ImageError::BadMagic(m) => write!(
                f,
                "not an embody firmware image (magic {m:#010x}, expected 'EMBF')"
            ),
            ImageError::BadHeaderLength(n) => write!(f, "header length {n}, expected 32"),
            ImageError::UnsupportedFormat(v) => {
                write!(f, "image format {v}, this build reads format {FORMAT}")
            }
            ImageError::TooLarge(n) => {
                write!(
                    f,
                    "the header declares a payload of {n} bytes, more than the {MAX_PAYLOAD}-byte slot"
                )
            }
            ImageError::PayloadTooLarge(n) => {
                write!(
                    f,
                    "payload of {n} bytes, more than the {MAX_PAYLOAD}-byte slot"
                )
            }
            ImageError::TrailingBytes { expected, got } => write!(
                f,
                "{got} bytes where header and trailer say {expected}: extra bytes after the trailer"
            ),
            ImageError::BadTrailerMagic(m) => write!(
                f,
                "no signature trailer after the payload (magic {m:#010x}, expected 'ESIG')"
            ),
            ImageError::DigestMismatch => {
                write!(f, "SHA-256 mismatch: the image is corrupted or was altered")
            }
            ImageError::WrongKey { signed_by } => {
                write!(f, "signed by another key (id ")?;
                for b in signed_by {
                    write!(f, "{b:02x}")?;
                }
                write!(f, ")")
            }
            ImageError::BadSignature => write!(f, "the signature does not verify"),
            ImageError::OutputTooSmall => write!(f, "output buffer too small"),
            ImageError::BadVersion => write!(f, "expected a version X.Y.Z (X, Y ≤ 255, Z ≤ 65535)"),
        }
    }
}

impl core::error::Error for ImageError {}

/// The header's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The image's version.
    pub version: Version,
    /// Payload length (bytes).
    pub payload_len: u32,
    /// Build id (e.g. the first 16 bytes of the source commit).
    pub build_id: [u8; 16],
}

/// A parsed image: its fields and payload, borrowed from the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image<'a> {
    /// The header.
    pub header: Header,
    /// The firmware itself.
    pub payload: &'a [u8],
    /// The security counter.
    pub security_counter: u32,
    /// Id of the key that signed it.
    pub key_id: [u8; 8],
    /// SHA-256 of header, payload and trailer fields (checked by [`parse`]).
    pub digest: [u8; 32],
    /// Ed25519 signature of the digest (checked by [`Image::verify`]).
    pub signature: [u8; 64],
}

/// Total length of an image with a payload of `payload_len` bytes.
pub const fn image_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len + TRAILER_LEN
}

/// SHA-256 of `bytes` (the hash images use).
pub fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A key's id: the first 8 bytes of SHA-256 of the public key.
pub fn key_id(key: &VerifyingKey) -> [u8; 8] {
    let hash = Sha256::digest(key.as_bytes());
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash[..8]);
    id
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads the header from an image's first [`HEADER_LEN`] bytes (more are ignored).
pub fn parse_header(bytes: &[u8]) -> Result<Header, ImageError> {
    if bytes.len() < HEADER_LEN {
        return Err(ImageError::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    }
    let magic = u32_at(bytes, 0);
    if magic != MAGIC {
        return Err(ImageError::BadMagic(magic));
    }
    let header_len = u16_at(bytes, 4);
    if header_len as usize != HEADER_LEN {
        return Err(ImageError::BadHeaderLength(header_len));
    }
    let format = u16_at(bytes, 6);
    if format != FORMAT {
        return Err(ImageError::UnsupportedFormat(format));
    }
    let payload_len = u32_at(bytes, 12);
    if payload_len > MAX_PAYLOAD {
        return Err(ImageError::TooLarge(payload_len));
    }
    let mut build_id = [0u8; 16];
    build_id.copy_from_slice(&bytes[16..32]);
    Ok(Header {
        version: Version {
            major: bytes[8],
            minor: bytes[9],
            patch: u16_at(bytes, 10),
        },
        payload_len,
        build_id,
    })
}

/// The trailer's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// The security counter.
    pub security_counter: u32,
    /// Id of the key that signed the image.
    pub key_id: [u8; 8],
    /// SHA-256 of header, payload and the trailer's fields before it.
    pub digest: [u8; 32],
    /// Ed25519 signature of the digest.
    pub signature: [u8; 64],
}

/// Reads a trailer from exactly [`TRAILER_LEN`] bytes.
pub fn parse_trailer(bytes: &[u8; TRAILER_LEN]) -> Result<Trailer, ImageError> {
    let magic = u32_at(bytes, 0);
    if magic != TRAILER_MAGIC {
        return Err(ImageError::BadTrailerMagic(magic));
    }
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&bytes[T_KEY_ID..T_DIGEST]);
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&bytes[T_DIGEST..T_SIGNATURE]);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&bytes[T_SIGNATURE..TRAILER_LEN]);
    Ok(Trailer {
        security_counter: u32_at(bytes, T_COUNTER),
        key_id,
        digest,
        signature,
    })
}

/// How many leading bytes of an image with `header` its digest covers.
pub fn digested_len(header: &Header) -> usize {
    HEADER_LEN + header.payload_len as usize + T_DIGEST
}

/// The SHA-256 an image's digest is, fed piecewise (a device reads its flash in chunks).
#[derive(Clone, Default)]
pub struct ImageHasher(Sha256);

impl ImageHasher {
    /// Feeds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest so far.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Checks that `key` signed an image with this trailer.
pub fn verify_trailer(trailer: &Trailer, key: &VerifyingKey) -> Result<(), ImageError> {
    if key_id(key) != trailer.key_id {
        return Err(ImageError::WrongKey {
            signed_by: trailer.key_id,
        });
    }
    key.verify(&trailer.digest, &Signature::from_bytes(&trailer.signature))
        .map_err(|_| ImageError::BadSignature)
}

/// Reads an image: checks its structure and its digest. Total: any bytes give an image
/// or the reason they are not one.
pub fn parse(bytes: &[u8]) -> Result<Image<'_>, ImageError> {
    let header = parse_header(bytes)?;
    let total = image_len(header.payload_len as usize);
    if bytes.len() < total {
        return Err(ImageError::Truncated {
            needed: total,
            got: bytes.len(),
        });
    }
    if bytes.len() > total {
        return Err(ImageError::TrailingBytes {
            expected: total,
            got: bytes.len(),
        });
    }
    let trailer_at = HEADER_LEN + header.payload_len as usize;
    let mut raw = [0u8; TRAILER_LEN];
    raw.copy_from_slice(&bytes[trailer_at..]);
    let trailer = parse_trailer(&raw)?;
    if sha2_digest(&bytes[..digested_len(&header)]) != trailer.digest {
        return Err(ImageError::DigestMismatch);
    }
    Ok(Image {
        header,
        payload: &bytes[HEADER_LEN..trailer_at],
        security_counter: trailer.security_counter,
        key_id: trailer.key_id,
        digest: trailer.digest,
        signature: trailer.signature,
    })
}

impl Image<'_> {
    /// Checks that `key` signed this image.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ImageError> {
        verify_trailer(
            &Trailer {
                security_counter: self.security_counter,
                key_id: self.key_id,
                digest: self.digest,
                signature: self.signature,
            },
            key,
        )
    }
}

/// Writes a signed image of `payload` into `out`; its length.
pub fn sign(
    payload: &[u8],
    header: &Header,
    security_counter: u32,
    key: &SigningKey,
    out: &mut [u8],
) -> Result<usize, ImageError> {
    let payload_len = u32::try_from(payload.len())
        .ok()
        .filter(|n| *n <= MAX_PAYLOAD)
        .ok_or(ImageError::PayloadTooLarge(payload.len()))?;
    let total = image_len(payload.len());
    let out = out.get_mut(..total).ok_or(ImageError::OutputTooSmall)?;
    out[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    out[4..6].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    out[6..8].copy_from_slice(&FORMAT.to_le_bytes());
    out[8] = header.version.major;
    out[9] = header.version.minor;
    out[10..12].copy_from_slice(&header.version.patch.to_le_bytes());
    out[12..16].copy_from_slice(&payload_len.to_le_bytes());
    out[16..32].copy_from_slice(&header.build_id);
    let trailer_at = HEADER_LEN + payload.len();
    out[HEADER_LEN..trailer_at].copy_from_slice(payload);
    let t = trailer_at;
    out[t..t + 4].copy_from_slice(&TRAILER_MAGIC.to_le_bytes());
    out[t + T_COUNTER..t + T_KEY_ID].copy_from_slice(&security_counter.to_le_bytes());
    out[t + T_KEY_ID..t + T_DIGEST].copy_from_slice(&key_id(&key.verifying_key()));
    let digest: [u8; 32] = Sha256::digest(&out[..t + T_DIGEST]).into();
    out[t + T_DIGEST..t + T_SIGNATURE].copy_from_slice(&digest);
    out[t + T_SIGNATURE..total].copy_from_slice(&key.sign(&digest).to_bytes());
    Ok(total)
}
