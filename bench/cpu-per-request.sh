#!/usr/bin/env bash
# A/B helper: the gateway's CPU time per request and its latency, for one or more checkouts of
# this repository, one after the other on the same machine, with the same request mix as
# bench/run-load.sh's (c) (SQLite + in-process cache, 20 ms simulated upstream, 20% streamed,
# 10% of the accounts blocked).
#
#   bench/cpu-per-request.sh                          # this checkout
#   bench/cpu-per-request.sh /tmp/base .              # a worktree of another commit, then this one
#
# CREDIT_MODE=strict|check sets the gateways' credit.mode (default: each checkout's own default).
# BACKEND=postgres-redis measures (d) instead: the ledger in a fresh PostgreSQL database per
# checkout (on PG_HOST:5432 as postgres) and the cache in Redis (database REDIS_DB of
# REDIS_HOST:6379, flushed before each checkout).
#
# Each checkout's gateway is started with its own ./creditgate launcher (which builds it when its
# sources changed), given ACCOUNTS accounts through the admin API, warmed up (WARMUP at
# WARMUP_RATE), then measured CELLS times (DURATION at RATE). A cell prints the load tool's result
# line and "cpu_ms_per_request": the gateway process's utime + stime over the cell (from
# /proc/<pid>/stat) divided by the requests completed. The load tool and the simulator run on the
# same cores; compare checkouts measured in the same run only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RATE=${RATE:-1000}
DURATION=${DURATION:-30s}
CELLS=${CELLS:-2}
WARMUP=${WARMUP:-60s}
WARMUP_RATE=${WARMUP_RATE:-500}
ACCOUNTS=${ACCOUNTS:-1000}
BACKEND=${BACKEND:-sqlite}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_DB=${REDIS_DB:-9}
PG_HOST=${PG_HOST:-127.0.0.1}
SIM_PORT=${SIM_PORT:-18181}
GATEWAY_PORT=${GATEWAY_PORT:-18183}
TOKEN=cpu-per-request-admin-token
WORK=$(mktemp -d /tmp/creditgate-cpu.XXXXXX)
source "$ROOT/bench/java.sh"
JAVA=$(find_java)
JAR="$ROOT/creditgate-bench/target/benchmarks.jar"
[ -f "$JAR" ] || (cd "$ROOT" && ./mvnw -q -pl creditgate-bench -am package -DskipTests)
HZ=$(getconf CLK_TCK)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() { # url, seconds
  local i
  for i in $(seq 1 $(($2 * 10))); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no answer from $1 within $2 s" >&2
  return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

load() { # label, rate, duration, keys
  "$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label "$1" \
    --url "http://127.0.0.1:$GATEWAY_PORT/v1" --rate "$2" --duration "$3" --warmup 0s \
    --stream-fraction 0.2 --connections 128 --keys "$4" | grep '^RESULT'
}

"$JAVA" -Xms256m -Xmx1g -Dsun.net.httpserver.maxIdleConnections=10000 -cp "$JAR" \
  dev.creditgate.sim.SimulatedUpstream --port "$SIM_PORT" --latency-ms 20 > "$WORK/sim.log" 2>&1 &
PIDS+=($!)

for checkout in "${@:-$ROOT}"; do
  dir=$(cd "$checkout" && pwd)
  label=$(cd "$dir" && git rev-parse --short HEAD 2>/dev/null || basename "$dir")${CREDIT_MODE:+-$CREDIT_MODE}
  run="$WORK/$label"
  mkdir -p "$run"
  cat > "$run/creditgate.yaml" <<EOF
server:
  host: 127.0.0.1
  port: $GATEWAY_PORT
admin:
  token: $TOKEN
models:
  pro:
    base-url: http://127.0.0.1:$SIM_PORT/v1
    provider: simulator
    model: sim-pro
EOF
  if [ -n "${CREDIT_MODE:-}" ]; then
    printf 'credit:\n  mode: %s\n' "$CREDIT_MODE" >> "$run/creditgate.yaml"
  fi
  if [ "$BACKEND" = postgres-redis ]; then
    db="cg_cpu_$(echo "$label" | tr -c 'a-z0-9_' '_')"
    psql -q -h "$PG_HOST" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    redis-cli -h "$REDIS_HOST" -n "$REDIS_DB" flushdb >/dev/null
    cat >> "$run/creditgate.yaml" <<EOF
ledger:
  url: "jdbc:postgresql://$PG_HOST:5432/$db?user=postgres"
  spool-dir: $run/spool
cache:
  redis-uri: redis://$REDIS_HOST:6379/$REDIS_DB
EOF
  else
    cat >> "$run/creditgate.yaml" <<EOF
ledger:
  url: "jdbc:sqlite:$run/ledger.db"
  spool-dir: $run/spool
EOF
  fi
  (cd "$dir" && exec ./creditgate serve --config "$run/creditgate.yaml") > "$run/gateway.log" 2>&1 &
  launcher=$!
  PIDS+=("$launcher")
  wait_http "http://127.0.0.1:$GATEWAY_PORT/health/ready" 300
  pid=$(pgrep -f "CreditgateCli serve --config $run/creditgate.yaml" | head -1)
  base="http://127.0.0.1:$GATEWAY_PORT/admin/v1"
  auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
  curl -fsS "${auth[@]}" -X POST "$base/price-rules" \
    -d '{"input_price":1,"output_price":2,"credits_per_unit":1000}' >/dev/null
  : > "$run/keys.txt"
  for i in $(seq 1 "$ACCOUNTS"); do
    curl -fsS "${auth[@]}" -X POST "$base/accounts" -d "{\"id\":\"cpu-$i\"}" >/dev/null
    key=$(curl -fsS "${auth[@]}" -X POST "$base/keys" -d "{\"account_id\":\"cpu-$i\"}" \
      | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
    if [ $((i % 10)) -eq 0 ]; then
      curl -fsS "${auth[@]}" -X POST "$base/accounts/cpu-$i/block" >/dev/null
      echo "$key,blocked" >> "$run/keys.txt"
    else
      curl -fsS "${auth[@]}" -H "Idempotency-Key: cpu-grant-$i" -X POST "$base/accounts/cpu-$i/grants" \
        -d '{"amount":1000000000000}' >/dev/null
      echo "$key" >> "$run/keys.txt"
    fi
  done
  echo "rss_kib label=$label when=provisioned rss=$(ps -o rss= -p "$pid" | tr -d ' ')"
  echo "# $label ($dir, $BACKEND): warming up, $WARMUP at $WARMUP_RATE req/s"
  load "$label-warmup" "$WARMUP_RATE" "$WARMUP" "$run/keys.txt" > "$run/warmup.txt"
  for cell in $(seq 1 "$CELLS"); do
    before=$(cpu_ticks "$pid")
    result=$(load "$label-$cell" "$RATE" "$DURATION" "$run/keys.txt")
    after=$(cpu_ticks "$pid")
    completed=$(echo "$result" | sed -n 's/.* completed=\([0-9]*\).*/\1/p')
    echo "$result cpu_ms_per_request=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$completed" \
      'BEGIN { printf "%.3f", t * 1000 / hz / n }')"
  done
  echo "rss_kib label=$label when=after_cells rss=$(ps -o rss= -p "$pid" | tr -d ' ')"
  if [ "${IDLE_AFTER:-0}" != 0 ]; then
    sleep "$IDLE_AFTER"
    echo "rss_kib label=$label when=idle_${IDLE_AFTER} rss=$(ps -o rss= -p "$pid" | tr -d ' ')"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
done
