#!/usr/bin/env bash
# Runs a communs node on its default store (or $COMMUNS_HOME): builds the
# `communs` binary, creates the identity and store if needed, and shows what
# the store holds. The network daemon (`communs node run`) is not built yet;
# this script will start it when it is.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/communs/target}"
cargo build --release --locked -p communs-cli
communs="$CARGO_TARGET_DIR/release/communs"
"$communs" init "$@"
"$communs" list
echo
echo "The communs binary is $communs"
echo "Publish a design folder with: $communs publish DIR"
