#!/usr/bin/env bash
# Launches the Stepwise desktop app, building what is missing first.
#   bash scripts/app.sh
#   STEPWISE_NO_LAUNCH=1 bash scripts/app.sh   builds what changed, does not open the window
source "$(dirname "$0")/lib.sh"

need_disk 3
need_rust
need_app_build_deps
need_ui
build_ui_if_changed
if [ -x target/release/stepwise-app ]; then
    say "Building Stepwise if anything changed"
else
    say "Building Stepwise (the first build takes a few minutes)"
fi
cargo build --release --locked --features custom-protocol --bin stepwise-app
if [ -n "${STEPWISE_NO_LAUNCH:-}" ]; then
    exit 0
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "Stepwise is a desktop app and there is no display here (DISPLAY is not set)." >&2
    echo "Run it from a desktop session, or under a virtual one: xvfb-run target/release/stepwise-app" >&2
    echo "The command line works anywhere: target/release/stepwise run research-and-write --input \"tidal energy\"" >&2
    cargo build --release --locked -p stepwise-engine --bin stepwise
    exit 1
fi
exec target/release/stepwise-app
