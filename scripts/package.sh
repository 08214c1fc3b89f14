#!/usr/bin/env bash
# Builds the Debian package of communs with cargo-deb: the binary, the
# systemd unit (packaging/communs.service), the default configuration
# (packaging/config.toml, a conffile), and the shell completions and man
# pages that the binary itself generates (clap_complete, clap_mangen).
#   scripts/package.sh           # a release build, then the package
#   scripts/package.sh --debug   # the debug binary the tests already built (CI)
# The last line printed is the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="$HOME/.cache/communs"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"

# cargo-deb is installed once, outside the clone, and reused.
export PATH="$cache/cargo-bin/bin:$PATH"
if ! command -v cargo-deb >/dev/null; then
    echo "installing cargo-deb into $cache/cargo-bin" >&2
    cargo install cargo-deb --version 3.8.0 --locked --root "$cache/cargo-bin" >&2
fi

if [ "${1:-}" = "--debug" ]; then
    # The tests' build: `cargo build` here could rebuild the workspace
    # with other features (the tests enable the protocol's fixtures).
    profile=dev
    dir=debug
    [ -x "$CARGO_TARGET_DIR/debug/communs" ] || cargo build -p communs-cli --locked >&2
    fast=(--fast)
else
    profile=release
    dir=release
    cargo build -p communs-cli --release --locked >&2
    fast=()
fi

bin="$CARGO_TARGET_DIR/$dir/communs"
generated="$CARGO_TARGET_DIR/$dir/package"
rm -rf "$generated"
mkdir -p "$generated/completions" "$generated/man"
"$bin" completions bash >"$generated/completions/communs.bash"
"$bin" completions zsh >"$generated/completions/_communs"
"$bin" completions fish >"$generated/completions/communs.fish"
"$bin" manpages "$generated/man"
gzip -9n "$generated"/man/*.1

mkdir -p "$CARGO_TARGET_DIR/debian"
cargo deb -p communs-cli --no-build --profile "$profile" "${fast[@]}" --output "$CARGO_TARGET_DIR/debian/" >&2
ls -t "$CARGO_TARGET_DIR"/debian/communs_*.deb | head -n 1
