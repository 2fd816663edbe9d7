#!/usr/bin/env bash
# The cluster shape on one machine: a Redis with an append-only file, N `seckill serve`
# instances over one PostgreSQL database and that Redis, and nginx in front of them
# (deploy/nginx.conf with every instance in its upstreams).
#
#   DATABASE_URL=postgres://seckill:PASSWORD@127.0.0.1:5432/seckill deploy/cluster/start-local.sh [N]
#   deploy/cluster/start-local.sh stop
#
# Needs redis-server, nginx (nginx-light is enough), a built seckill (cargo build --release) and
# a PostgreSQL database the role owns. Everything else lives in $CLUSTER_DIR
# (/tmp/seckill-cluster): logs, pids, the Redis AOF, the instances' data dirs, the nginx config.
# Ports: nginx 8080, instances 8081…, Redis 6390 (set NGINX_PORT, REDIS_PORT to change them).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${CLUSTER_DIR:-/tmp/seckill-cluster}
BIN=${CLUSTER_BIN:-$PWD/target/release/seckill}
NGINX_PORT=${NGINX_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6390}

stop() {
  local pids="" f p
  for f in "$DIR/nginx.pid" "$DIR"/i*.pid "$DIR/redis.pid"; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); rm -f "$f"
    kill "$p" 2>/dev/null && pids="$pids $p"
  done
  # Instances stop gracefully (requests in flight, the batch in hand): wait for them, bounded.
  for _ in $(seq 1 300); do
    local alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.05
  done
  echo "stopped (data kept in $DIR)"
}
if [ "${1:-}" = stop ]; then stop; exit 0; fi

N=${1:-3}
: "${DATABASE_URL:?set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB (a database the role owns)}"
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release first (or set CLUSTER_BIN)" >&2; exit 1; }
mkdir -p "$DIR/nginx"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec \
  --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

# One secret for every instance (tokens issued by one verify on all), kept across restarts.
[ -s "$DIR/secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/secret"
export SECKILL_DATABASE_URL="$DATABASE_URL" SECKILL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
SECKILL_SECRET=$(cat "$DIR/secret"); export SECKILL_SECRET
export SECKILL_PUBLIC_URL="http://127.0.0.1:$NGINX_PORT"

"$BIN" migrate >/dev/null
if [ ! -s "$DIR/admin-password" ]; then
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/admin-password"
  SECKILL_ADMIN_PASSWORD=$(cat "$DIR/admin-password") "$BIN" admin create --username admin --reset >/dev/null
fi

servers=""
for i in $(seq 1 "$N"); do
  port=$((NGINX_PORT + i))
  SECKILL_LISTEN="127.0.0.1:$port" SECKILL_DATA_DIR="$DIR/i$i" "$BIN" serve >"$DIR/i$i.log" 2>&1 &
  echo $! > "$DIR/i$i.pid"
  servers="$servers 127.0.0.1:$port"
done
for i in $(seq 1 "$N"); do
  port=$((NGINX_PORT + i))
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$(cat "$DIR/i$i.pid")" 2>/dev/null || { echo "instance $i died:" >&2; tail -n 20 "$DIR/i$i.log" >&2; exit 1; }
    sleep 0.05
  done
done

# deploy/nginx.conf with every instance in both upstreams, its pages from instance 1's data dir
# (every instance renders the same pages; a miss falls back to the instances).
awk -v servers="$servers" -v port="$NGINX_PORT" -v pages="$DIR/i1/pages" -v tmp="$DIR/nginx/tmp" '
  /server 127\.0\.0\.1:8080 max_fails=0;/ { n = split(servers, s, " "); for (i = 1; i <= n; i++) print "        server " s[i] " max_fails=0;"; next }
  /server 127\.0\.0\.1:8080;/ { n = split(servers, s, " "); for (i = 1; i <= n; i++) print "        server " s[i] ";"; next }
  /# server 127\.0\.0\.1:8081/ { next }
  { gsub(/listen 80 reuseport backlog=4096;/, "listen 127.0.0.1:" port ";");
    gsub(/root \/var\/lib\/seckill\/pages;/, "root " pages ";");
    gsub(/error_log stderr warn;/, "error_log " tmp "-error.log warn;");
    gsub(/\/tmp\/seckill-nginx/, tmp); print }' deploy/nginx.conf > "$DIR/nginx.conf"
sed -i "s|^pid .*|pid $DIR/nginx.pid;|" "$DIR/nginx.conf"
nginx -c "$DIR/nginx.conf" -p "$DIR/nginx/" -e "$DIR/nginx/tmp-error.log"

cat <<EOF
seckill cluster: $N instances over PostgreSQL and redis://127.0.0.1:$REDIS_PORT, nginx in front
  shop     http://127.0.0.1:$NGINX_PORT/
  console  http://127.0.0.1:$NGINX_PORT/admin   (admin / $(cat "$DIR/admin-password"))
  logs     $DIR/i*.log   check drift: SECKILL_DATABASE_URL=… SECKILL_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/ $BIN reconcile
  stop     deploy/cluster/start-local.sh stop
EOF
