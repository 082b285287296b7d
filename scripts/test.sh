#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with Rust installed, or again on a warm one:
# starts PostgreSQL, Redis and a Kafka-protocol broker (installing them if missing), then runs
# rustfmt, clippy (-D warnings), the API docs (no broken or private links) and every test of
# the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CHIMERA_REFERENCE_DATA:-}" ] && [ -d ../shared/data ]; then
  CHIMERA_REFERENCE_DATA="$(cd ../shared/data && pwd)"
  export CHIMERA_REFERENCE_DATA
fi
echo "reference data: ${CHIMERA_REFERENCE_DATA:-<absent: tests that need it print 'skipped'>}"

# A fresh clone gains nothing from incremental artefacts, and they double the build's size on disk.
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL=0
fi
echo "disk before the build: $(df -h --output=avail . | tail -1 | tr -d ' ') free"

# shellcheck source=scripts/services.sh
. scripts/services.sh

# The tests' own files (databases, logs, data files; about 25 MB a run) go under a directory of
# this run, removed when every test passed and kept, with its path printed, when one failed.
# Set after the services, whose state stays where services.sh keeps it between runs.
TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/chimera-tests.XXXXXX")"
export TMPDIR
trap 'rc=$?; if [ "$rc" -eq 0 ]; then rm -rf "$TMPDIR"; else echo "the tests left their files in $TMPDIR"; fi' EXIT

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo test --workspace --locked -- --show-output
echo "disk after the tests: $(df -h --output=avail . | tail -1 | tr -d ' ') free; target: $(du -sh target 2>/dev/null | cut -f1)"
