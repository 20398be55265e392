#!/usr/bin/env bash
# Builds the release engine with libtorch and trains the CI-size learned
# mover into out/mover_model (generate meshes + train mover, under a
# minute); the movers' benchmarks source it.
set -euo pipefail
cd "$(dirname "$0")/../.."
torch_env="$(scripts/torch.sh)"
eval "$torch_env"
cargo build --release -q -p pde-engine --features torch,gmsh
target/release/pde-engine generate meshes cases/learned/meshes.yaml >&2
rm -rf out/mover_model
target/release/pde-engine train mover cases/learned/train_mover.yaml >/dev/null
