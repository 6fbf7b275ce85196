#!/usr/bin/env bash
# Installs OpenSSL's command line with apt when it is missing (the checks that use
# OpenSSL as a third-party reader call this first).
set -euo pipefail
if ! command -v openssl > /dev/null; then
  echo "installing openssl with apt..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq openssl > /dev/null 2>&1 || {
    apt-get update -qq > /dev/null
    apt-get install -y -qq openssl > /dev/null
  }
fi
