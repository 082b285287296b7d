#!/usr/bin/env bash
# Installs (apt / cargo) and starts the services Chimera's tests use, on loopback, if they are
# not already running. Idempotent: a second run finds everything up and changes nothing.
#   PostgreSQL  127.0.0.1:${CHIMERA_PG_PORT:-55432}     (trust auth, user postgres; state under /tmp/chimera-services)
#   Redis       127.0.0.1:${CHIMERA_REDIS_PORT:-56379}
#   Kafka API   127.0.0.1:${CHIMERA_KAFKA_PORT:-9092}   (tansu, a Kafka-compatible broker; production runs Apache Kafka)
# Source it to get the connection variables exported:  . scripts/services.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CHIMERA_SERVICES_DIR:-${TMPDIR:-/tmp}/chimera-services}"
PG_PORT="${CHIMERA_PG_PORT:-55432}"
REDIS_PORT="${CHIMERA_REDIS_PORT:-56379}"
KAFKA_PORT="${CHIMERA_KAFKA_PORT:-9092}"
TANSU_VERSION=0.6.0
mkdir -p "$STATE"

log() { printf '[services] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port, name, seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do port_open "$1" && return 0; sleep 0.1; done
  log "$2 did not open 127.0.0.1:$1 within $3 s"; return 1
}

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }; done
  return 1
}

start_postgres() {
  if port_open "$PG_PORT"; then log "PostgreSQL already listening on $PG_PORT"; return; fi
  pg_bin >/dev/null || apt_install postgresql
  local bin data; bin="$(pg_bin)"; data="$STATE/pg"
  local runas=()
  if [ "$(id -u)" = 0 ]; then
    runas=(runuser -u postgres --)
    chown -R postgres:postgres "$STATE" 2>/dev/null || true
    chmod 755 "$STATE"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initdb $data"
    mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    (cd / && "${runas[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null)
  fi
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  (cd / && "${runas[@]}" "$bin/pg_ctl" -D "$data" -l "$STATE/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off -c max_connections=200" start >/dev/null)
}

start_redis() {
  if port_open "$REDIS_PORT"; then log "Redis already listening on $REDIS_PORT"; return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$STATE" \
    --save "" --appendonly no --logfile "$STATE/redis.log" --pidfile "$STATE/redis.pid"
  wait_port "$REDIS_PORT" Redis 20
}

start_kafka() {
  if port_open "$KAFKA_PORT"; then log "Kafka-protocol broker already listening on $KAFKA_PORT"; return; fi
  local tansu="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
  command -v tansu >/dev/null && tansu="$(command -v tansu)"
  if [ ! -x "$tansu" ]; then
    log "installing tansu $TANSU_VERSION (Kafka-compatible broker; about 10-15 minutes on 2 cores, once)"
    cargo install tansu --version "$TANSU_VERSION" --features dynostore,libsql --locked --quiet
    tansu="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
  fi
  log "starting tansu on 127.0.0.1:$KAFKA_PORT"
  nohup "$tansu" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ \
    >"$STATE/tansu.log" 2>&1 &
  echo $! >"$STATE/tansu.pid"
  wait_port "$KAFKA_PORT" tansu 60
}

start_postgres
start_redis
start_kafka

export CHIMERA_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export CHIMERA_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export CHIMERA_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
log "up: $CHIMERA_DATABASE_URL, $CHIMERA_REDIS_URL, kafka $CHIMERA_KAFKA_BROKERS"
