#!/usr/bin/env bash
# Builds release binaries optimised with a profile of Chimera's own hot paths (profile-guided
# optimisation): an instrumented `chimera` runs a training workload, its profile is merged, and
# the binaries are built again with it. The compiler then lays out and inlines the code an order
# actually takes. On the 2-core build machine: `chimera backtest` on the reference bars 34-39
# against 39-52 ms, and in process order-to-fill p50 a few percent lower (docs/benchmarks.md,
# round 30). Results are unchanged, to the last digit: the profile moves code, never arithmetic.
#
#   ./scripts/pgo.sh                       # target/pgo/use/<host>/release/chimera
#   ./scripts/pgo.sh bench --no-run -p chimera-live --bench live_pipeline
#
# Arguments, when given, are the cargo command of the final build (default: `build --release
# -p chimera-cli --bin chimera`); `bench` builds use the release profile too.
#
# Training: `chimera demo` (synthetic, no files) and, when the reference bars are there
# (CHIMERA_REFERENCE_DATA, default ../shared/data), `chimera backtest` and the in-process
# `chimera up --busy-poll` of examples/live/up.toml paced at 2,000 bars a second (PGO_UP_SPEED,
# times real time; 120000 by default). Train on your own workload instead by
# setting PGO_TRAIN to a command; it gets the instrumented binary as $CHIMERA.
#
# Needs llvm-profdata of the LLVM version rustc was built with; on Debian the script installs
# the matching llvm-N package when it is missing (or use `rustup component add llvm-tools`).
# Everything goes under target/pgo (PGO_DIR), so the ordinary target directory keeps its builds.
set -euo pipefail
cd "$(dirname "$0")/.."

PGO_DIR=${PGO_DIR:-target/pgo}
PGO_DIR=$(mkdir -p "$PGO_DIR" && cd "$PGO_DIR" && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
step() { printf '\n== pgo: %s\n' "$*"; }

find_profdata() {
    local sysroot candidate
    sysroot=$(rustc --print sysroot)
    for candidate in \
        "$sysroot/lib/rustlib/$host/bin/llvm-profdata" \
        "$(command -v "llvm-profdata-$llvm_major" || true)" \
        "/usr/lib/llvm-$llvm_major/bin/llvm-profdata"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! profdata=$(find_profdata); then
    if command -v apt-get >/dev/null; then
        step "installing llvm-$llvm_major for llvm-profdata (rustc uses LLVM $llvm_major)"
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get install -y "llvm-$llvm_major" >/dev/null
    fi
    profdata=$(find_profdata) || {
        echo "pgo: no llvm-profdata for LLVM $llvm_major: install llvm-$llvm_major or run" \
            "'rustup component add llvm-tools'" >&2
        exit 1
    }
fi

raw="$PGO_DIR/raw"
rm -rf "$raw"
mkdir -p "$raw"

step "instrumented build of chimera ($host)"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$raw" CARGO_TARGET_DIR="$PGO_DIR/gen" \
    cargo build --release --locked --target "$host" -p chimera-cli --bin chimera
CHIMERA="$PGO_DIR/gen/$host/release/chimera"
export CHIMERA

work=$(mktemp -d "${TMPDIR:-/tmp}/chimera-pgo.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -n "${PGO_TRAIN:-}" ]; then
    step "training: $PGO_TRAIN"
    bash -c "$PGO_TRAIN"
else
    step "training: chimera demo"
    "$CHIMERA" demo --out "$work/demo" --minutes 10080 >/dev/null
    data=${CHIMERA_REFERENCE_DATA:-../shared/data}
    bars="$data/bars/btc-perp-20211231-20220201_1m.csv"
    if [ -f "$bars" ]; then
        step "training: chimera backtest on the reference bars"
        "$CHIMERA" backtest --data "$bars" --strategy ema-cross --param fast=10 \
            --param slow=20 --param qty=0.1 --report "$work/backtest" >/dev/null
        # Paced as a live feed would be (2,000 one-minute bars a second), so the profile holds
        # what waiting between bars runs (polling, rehearsals), not a replay at full speed:
        # trained on full-speed runs alone, the order path came out no faster.
        step "training: chimera up --busy-poll at 2,000 bars/s (examples/live/up.toml, in process)"
        sed -e "s|target/chimera-up.db|$work/up.db|" -e "s|\.\./shared/data|$data|" \
            examples/live/up.toml >"$work/up.toml"
        CHIMERA__FEED__SPEED=${PGO_UP_SPEED:-120000} \
            "$CHIMERA" up --config "$work/up.toml" --exit-when-idle --busy-poll >/dev/null
    else
        echo "pgo: no reference bars at $bars: trained on the demo alone"
    fi
fi

step "merging the profile"
"$profdata" merge -o "$PGO_DIR/chimera.profdata" "$raw"

if [ "$#" -eq 0 ]; then
    set -- build --release -p chimera-cli --bin chimera
fi
step "optimised build: cargo $*"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$PGO_DIR/chimera.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
    CARGO_TARGET_DIR="$PGO_DIR/use" cargo "$@" --locked --target "$host"
echo "pgo: built under $PGO_DIR/use/$host/release (profile: $PGO_DIR/chimera.profdata)"
