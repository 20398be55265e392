#!/usr/bin/env bash
# The whole test suite, as README.md and CI run it: set-up, formatting,
# lints, then every test of every crate with every feature.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo test --workspace --all-features
# The unsteady DFG benchmarks (minutes each) in release mode.
cargo test --release -p pde-engine --test dfg_unsteady -- --ignored
