#!/usr/bin/env bash
# Checks embody's signed firmware images with a third party, OpenSSL (apt's `openssl`
# when missing): the image's SHA-256 is OpenSSL's over the same bytes, OpenSSL verifies
# its Ed25519 signature with the key `embody fw keygen` wrote, OpenSSL signing the same
# digest gives the same signature (Ed25519 is deterministic), and a key OpenSSL made
# signs images `embody fw verify` accepts.
# Usage: scripts/test_fw_openssl.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/embody}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
"$root/scripts/need_openssl.sh"
work=$(mktemp -d /tmp/embody-fw-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c 100000 /dev/urandom > fw.bin
"$bin" fw keygen --out fw.key > /dev/null
"$bin" fw sign --key fw.key --version 1.2.3 --counter 7 fw.bin fw.img > /dev/null
size=$(stat -c %s fw.img)
n=$(( size - 112 ))            # header + payload (the trailer is 112 bytes)
# The digest covers header, payload and the trailer's first 16 bytes.
head -c $(( n + 16 )) fw.img > signed-part.bin
tail -c +$(( n + 17 )) fw.img | head -c 32 > digest.bin
tail -c 64 fw.img > signature.bin
openssl dgst -sha256 -binary signed-part.bin > openssl-digest.bin
cmp -s digest.bin openssl-digest.bin || { echo "SHA-256 differs from OpenSSL's" >&2; exit 1; }
openssl pkeyutl -verify -pubin -inkey fw.key.pub -rawin -in digest.bin -sigfile signature.bin
openssl pkeyutl -sign -inkey fw.key -rawin -in digest.bin -out openssl-signature.bin
cmp -s signature.bin openssl-signature.bin || { echo "signature differs from OpenSSL's" >&2; exit 1; }
openssl genpkey -algorithm ed25519 -out other.pem
openssl pkey -in other.pem -pubout -out other.pub
"$bin" fw sign --key other.pem --version 2.0.0 --counter 1 fw.bin other.img > /dev/null
"$bin" fw verify --pubkey other.pub other.img
if "$bin" fw verify --pubkey other.pub fw.img 2> /dev/null; then
  echo "an image verified with the wrong key" >&2
  exit 1
fi
echo "OpenSSL agrees with embody's firmware images (SHA-256, Ed25519 both ways)"
