#!/usr/bin/env bash
# `seckill bench` against one instance of the cluster shape on this machine: a fresh
# PostgreSQL 15 (durable: fsync on) and a fresh Redis (appendonly, fsync every second) in a temp
# dir on free ports, the instance a child `seckill serve` over them, the hello-world baseline
# loaded the same way. Every run gets fresh servers (a sale's time slot must not overlap an
# earlier run's); everything is removed at the end.
#
#   deploy/cluster/bench-local.sh [seckill bench options…]
#   deploy/cluster/bench-local.sh --scenario flood -c 256 --duration 10s
#
# Needs redis-server and postgresql-15 (./scripts/test installs both) and a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CLUSTER_BIN:-$PWD/target/release/seckill}
PG=/usr/lib/postgresql/15/bin
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release first (or set CLUSTER_BIN)" >&2; exit 1; }
[ -x "$PG/initdb" ] || { echo "PostgreSQL 15 not found in $PG (apt-get install postgresql-15)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/seckill-bench.XXXXXX); chmod 755 "$DIR"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() {
  as_pg "$PG/pg_ctl" -D "$DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$DIR/redis.pid" ] && kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
  sleep 0.5; rm -rf "$DIR"
}
trap cleanup EXIT

REDIS_PORT=$(free_port); PG_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec \
  --save "" --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
mkdir -p "$DIR/pg"; [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
as_pg "$PG/initdb" -D "$DIR/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PG/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/log" -w \
  -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $DIR/pg -c max_connections=100" start >/dev/null
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

export SECKILL_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export SECKILL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
"$BIN" bench --embedded --spawn --baseline "$@"
