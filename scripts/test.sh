#!/usr/bin/env bash
# Runs every test of communs on a fresh machine: needs only a Rust toolchain
# (cargo); installs and starts anything else the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/communs/target}"
# Each clone would leave its own incremental state in the shared target
# folder (600 MB a run, never reused): CI builds from scratch anyway.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo test --workspace --locked "$@"
