#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with Rust installed, or again on a warm one:
# starts PostgreSQL, Redis and a Kafka-protocol broker (installing them if missing), then runs
# rustfmt, clippy (-D warnings) and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHIMERA_REFERENCE_DATA:-}" ] && [ -d ../shared/data ]; then
  CHIMERA_REFERENCE_DATA="$(cd ../shared/data && pwd)"
  export CHIMERA_REFERENCE_DATA
fi
echo "reference data: ${CHIMERA_REFERENCE_DATA:-<absent: tests that need it print 'skipped'>}"

# shellcheck source=scripts/services.sh
. scripts/services.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked -- --show-output
