#!/usr/bin/env bash
# The whole test suite, as README.md and CI run it: set-up (Debian
# packages, libtorch), formatting, lints, then every test of every crate
# with every feature.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# libtorch for the learned components (built with --all-features).
torch_env="$(scripts/torch.sh)"   # an assignment, so that a failure stops the script
eval "$torch_env"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo test --workspace --all-features
# The unsteady DFG benchmarks (minutes each) in release mode.
cargo test --release -p pde-engine --test dfg_unsteady -- --ignored
