#!/usr/bin/env bash
# Runs every check and test of Stepwise, installing what is missing first.
#   bash scripts/test.sh                    formatting, lints, type checks, all tests
#   STEPWISE_BENCH=1 bash scripts/test.sh   … and the benchmarks too (they take a few minutes)
source "$(dirname "$0")/lib.sh"

# CI builds once from scratch: incremental caches would only cost disk (~4 GB) there. A cold
# build with all tests and the release app peaks near 4 GB.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
need_disk 6

# Every system package of every stage, in one apt transaction (each stage still checks its own).
need_apt "${BUILD_PACKAGES[@]}" "${APP_BUILD_PACKAGES[@]}" chromium "${E2E_PACKAGES[@]}"
need_rust
need_app_build_deps
need_ui
# The UI's browser tests drive Debian's Chromium (no browser is downloaded).
need_apt chromium

# Screenshots and figures are this run's only.
rm -rf "$ROOT/test-artifacts"

say "Formatting (cargo fmt --check)"
cargo fmt --all -- --check

# The app embeds ui/dist and type-checks the UI against the generated bindings.
build_ui

# The release app the end-to-end tests and the package drive is the longest build of all (about
# 16 minutes of both cores cold): it starts now, in the background, at a lower priority, so the
# debug build and the tests go first and it takes every moment they leave the cores idle. The
# tests only wait on states, never on timings, so a busy machine slows them but does not fail them.
release_log="$ROOT/target/release-build.log"
mkdir -p "$ROOT/target"
# Its own session, so that a failing stage stops it too. A new session is a new scheduling group
# where the kernel groups by session (autogroup): `nice` alone would then share the cores half and
# half with the tests' build, so the group itself is made nicer.
setsid nice -n 10 bash -c '{ echo 10 > /proc/self/autogroup; } 2>/dev/null || true
    cargo build --release --locked --features custom-protocol --bin stepwise-app' > "$release_log" 2>&1 &
release_build=$!
trap 'kill -- "-$release_build" 2>/dev/null || true' EXIT

need_mcp_servers
need_temporal
say "Lints and the test build (clippy -D warnings on every target, as the tests compile)"
lint_in_debug_builds
cargo test --workspace --locked --no-run
# The benchmarks are not run here (STEPWISE_BENCH=1 runs them below), but they are linted.
cargo test --workspace --locked --no-run --benches
# What the browser and end-to-end tests start beside the app: the shell on the mock runtime and
# the test model server. Built with an example in the same --workspace build, they get the test
# build's features, so nothing is compiled a second time.
cargo build --workspace --locked --example ui_backend --bin stepwise-test-server

say "Tests (cargo test)"
cargo test --workspace --locked

say "UI tests (Vitest)"
(cd ui && npm run --silent test)

# The page's commands and events go to the real shell on Tauri's mock runtime (the example
# ui_backend, which `npm run test:browser` builds: `cargo test` above has already compiled it), with
# the demo model, the test model server and the MCP server installed above.
say "UI in a browser (Chromium, on the real shell and engine; screenshots in test-artifacts/ui/)"
(cd ui && npm run --silent test:browser)

say "End to end: the real window under Xvfb, through WebKitWebDriver"
need_e2e
if ! wait "$release_build"; then
    cat "$release_log" >&2
    echo "the release build of the app failed (above)" >&2
    exit 1
fi
trap - EXIT
tail -n 3 "$release_log"
# A second launch with nothing changed must start at once: it rebuilds neither the UI nor the app.
say "A launch with nothing changed rebuilds nothing"
before="$(stat -c %Y ui/dist/index.html target/release/stepwise-app)"
STEPWISE_NO_LAUNCH=1 without_lints bash scripts/app.sh
after="$(stat -c %Y ui/dist/index.html target/release/stepwise-app)"
if [ "$before" != "$after" ]; then
    echo "scripts/app.sh rebuilt the UI or the app although nothing had changed" >&2
    exit 1
fi
# A desktop session has a D-Bus session bus (a second launch finds the first through it): give the
# window one of its own.
(cd tests/e2e && dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" npm test --silent)

# The installer: the .deb made from the same release app, checked and installed (as root, or
# through sudo), then the installed binary in the real window.
without_lints bash scripts/check-package.sh

echo "Screenshots and figures: $ROOT/test-artifacts/ (ui/, e2e/, package.json)"

if [ "${STEPWISE_BENCH:-0}" = "1" ]; then
    say "Benchmarks"
    without_lints cargo bench -p stepwise-engine --bench cancel --locked
    without_lints cargo bench -p stepwise-engine --bench providers --locked
    without_lints cargo bench -p stepwise-engine --bench control --locked
    without_lints cargo bench -p stepwise-engine --bench tools --locked
    without_lints cargo bench -p stepwise-engine --bench usage --locked
    STEPWISE_BENCH_TABLE=1 without_lints cargo bench -p stepwise-engine --bench usage --locked
    without_lints cargo bench --bench events --locked
    without_lints cargo bench -p stepwise-cluster --bench cluster --locked
    (cd ui && npm run --silent bench:frames)
fi
