# Shared helpers of the fault drills (sourced, not run). Each drill owns a work directory, a set of
# loopback ports (DRILL_PORT_BASE + n, away from the load benchmark's 1808x/1809x) and the
# processes it starts; cleanup stops those processes by pid and drops the drill's database.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
JAR=$ROOT/creditgate-bench/target/benchmarks.jar
ADMIN_TOKEN=${ADMIN_TOKEN:-drill-admin-token-0123456789}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
export PGOPTIONS=${PGOPTIONS:---client-min-messages=warning}
UPSTREAM_LATENCY_MS=${UPSTREAM_LATENCY_MS:-20}
PIDS=()
DRILL_DB=""
WORK=$(mktemp -d "/tmp/creditgate-drill.XXXXXX")

source "$ROOT/bench/java.sh"
JAVA=$(find_java)

log() { printf '%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" >&2; }

drill_cleanup() {
  local pid
  # Processes started in subshells record their pid in $WORK/*.pid.
  for pid in "${PIDS[@]}" $(cat "$WORK"/*.pid 2>/dev/null); do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$DRILL_DB" ]; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt \
      -c "DROP DATABASE IF EXISTS $DRILL_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap drill_cleanup EXIT
trap 'exit 143' TERM INT

# Every drill is bounded in time: the whole script is killed after DRILL_TIMEOUT seconds.
# Its stdout goes nowhere, so that a caller reading the drill's output through a pipe is not kept
# waiting by it, and its sleep dies with it.
arm_watchdog() { # seconds
  local self=$$
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$1" & sp=$!
    wait "$sp"
    echo "FAIL drill=$DRILL watchdog: still running after $1 s" >&2
    kill -TERM "$self"
  ) > /dev/null &
  PIDS+=("$!")
}

require_jar() {
  if [ ! -f "$JAR" ] || [ ! -f "$ROOT/creditgate-gateway/target/classpath.txt" ]; then
    log "building (./mvnw -q -pl creditgate-gateway,creditgate-bench -am package -DskipTests)"
    (cd "$ROOT" && ./mvnw -q -pl creditgate-gateway,creditgate-bench -am package -DskipTests)
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # url, seconds
  local i
  for i in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing answered at $1 within $2 s"
  return 1
}

# SIM_TOKENS_PER_SECOND: the simulator's generation speed (streams and whole answers; default
# unset: no delay per token). SIM_REQUEST_LOG: a file the simulator lists, one line each, the
# `user` field of every chat completion it takes on (default unset: no list).
start_sim() { # port -> SIM_PID
  "$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.sim.SimulatedUpstream --port "$1" \
    --latency-ms "$UPSTREAM_LATENCY_MS" ${SIM_TOKENS_PER_SECOND:+--tokens-per-second "$SIM_TOKENS_PER_SECOND"} \
    ${SIM_REQUEST_LOG:+--request-log "$SIM_REQUEST_LOG"} \
    > "$WORK/sim.log" 2>&1 &
  SIM_PID=$!
  PIDS+=("$SIM_PID")
  wait_http "http://127.0.0.1:$1/health" 30
}

sim_stat() { # port, field
  curl -fsS --max-time 5 "http://127.0.0.1:$1/sim/stats" | jq -r ".$2"
}

create_db() { # name: a database of the drill's own on the shared PostgreSQL server
  DRILL_DB=$1
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt \
    -c "DROP DATABASE IF EXISTS $DRILL_DB WITH (FORCE)" -c "CREATE DATABASE $DRILL_DB" >/dev/null
}

sql() { # query, on the drill's database (direct to the server, never through a drill's proxy)
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$DRILL_DB" -qAt -F ' ' -c "$1"
}

write_config() { # file, gateway port, sim port, ledger url, redis uri or "", spool dir
  {
    echo "server:"
    echo "  host: 127.0.0.1"
    echo "  port: $2"
    echo "admin:"
    echo "  token: $ADMIN_TOKEN"
    echo "models:"
    echo "  pro:"
    echo "    base-url: http://127.0.0.1:$3/v1"
    echo "    provider: simulator"
    echo "    model: sim-pro"
    echo "ledger:"
    echo "  url: \"$4\""
    echo "  spool-dir: $6"
    if [ -n "$5" ]; then
      echo "cache:"
      echo "  redis-uri: \"$5\""
      echo "  redis-prefix: drill-$DRILL-$$"
    fi
    # CONCURRENT_LIMIT: the per-key and per-account limits on calls in flight, when set (a drill
    # that fires more calls at once than the defaults allow measures credit, not those limits).
    if [ -n "${CONCURRENT_LIMIT:-}" ]; then
      echo "limits:"
      echo "  max-concurrent-per-key: $CONCURRENT_LIMIT"
      echo "  max-concurrent-per-account: $CONCURRENT_LIMIT"
    fi
    # CREDIT_MODE (strict|check) and LEASE_TERM (e.g. 6s) under one credit: key, each when set.
    if [ -n "${CREDIT_MODE:-}" ] || [ -n "${LEASE_TERM:-}" ]; then
      echo "credit:"
      [ -z "${CREDIT_MODE:-}" ] || echo "  mode: $CREDIT_MODE"
      [ -z "${LEASE_TERM:-}" ] || echo "  lease-term: $LEASE_TERM"
    fi
  } > "$1"
}

start_gateway() { # config, port, log -> GW_PID
  "$ROOT/creditgate" serve --config "$1" >> "$3" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  wait_http "http://127.0.0.1:$2/health/live" 90
}

admin() { # port, method, path, [body], [extra curl args...]
  local port=$1 method=$2 path=$3 body=${4:-}
  shift 3; [ $# -gt 0 ] && shift
  curl -fsS --max-time 10 -X "$method" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H "Content-Type: application/json" ${body:+-d "$body"} "$@" "http://127.0.0.1:$port/admin/v1$path"
}

# N accounts "<prefix>-i" with CREDITS each and a user key each; keys file one key per line.
provision() { # port, prefix, n, credits, keys-file
  local i key
  # A rule for the simulator's model, so charges are priced (1 credit per 1,000 output tokens, ceil).
  admin "$1" POST /price-rules '{"provider":"simulator","input_price":1,"output_price":2,"credits_per_unit":1000}' \
    >/dev/null
  : > "$5"
  for i in $(seq 1 "$3"); do
    admin "$1" POST /accounts "{\"id\":\"$2-$i\"}" >/dev/null
    key=$(admin "$1" POST /keys "{\"kind\":\"user\",\"account_id\":\"$2-$i\"}" | jq -r .key)
    admin "$1" POST "/accounts/$2-$i/grants" "{\"amount\":$4,\"reason\":\"drill\"}" \
      -H "Idempotency-Key: drill-grant-$$-$i" >/dev/null
    echo "$key" >> "$5"
  done
}

metric() { # port, metric name, [label filter regex]: sum of the matching series
  curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" \
    | awk -v name="$2" -v filter="${3:-}" '
        $0 !~ /^#/ && (index($0, name "{") == 1 || index($0, name " ") == 1) && (filter == "" || $0 ~ filter) {
          sum += $NF } END { printf "%d\n", sum }'
}

# One LoadGenerator phase; prints its output (with the RESULT line) and keeps it in $WORK/<label>.txt.
load_phase() { # label, gateway port, rate, duration, warmup, keys file, [extra args...]
  local label=$1 port=$2 rate=$3 duration=$4 warmup=$5 keys=$6
  shift 6
  "$JAVA" -Xms128m -Xmx384m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label "$label" \
    --url "http://127.0.0.1:$port/v1" --rate "$rate" --duration "$duration" --warmup "$warmup" \
    --stream-fraction "${STREAM_FRACTION:-0.2}" --connections "${CONNECTIONS:-64}" --keys "$keys" \
    --timeout 10s "$@" > "$WORK/$label.txt" 2>&1 || true
  cat "$WORK/$label.txt" >&2
}

result_field() { # label, field: from the phase's RESULT line
  grep -m1 '^RESULT' "$WORK/$1.txt" | tr ' ' '\n' | awk -F= -v f="$2" '$1 == f {print $2}'
}

# Charges in the ledger vs the simulator's own count of served usage (the sim is fresh per drill
# and only the gateway calls it, so every response it served with usage is a completed call).
compare_usage() { # sim port -> sets SIM_N SIM_P SIM_C LED_N LED_P LED_C LED_DISTINCT LED_DUP
  SIM_N=$(sim_stat "$1" usage_reports)
  SIM_P=$(sim_stat "$1" prompt_tokens)
  SIM_C=$(sim_stat "$1" completion_tokens)
  read -r LED_N LED_P LED_C LED_DISTINCT < <(sql "SELECT count(*), coalesce(sum(input_tokens),0),
      coalesce(sum(output_tokens),0), count(DISTINCT coalesce(metadata::jsonb->>'idempotency_key', event_id))
      FROM entries WHERE kind = 'CHARGE'")
  LED_DUP=$(sql "SELECT count(*) FROM entries WHERE kind = 'CHARGE' AND event_id LIKE 'dup:%'")
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
