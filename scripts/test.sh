#!/usr/bin/env bash
# Runs every test of communs on a fresh machine: needs only a Rust toolchain
# (cargo); installs and starts anything else the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/communs/target}"
# Each clone would leave its own incremental state in the shared target
# folder (600 MB a run, never reused): CI builds from scratch anyway.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# The web UI's browser tests drive Debian's headless Chromium through
# Debian's chromedriver (cli/tests/support/browser.rs): installed here when
# missing and this user can (root, or sudo without a password); without
# them those tests say they are skipped, unless COMMUNS_REQUIRE_BROWSER=1.
if { [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; } && command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    echo "installing chromium and chromium-driver (apt-get)"
    if ! { $sudo apt-get update -qq >/dev/null &&
        $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }; then
        echo "could not install chromium: the browser tests will be skipped (or fail with COMMUNS_REQUIRE_BROWSER=1)"
    fi
fi

cargo test --workspace --locked "$@"
