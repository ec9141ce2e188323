#!/usr/bin/env bash
# Builds Stepwise's Debian package from the release app (scripts/test.sh builds it first) and
# checks it as a person's computer takes it: it unpacks, declares the libraries it needs, brings
# its desktop entry and icons, installs with apt, and the installed binary starts the real window
# and runs a template. The package's size goes to test-artifacts/package.json.
source "$(dirname "$0")/lib.sh"

say "The Debian package: bundling the release app"
# `tauri bundle` packages the binary `cargo build --release --features custom-protocol` made;
# it does not build again.
ui/node_modules/.bin/tauri bundle --bundles deb --features custom-protocol
version="$(node -p 'require("./tauri.conf.json").version')"
deb="target/release/bundle/deb/Stepwise_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "no package at $deb" >&2; exit 1; }

fail() { echo "package check: $*" >&2; exit 1; }

say "Checking $(basename "$deb")"
control="$(dpkg-deb -f "$deb")"
for field in "Package: stepwise" "Version: $version" "Architecture: $(dpkg --print-architecture)"; do
    grep -qx "$field" <<<"$control" || fail "control lacks \"$field\""
done
depends="$(dpkg-deb -f "$deb" Depends)"
for lib in libwebkit2gtk-4.1-0 libgtk-3-0 libdbus-1-3 libssl3; do
    grep -q "$lib" <<<"$depends" || fail "Depends does not name $lib ($depends)"
done
# Every shared library the binary links must come from a package it depends on (or libc's).
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
bin="$unpacked/usr/bin/stepwise-app"
[ -x "$bin" ] || fail "no executable usr/bin/stepwise-app"
missing="$(ldd "$bin" | grep 'not found' || true)"
[ -z "$missing" ] || fail "libraries not found: $missing"
desktop="$unpacked/usr/share/applications/Stepwise.desktop"
[ -f "$desktop" ] || fail "no desktop entry"
grep -qx "Exec=stepwise-app" "$desktop" || fail "the desktop entry does not start stepwise-app"
grep -qx "Icon=stepwise-app" "$desktop" || fail "the desktop entry names no icon"
grep -qx "Categories=Office;" "$desktop" || grep -q "^Categories=" "$desktop" || fail "no category"
for size in 32x32 64x64 128x128 256x256@2 512x512; do
    icon="$unpacked/usr/share/icons/hicolor/$size/apps/stepwise-app.png"
    [ -f "$icon" ] || fail "no $size icon"
done
# The icon is Stepwise's own, not the framework's default.
cmp -s "$unpacked/usr/share/icons/hicolor/128x128/apps/stepwise-app.png" src-tauri/icons/128x128.png \
    || fail "the 128x128 icon is not src-tauri/icons/128x128.png"

bytes="$(stat -c %s "$deb")"
installed_kb="$(dpkg-deb -f "$deb" Installed-Size)"
mkdir -p test-artifacts
printf '{\n  "deb_bytes": %s,\n  "deb_mb": %s,\n  "installed_kb": %s\n}\n' "$bytes" \
    "$(awk "BEGIN { printf \"%.2f\", $bytes / 1048576 }")" "$installed_kb" > test-artifacts/package.json
echo "$(basename "$deb"): $(awk "BEGIN { printf \"%.2f\", $bytes / 1048576 }") MB, $installed_kb kB installed"
[ "$bytes" -lt $((15 * 1048576)) ] || fail "the package is over 15 MB"

say "Installing it (apt resolves its dependencies) and starting the installed app"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" >/dev/null
[ "$(command -v stepwise-app)" = /usr/bin/stepwise-app ] || fail "stepwise-app is not on the PATH after installing"
need_e2e
(cd tests/e2e && STEPWISE_APP=/usr/bin/stepwise-app dbus-run-session -- \
    xvfb-run -a -s "-screen 0 1280x800x24" node --test installed.mjs)
