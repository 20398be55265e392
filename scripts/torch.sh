#!/usr/bin/env bash
# Provisions libtorch for the `torch` feature and prints the environment
# that builds with it:
#
#   eval "$(scripts/torch.sh)"
#   cargo build --release --features torch
#
# libtorch is the PyPI wheel torch==2.13.0 (the version tch 0.26 expects),
# installed once into a virtual environment outside the repository
# ($PDE_TORCH_HOME, default ~/.cache/pde-engine/torch-2.13.0; about 5 GB
# with the CUDA libraries), so that clones and CI runs on the same machine
# share it. Idempotent: when the environment is there, it only prints.
set -euo pipefail
version=2.13.0
home="${PDE_TORCH_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/pde-engine/torch-$version}"
have() {
  "$home/bin/python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$version')" \
    2>/dev/null
}
if ! have; then
  echo "torch.sh: installing torch==$version into $home (once; a few minutes)" >&2
  python3 -m venv "$home" >&2
  "$home/bin/pip" install --quiet --disable-pip-version-check "torch==$version" >&2
  have || { echo "torch.sh: torch $version did not install into $home" >&2; exit 1; }
fi
printf 'export PATH="%s/bin:$PATH" LIBTORCH_USE_PYTORCH=1\n' "$home"
