//! `embody fw keygen|sign|inspect|verify`: signed firmware images for the bridge. Keys
//! are Ed25519 PEM files (OpenSSL's format both ways); images are embody-fwimage's
//! (header, payload, trailer with SHA-256, signature and security counter), read with
//! their size bounded (`embody_fleet::image_file`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use embody_fleet::image_file::{IMAGE_LIMIT, PAYLOAD_LIMIT, read_bounded};
use embody_fleet::{hex, keys};
use embody_fwimage::{Header, Image, Version, image_len, parse, sign};
use serde_json::json;

use crate::error::{CliError, Result};

/// The `fw` subcommands.
#[derive(Subcommand, Debug)]
pub enum FwCommand {
    /// Make a signing key pair: KEY (private, owner-only) and KEY.pub.
    Keygen {
        /// Where the private key goes (the public key next to it, with `.pub`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a firmware binary into an image.
    Sign(SignArgs),
    /// Show an image's header and trailer, checking its structure and digest.
    Inspect {
        /// The image.
        image: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check an image's digest and that the key behind PUB signed it.
    Verify {
        /// The public key (PEM).
        #[arg(long)]
        pubkey: PathBuf,
        /// The image.
        image: PathBuf,
    },
}

/// Arguments of `embody fw sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// The image's version, X.Y.Z.
    #[arg(long)]
    version: Version,
    /// Security counter: devices refuse images below the highest they have accepted.
    #[arg(long)]
    counter: u32,
    /// Build id, up to 16 bytes as hex (default: the first 16 bytes of the payload's
    /// SHA-256).
    #[arg(long)]
    build_id: Option<String>,
    /// The firmware binary.
    input: PathBuf,
    /// The image to write.
    output: PathBuf,
}

fn build_id(arg: Option<&str>, payload: &[u8]) -> Result<[u8; 16]> {
    let mut id = [0u8; 16];
    match arg {
        None => {
            use embody_fwimage::sha2_digest;
            id.copy_from_slice(&sha2_digest(payload)[..16]);
        }
        Some(text) => {
            let bad =
                || CliError::Usage(format!("--build-id '{text}': expected up to 32 hex digits"));
            if text.len() > 32 || text.len() % 2 != 0 {
                return Err(bad());
            }
            for (k, pair) in text.as_bytes().chunks(2).enumerate() {
                let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
                id[k] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
            }
        }
    }
    Ok(id)
}

/// Runs an `fw` subcommand.
pub fn run(command: FwCommand) -> Result {
    match command {
        FwCommand::Keygen { out } => {
            let key = keys::generate()?;
            let public = keys::write_pair(&out, &key)?;
            println!(
                "wrote {} (private, keep it safe) and {} (key id {})",
                out.display(),
                public.display(),
                hex(&embody_fwimage::key_id(&key.verifying_key()))
            );
            Ok(())
        }
        FwCommand::Sign(args) => sign_image(&args),
        FwCommand::Inspect { image, json } => {
            let bytes = read_bounded(&image, IMAGE_LIMIT)?;
            let parsed = parse(&bytes).map_err(|e| CliError::file(&image, e))?;
            describe(&image, &parsed, json);
            Ok(())
        }
        FwCommand::Verify { pubkey, image } => {
            let key = keys::read_verifying_key(&pubkey)?;
            let bytes = read_bounded(&image, IMAGE_LIMIT)?;
            let parsed = parse(&bytes)
                .and_then(|p| p.verify(&key).map(|()| p))
                .map_err(|e| CliError::file(&image, e))?;
            println!(
                "{}: good signature by key {}, version {}, security counter {}",
                image.display(),
                hex(&parsed.key_id),
                parsed.header.version,
                parsed.security_counter
            );
            Ok(())
        }
    }
}

fn sign_image(args: &SignArgs) -> Result {
    let key = keys::read_signing_key(&args.key)?;
    let payload = read_bounded(&args.input, PAYLOAD_LIMIT)?;
    let header = Header {
        version: args.version,
        payload_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
        build_id: build_id(args.build_id.as_deref(), &payload)?,
    };
    let mut out = vec![0u8; image_len(payload.len())];
    sign(&payload, &header, args.counter, &key, &mut out)
        .map_err(|e| CliError::file(&args.input, e))?;
    std::fs::write(&args.output, &out).map_err(|e| CliError::file(&args.output, e))?;
    println!(
        "wrote {}: version {}, {} bytes of firmware, security counter {}, key {}",
        args.output.display(),
        args.version,
        payload.len(),
        args.counter,
        hex(&embody_fwimage::key_id(&key.verifying_key()))
    );
    Ok(())
}

fn describe(path: &Path, image: &Image<'_>, json: bool) {
    let h = &image.header;
    if json {
        let out = json!({
            "image": path.display().to_string(),
            "format": embody_fwimage::FORMAT,
            "version": h.version.to_string(),
            "payload_bytes": h.payload_len,
            "image_bytes": image_len(h.payload_len as usize),
            "build_id": hex(&h.build_id),
            "security_counter": image.security_counter,
            "key_id": hex(&image.key_id),
            "sha256": hex(&image.digest),
            "digest_ok": true,
        });
        println!("{out}");
        return;
    }
    println!(
        "{}: embody firmware image, format {}",
        path.display(),
        embody_fwimage::FORMAT
    );
    println!("  version           {}", h.version);
    println!("  payload           {} bytes", h.payload_len);
    println!("  build id          {}", hex(&h.build_id));
    println!("  security counter  {}", image.security_counter);
    println!("  signed by key     {}", hex(&image.key_id));
    println!("  sha256            {} (matches)", hex(&image.digest));
    println!("  signature         not checked: use `embody fw verify --pubkey PUB`");
}
