#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine; idempotent
# and quiet when everything is there already.
#   gmsh, libgmsh-dev   the gmsh SDK behind the `gmsh` feature (meshing .geo files)
#   paraview, xvfb      pvbatch, to check that ParaView opens our VTK output
#   python3-venv        the virtual environment scripts/torch.sh puts libtorch in
# libtorch itself (the `torch` feature) comes from scripts/torch.sh.
set -euo pipefail
need=()
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
command -v gmsh >/dev/null || need+=(gmsh)
[ -f /usr/include/gmshc.h ] || need+=(libgmsh-dev)
command -v pvbatch >/dev/null || need+=(paraview)
command -v xvfb-run >/dev/null || need+=(xvfb)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (Debian packages)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi
