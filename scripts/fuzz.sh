#!/usr/bin/env bash
# Fuzzes one target for SECONDS (default 60) with libFuzzer:
#   scripts/fuzz.sh gmsh_reader [SECONDS]   the .msh reader, seeded with its
#                                           fixtures and broken-file corpus
#   scripts/fuzz.sh case_check [SECONDS]    case files through parse and check,
#                                           seeded with the shipped cases
#   scripts/fuzz.sh expression [SECONDS]    expressions (parse, evaluate),
#                                           seeded with the cases' expressions
#   scripts/fuzz.sh all [SECONDS]           each of them in turn
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Crashes land in <crate>/fuzz/artifacts/<target>/; when fixing one, add the
# input to the tests (mesh/tests/data/broken/ for the reader, a case in
# tests/cli.rs for the others) with the error it must give.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target=${1:-gmsh_reader}
seconds=${2:-60}

fuzz() {
    local crate=$1 name=$2 max_len=$3
    (cd "$root/$crate/fuzz" &&
        cargo +nightly fuzz run "$name" "seeds/$name" -- \
            -max_total_time="$seconds" -max_len="$max_len" -timeout=10)
}

case $target in
gmsh_reader)
    mkdir -p "$root/mesh/fuzz/seeds/gmsh_reader"
    cp "$root"/mesh/tests/data/*.msh "$root"/mesh/tests/data/broken/*.msh "$root/mesh/fuzz/seeds/gmsh_reader/"
    fuzz mesh gmsh_reader 65536
    ;;
case_check)
    seeds="$root/engine/fuzz/seeds/case_check"
    mkdir -p "$seeds"
    # The shipped cases, on a small generated mesh (files are the reader's target).
    for case in "$root"/cases/*.yaml; do
        sed -e '/^mesh:/,/^[a-z]/{/^mesh:/d;/^  /d}' "$case" >"$seeds/$(basename "$case")"
        printf 'mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n' \
            >>"$seeds/$(basename "$case")"
    done
    fuzz engine case_check 8192
    ;;
expression)
    seeds="$root/engine/fuzz/seeds/expression"
    mkdir -p "$seeds"
    grep -ho '"[^"]*[xyt][^"]*"' "$root"/cases/*.yaml | tr -d '"' | sort -u |
        awk -v dir="$seeds" '{ print > (dir "/e" NR) }'
    fuzz engine expression 1024
    ;;
all)
    for t in gmsh_reader case_check expression; do "$0" "$t" "$seconds"; done
    ;;
*)
    echo "unknown target '$target': gmsh_reader, case_check, expression or all" >&2
    exit 2
    ;;
esac
