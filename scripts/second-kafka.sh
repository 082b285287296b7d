#!/usr/bin/env bash
# Starts a second Kafka-protocol broker for the live benchmark: noida-db (a single binary that
# speaks the Kafka protocol among others; PyPI, MIT), its Kafka service alone, in memory, on
# 127.0.0.1:${CHIMERA_SECOND_KAFKA_PORT:-19092}, fresh each start (a broker that kept the
# last run's topics would serve the next run slower). Installed once with pip into
# ~/.cache/chimera/noida-db-$VERSION, outside the repository. The tests keep tansu
# (scripts/services.sh); this one is for telling the broker's part of a Kafka figure from ours.
#
#   scripts/second-kafka.sh          (re)start it, print the variable to export
#   scripts/second-kafka.sh stop     stop it
#
# What differs from Apache Kafka, and so what its figures mean (docs/benchmarks.md, round 34):
# it answers a fetch at once, empty or not (no long poll: every idle consumer asks again
# every few hundred µs), it returns a whole partition's backlog in one fetch response
# (fetch.max.bytes is not honoured: 100,000 bars are 39 MB in one response, and librdkafka
# refuses one over receive.message.max.bytes, 100 MB), and it saves its state as it changes
# (a thread that takes a third of a core while a backlog is written). It serves fetches that
# start inside a record batch, which tansu does not, so producers may batch on it.
set -euo pipefail

VERSION=0.2.3
PORT="${CHIMERA_SECOND_KAFKA_PORT:-19092}"
VENV="${CHIMERA_NOIDA_VENV:-$HOME/.cache/chimera/noida-db-$VERSION}"
STATE="${CHIMERA_SERVICES_DIR:-${TMPDIR:-/tmp}/chimera-services}/noida"

log() { printf '[second-kafka] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop() {
  if [ -f "$STATE/noida.pid" ]; then
    local pid; pid="$(cat "$STATE/noida.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$STATE/noida.pid"
  fi
  rm -rf "$STATE/data"
}

if [ "${1:-}" = stop ]; then stop; log "stopped"; exit 0; fi

if [ ! -x "$VENV/bin/noida-db" ]; then
  log "installing noida-db $VERSION with pip into $VENV (once)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "noida-db==$VERSION"
fi
# The binary itself, not pip's wrapper (which would run it as a child, out of reach of stop).
BINARY="$("$VENV/bin/python" -c 'from importlib.resources import files; print(files("noida_db").joinpath("noida-db"))')"
chmod +x "$BINARY"
stop
if port_open "$PORT"; then
  log "127.0.0.1:$PORT is taken by another process; set CHIMERA_SECOND_KAFKA_PORT"
  exit 1
fi
mkdir -p "$STATE"
nohup "$BINARY" start --only kafka --kafka-port "$PORT" --data-dir "$STATE/data" \
  >"$STATE/noida.log" 2>&1 &
echo $! >"$STATE/noida.pid"
for _ in $(seq 1 100); do port_open "$PORT" && break; sleep 0.1; done
port_open "$PORT" || { log "noida-db did not open 127.0.0.1:$PORT (see $STATE/noida.log)"; exit 1; }
log "noida-db's Kafka service on 127.0.0.1:$PORT"
echo "export CHIMERA_KAFKA_BROKERS=127.0.0.1:$PORT"
