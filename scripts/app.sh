#!/usr/bin/env bash
# Launches Stepwise. For now that is the `stepwise` command line streaming a built-in workflow on
# the offline demo model; pass your own input as the first argument.
#   bash scripts/app.sh "the history of tea"
source "$(dirname "$0")/lib.sh"

need_rust
say "Building Stepwise"
cargo build --release --quiet -p stepwise-engine --bin stepwise
input="${1:-tidal energy}"
exec target/release/stepwise run research-and-write --input "$input"
