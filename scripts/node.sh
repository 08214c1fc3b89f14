#!/usr/bin/env bash
# Runs a communs node on its default store (or $COMMUNS_HOME): builds the
# `communs` binary, creates the identity and data directory if needed, and
# prints the author id. The network daemon (`communs node run`) is not built
# yet; this script will start it when it is.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/communs/target}"
cargo build --release --locked -p communs-cli
communs="$CARGO_TARGET_DIR/release/communs"
"$communs" init "$@"
echo "author id: $("$communs" id)"
