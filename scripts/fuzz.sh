#!/usr/bin/env bash
# Fuzzes the gmsh reader for SECONDS (default 60) with libFuzzer, seeded with
# the reader's test fixtures and broken-file corpus. Needs a nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz`). Crashes land in
# mesh/fuzz/artifacts/; add the input to mesh/tests/data/broken/ with its
# expected error when fixing one.
set -euo pipefail
cd "$(dirname "$0")/../mesh/fuzz"
seconds=${1:-60}
mkdir -p seeds
cp ../tests/data/*.msh ../tests/data/broken/*.msh seeds/
cargo +nightly fuzz run gmsh_reader seeds -- -max_total_time="$seconds" -max_len=65536
