#!/usr/bin/env bash
# Runs every test of communs on a fresh machine: needs only a Rust toolchain
# (cargo); installs and starts anything else the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/communs/target}"
cargo test --workspace --locked "$@"
