#!/usr/bin/env bash
# Runs a communs node on its default store (or $COMMUNS_HOME): builds the
# `communs` binary, creates the identity and store if needed, then runs the
# node on the network (`communs node run`, flags passed through) until
# Ctrl-C. While it runs, other `communs` commands talk to it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/communs/target}"
cargo build --release --locked -p communs-cli
communs="$CARGO_TARGET_DIR/release/communs"
"$communs" init
echo "The communs binary is $communs; in another terminal: $communs publish DIR, $communs list, $communs ui (the web UI)"
exec "$communs" node run "$@"
