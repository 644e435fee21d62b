#!/usr/bin/env bash
# Load benchmark of issue 7: the same open-loop request mix against
#   (a) the simulated upstream directly,
#   (b) nginx (Debian package) as a plain reverse proxy in front of it,
#   (c) the gateway with SQLite + in-process cache,
#   (d) the gateway with PostgreSQL + Redis,
# at each rate in RATES, then a search for each target's highest sustainable rate, and the
# resident memory of each target at idle, under RATES' last rate, and with 1,000 open streams.
# Targets (c) and (d) run only when the gateway launcher below exists. (c) and (d) run with the
# gateway's default credit mode (strict); gateway-sqlite-check and gateway-pg-redis-check are the
# same with `credit.mode: check`, and the hot-account cells hot-pg-redis / hot-pg-redis-check put
# all traffic on one account through two gateway processes on one PostgreSQL database and Redis.
#
#   bench/run-load.sh                      # everything, a few minutes
#   RATES="500" SEARCH=0 bench/run-load.sh # one rate, no search
#   TARGETS="direct gateway-sqlite gateway-sqlite-check gateway-pg-redis gateway-pg-redis-check" \
#     SEARCH=0 STREAMS=0 RATES="500 1000" bench/run-load.sh   # strict vs check, same run
#   TARGETS="direct hot-pg-redis hot-pg-redis-check" SEARCH=0 STREAMS=0 bench/run-load.sh
#
# Writes the raw tool output and a Markdown summary to $OUT_DIR and prints the summary.
set -euo pipefail

# NICE=-10 runs the script and everything it starts at a higher priority, so that other work on a
# shared machine (parallel builds) disturbs the measurement less. Needs root; recorded in the output.
NICE=${NICE:-0}
if [ "$NICE" != 0 ] && [ -z "${CREDITGATE_LOAD_NICED:-}" ]; then
  exec nice -n "$NICE" env CREDITGATE_LOAD_NICED=1 "$0" "$@"
fi

# ---- gateway launch: HOOK for targets (c) and (d) --------------------------------------------
# The command that starts the gateway; the config file path is appended as the last argument.
GATEWAY_LAUNCH=${GATEWAY_LAUNCH:-"./creditgate serve --config"}
# The launcher's AOT cache (a server's first run records it, later runs use it) is off here by
# default: every gateway is warmed up before it is measured, and a cell that records would differ
# from one that reuses. bench/cold-start.sh measures it.
export CREDITGATE_AOT=${CREDITGATE_AOT:-off}
# Admin token the generated configs set and the provisioning step uses.
GATEWAY_ADMIN_TOKEN=${GATEWAY_ADMIN_TOKEN:-bench-admin-token-0123456789}
CREDITGATE_POSTGRES_URL=${CREDITGATE_POSTGRES_URL:-jdbc:postgresql://127.0.0.1:5432/test?user=postgres}
CREDITGATE_REDIS_URI=${CREDITGATE_REDIS_URI:-redis://127.0.0.1:6379}

# ---- knobs --------------------------------------------------------------------------------------
RATES=${RATES:-"500 1000"}
DURATION=${DURATION:-12s}
WARMUP=${WARMUP:-4s}
STREAM_FRACTION=${STREAM_FRACTION:-0.2}
CONNECTIONS=${CONNECTIONS:-128}
UPSTREAM_LATENCY_MS=${UPSTREAM_LATENCY_MS:-20}
ACCOUNTS=${ACCOUNTS:-1000}
BLOCKED_SHARE_PERCENT=${BLOCKED_SHARE_PERCENT:-10}
SEARCH=${SEARCH:-1}
SEARCH_START=${SEARCH_START:-1000}
SEARCH_FACTOR=${SEARCH_FACTOR:-1.4}
SEARCH_MAX=${SEARCH_MAX:-20000}
SEARCH_STEP=${SEARCH_STEP:-6s}
SEARCH_WARMUP=${SEARCH_WARMUP:-2s}
# A rate is sustained when it has no errors, achieves 95% of the offered rate, and its
# SEARCH_PERCENTILE latency stays under SEARCH_LIMIT_MS (default: p99 under 50 ms, 30 ms over the
# upstream's 20 ms).
SEARCH_PERCENTILE=${SEARCH_PERCENTILE:-99}
SEARCH_LIMIT_MS=${SEARCH_LIMIT_MS:-${P99_LIMIT_MS:-50}}
STREAMS=${STREAMS:-1}                 # the open-streams memory cell
# Open-streams cell: STREAMS_RATE req/s of which 20% stream, each stream held open
# STREAM_SECONDS by the paced simulator (1 token/s, max_tokens = STREAM_SECONDS), so about
# STREAMS_RATE * 0.2 * STREAM_SECONDS = 1,000 streams are open at once.
STREAMS_RATE=${STREAMS_RATE:-1000}
STREAM_SECONDS=${STREAM_SECONDS:-5}
SIM_PORT=${SIM_PORT:-18081}
SLOW_SIM_PORT=${SLOW_SIM_PORT:-18091}
NGINX_PORT=${NGINX_PORT:-18082}
NGINX_SLOW_PORT=${NGINX_SLOW_PORT:-18092}
GATEWAY_C_PORT=${GATEWAY_C_PORT:-18083}
GATEWAY_D_PORT=${GATEWAY_D_PORT:-18084}
# The hot-account cells' second gateway (the first listens on GATEWAY_D_PORT).
GATEWAY_E_PORT=${GATEWAY_E_PORT:-18085}
SKIP_BUILD=${SKIP_BUILD:-0}
# Which targets to measure (any of: direct nginx gateway-sqlite gateway-sqlite-check
# gateway-sqlite-nowait gateway-pg-redis gateway-pg-redis-check hot-pg-redis hot-pg-redis-check).
# Ratios to nginx need nginx in the same run; added latency needs direct in the same run.
TARGETS=${TARGETS:-"direct nginx gateway-sqlite gateway-pg-redis"}
# Order of each strict/check pair (gateway-sqlite / gateway-sqlite-check, gateway-pg-redis /
# gateway-pg-redis-check, hot-pg-redis / hot-pg-redis-check): strict-first or check-first. The
# machine drifts during a run, so repeats should alternate it (bench/strict-vs-check.sh does).
ORDER=${ORDER:-strict-first}
# Each PostgreSQL target gets a database of its own on CREDITGATE_POSTGRES_URL's server, created
# empty before it and dropped at the end (0: every target uses the URL's database as it is).
PG_FRESH_DB=${PG_FRESH_DB:-1}
case $ORDER in strict-first | check-first) ;; *)
  echo "ORDER must be strict-first or check-first, but was '$ORDER'" >&2
  exit 2 ;;
esac
# Hot-account cells: total rates (each of the two gateways gets its own load tool at half of it),
# the account's grant, and how often the live leases are sampled during a cell (psql \watch).
HOT_RATES=${HOT_RATES:-$RATES}
HOT_GRANT=${HOT_GRANT:-1000000000000}
LEASE_SAMPLE_INTERVAL=${LEASE_SAMPLE_INTERVAL:-0.1}
# The gateway's own JIT warm-up before its first cell (not reported). A gateway measured after
# 30 s at 500 req/s was still compiling in its 1,000 req/s cell (CPU per call 10-20% above the
# cells after it, p99 often twice as high): a long-running server is measured warm, as the
# simulators are.
GATEWAY_WARMUP=${GATEWAY_WARMUP:-90s}
GATEWAY_WARMUP_RATE=${GATEWAY_WARMUP_RATE:-700}
SIM_WARMUP=${SIM_WARMUP:-30s}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT_DIR=${OUT_DIR:-$ROOT/bench/results/load-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
RAW=$OUT_DIR/raw.txt
SUMMARY=$OUT_DIR/summary.md
WORK=$(mktemp -d /tmp/creditgate-load.XXXXXX)
PIDS=()
PG_DBS=()
PG_TARGETS_RAN=0

# The PostgreSQL server of CREDITGATE_POSTGRES_URL, for psql (a password, if any, from PGPASSWORD).
PG_HOSTPORT=$(sed -E 's#^jdbc:postgresql://([^/?]+).*#\1#' <<< "$CREDITGATE_POSTGRES_URL")
PG_HOST=${PG_HOSTPORT%%:*}
PG_PORT=5432
[[ $PG_HOSTPORT == *:* ]] && PG_PORT=${PG_HOSTPORT##*:}
PG_USER=$(sed -nE 's#.*[?&]user=([^&]+).*#\1#p' <<< "$CREDITGATE_POSTGRES_URL")
PG_USER=${PG_USER:-postgres}
export PGOPTIONS=${PGOPTIONS:---client-min-messages=warning}
pg_psql() { # database, psql args...
  local db=$1
  shift
  psql -X -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" -qAt -F ' ' "$@"
}
# The database the current PostgreSQL target's gateways use (empty: none), read by the metrics
# lines for its transaction count.
PG_DB=

# Sets PG_URL and PG_DB for a PostgreSQL target: a new empty database of its own (PG_FRESH_DB=1),
# dropped at the end, so that each target starts from the same state; or the URL's database.
pg_target_url() { # label
  PG_TARGETS_RAN=1
  if [ "$PG_FRESH_DB" = 1 ]; then
    PG_DB="creditgate_load_${1//-/_}_$$"
    PG_DBS+=("$PG_DB")
    pg_psql postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
    PG_URL=$(sed -E "s#^(jdbc:postgresql://[^/]+/)[^?]*#\1$PG_DB#" <<< "$CREDITGATE_POSTGRES_URL")
  else
    PG_DB=$(sed -E 's#^jdbc:postgresql://[^/]+/([^?]*).*#\1#' <<< "$CREDITGATE_POSTGRES_URL")
    PG_URL=$CREDITGATE_POSTGRES_URL
  fi
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$RAW" >&2; }

cleanup() {
  local pid db
  # The load tool of an interrupted pipeline is a direct child too.
  pkill -P $$ 2>/dev/null || true
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for db in "${PG_DBS[@]}"; do
    pg_psql postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  # The Redis keys of this run's gateways (<prefix>:{account}:snapshot and :blocked).
  if [ "$PG_TARGETS_RAN" = 1 ] && command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$CREDITGATE_REDIS_URI" --scan --pattern "bench-load-$$-*" 2>/dev/null \
      | xargs -r -n 500 redis-cli -u "$CREDITGATE_REDIS_URI" del >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  restore_servers_nice
}

# With NICE set, the Redis and PostgreSQL servers the (d) cells use run at the same priority as the
# gateways for the run (new PostgreSQL backends inherit it from the postmaster), then get their own
# back: the system under test is the gateway with its stores, and a store left at a lower priority
# than the gateways would be starved by them on a busy machine.
SERVERS_NICE=()
renice_servers() {
  local pid
  [ "$NICE" != 0 ] || return 0
  for pid in $(pgrep -x redis-server) $(pgrep -x postgres); do
    SERVERS_NICE+=("$pid:$(ps -o ni= -p "$pid" | tr -d ' ')")
    renice -n "$NICE" -p "$pid" >/dev/null 2>&1 || true
  done
}
restore_servers_nice() {
  local entry
  for entry in "${SERVERS_NICE[@]}"; do
    renice -n "${entry#*:}" -p "${entry%%:*}" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

source "$ROOT/bench/java.sh"
JAVA=$(find_java)
JAR=$ROOT/creditgate-bench/target/benchmarks.jar
if [ "$SKIP_BUILD" != 1 ] || [ ! -f "$JAR" ]; then
  log "building creditgate-bench (./mvnw -q -pl creditgate-bench -am package -DskipTests)"
  ./mvnw -q -pl creditgate-bench -am package -DskipTests
fi

wait_http() { # url, seconds
  local i
  for i in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing answered at $1 within $2 s" >&2
  return 1
}

rss_kb() { # pid: resident KiB of the process and its children (nginx workers)
  local total=0 rss child
  rss=$(ps -o rss= -p "$1" 2>/dev/null | tr -d ' ') || true
  total=$((total + ${rss:-0}))
  for child in $(pgrep -P "$1" 2>/dev/null || true); do
    rss=$(ps -o rss= -p "$child" 2>/dev/null | tr -d ' ') || true
    total=$((total + ${rss:-0}))
  done
  echo "$total"
}

# Samples a process tree's RSS every 200 ms into a file until killed; the file ends with the peak.
start_rss_sampler() { # pid, file
  (peak=0; while kill -0 "$1" 2>/dev/null; do
     now=$(rss_kb "$1"); [ "$now" -gt "$peak" ] && peak=$now && echo "$peak" > "$2"
     sleep 0.2
   done) &
  SAMPLER=$!
}
stop_rss_sampler() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; }

load() { # label, url, rate, [extra LoadGenerator args...]
  local label=$1 url=$2 rate=$3
  shift 3
  "$JAVA" -Xms256m -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator \
    --label "$label" --url "$url" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" \
    --stream-fraction "$STREAM_FRACTION" --connections "$CONNECTIONS" \
    --timeline "$OUT_DIR/timeline-$label-$rate.tsv" "$@" | tee -a "$RAW"
}

search() { # label, url, [extra args...]
  local label=$1 url=$2
  shift 2
  "$JAVA" -Xms256m -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --search \
    --label "$label" --url "$url" --duration "$SEARCH_STEP" --warmup "$SEARCH_WARMUP" \
    --stream-fraction "$STREAM_FRACTION" --connections "$CONNECTIONS" \
    --search-start "$SEARCH_START" --search-factor "$SEARCH_FACTOR" --search-max "$SEARCH_MAX" \
    --search-percentile "$SEARCH_PERCENTILE" --limit-ms "$SEARCH_LIMIT_MS" "$@" | tee -a "$RAW"
}

# Many streams open at once, under STREAMS_RATE req/s; the streams go to the paced simulator
# (through the target), the other requests to the 20 ms one.
streams_cell() { # label, url, pid-to-measure, [extra args, including the stream route...]
  local label=$1 url=$2 pid=$3
  shift 3
  local peak=$WORK/peak-$label
  echo 0 > "$peak"
  start_rss_sampler "$pid" "$peak"
  "$JAVA" -Xms256m -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator \
    --label "$label-streams" --url "$url" --rate "$STREAMS_RATE" --duration 10s \
    --warmup $((STREAM_SECONDS + 2))s --stream-fraction 0.2 --max-tokens "$STREAM_SECONDS" \
    --connections $((STREAMS_RATE * STREAM_SECONDS / 5 + 400)) --timeout 30s "$@" \
    | tee -a "$RAW"
  stop_rss_sampler
  echo "MEMORY label=$label cell=open_streams rss_kib=$(cat "$peak")" | tee -a "$RAW"
}

# Gateway targets: the guard's decisions so far, from its /metrics (empty METRICS_URL: none).
# Printed after each cell as cumulative counts, so a fail-open under overload (a blocked account
# admitted because the cache did not answer within its budget) is counted, not just seen as a 200.
METRICS_URL=
guard_counts() { # label, cell
  [ -n "$METRICS_URL" ] || return 0
  curl -fsS --max-time 10 "$METRICS_URL" 2>/dev/null | awk -v label="$1" -v cell="$2" '
    /^creditgate_guard_decisions_total/ {
      match($0, /reason="[^"]*"/); reason = substr($0, RSTART + 8, RLENGTH - 9)
      count[reason] += $NF
    }
    /^creditgate_ledger_wait_seconds_(sum|count)/ {
      match($0, /what="[^"]*"/); what = substr($0, RSTART + 6, RLENGTH - 7)
      kind = ($0 ~ /_sum/) ? "s" : "n"
      wait[what "_" kind] += $NF
    }
    /^creditgate_ledger_charges_queued / { queued = $NF }
    /^creditgate_guard_decision_latency_seconds_(sum|count|max) / {
      kind = ($0 ~ /_sum /) ? "s" : (($0 ~ /_count /) ? "n" : "max_s"); decide[kind] = $NF
    }
    /^creditgate_holds_total/ {
      match($0, /event="[^"]*"/); holds[substr($0, RSTART + 7, RLENGTH - 8)] += $NF
    }
    /^creditgate_holds_shortfalls_total/ { shortfalls += $NF }
    /^creditgate_leases_total/ {
      match($0, /event="[^"]*"/); leases[substr($0, RSTART + 7, RLENGTH - 8)] += $NF
    }
    /^creditgate_ledger_group_commits_total / { commits = $NF }
    /^creditgate_ledger_group_commit_charges_total / { committed = $NF }
    /^creditgate_ledger_group_commit_seconds_total / { commit_s = $NF }
    /^creditgate_ledger_spool_size / { spooled = $NF }
    END {
      line = "GUARD label=" label " cell=" cell
      for (r in count) line = line " " r "=" int(count[r])
      print line
      # Write-behind waits so far (cumulative): seconds summed and requests, per what was waited for.
      line = "LEDGER label=" label " cell=" cell " charges_queued=" int(queued)
      for (w in wait) line = line " wait_" w "=" wait[w]
      # The guard decision (the cache or ledger read before the hold; the hold and its lease are
      # not timed apart), the holds by event, and the group commits, cumulative.
      line = line " decide_s=" decide["s"] " decide_n=" int(decide["n"]) " decide_max_s=" decide["max_s"]
      for (e in holds) line = line " holds_" e "=" int(holds[e])
      for (e in leases) line = line " leases_" e "=" int(leases[e])
      line = line " shortfalls=" int(shortfalls) " group_commits=" int(commits) " group_commit_charges=" int(committed)
      line = line " group_commit_s=" commit_s " spooled=" int(spooled)
      print line
    }' | tee -a "$RAW"
  # PostgreSQL targets: transactions committed in their database so far (lease grants and renewals,
  # charge batches, the cache-miss reads), cumulative.
  if [ -n "$PG_DB" ]; then
    echo "DB label=$1 cell=$2 db=$PG_DB xact_commit=$(pg_psql postgres -c \
      "SELECT xact_commit FROM pg_stat_database WHERE datname = '$PG_DB'" 2>/dev/null || echo '?')" \
      | tee -a "$RAW"
  fi
}

# Runs every cell for one target; the pid is the process whose memory is reported. STREAM_ROUTE
# (an array) tells the open-streams cell how to reach the paced simulator through this target.
measure_target() { # label, base-url, pid, [extra args...]
  local label=$1 url=$2 pid=$3 rate peak
  shift 3
  echo "MEMORY label=$label cell=idle rss_kib=$(rss_kb "$pid")" | tee -a "$RAW"
  for rate in $RATES; do
    peak=$WORK/peak-$label-$rate
    echo 0 > "$peak"
    start_rss_sampler "$pid" "$peak"
    load "$label" "$url" "$rate" "$@"
    stop_rss_sampler
    echo "MEMORY label=$label cell=rate_$rate rss_kib=$(cat "$peak")" | tee -a "$RAW"
    guard_counts "$label" "rate_$rate"
  done
  if [ "$SEARCH" = 1 ]; then
    search "$label" "$url" "$@"
    guard_counts "$label" search
  fi
  # Not for direct: there the "target" is the simulator itself, whose memory is not the question,
  # and the JDK server behind it was seen to fall behind with 1,400 client connections.
  if [ "$STREAMS" = 1 ] && [ "$label" != direct ]; then
    streams_cell "$label" "$url" "$pid" "${STREAM_ROUTE[@]}" "$@"
    guard_counts "$label" open_streams
  fi
}

renice_servers
{
  echo "# run-load.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "# java: $("$JAVA" -version 2>&1 | head -1)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); nice $(nice)" \
    "(Redis and PostgreSQL: ${#SERVERS_NICE[@]} processes reniced to it)"
  echo "# code: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$( \
    [ -z "$(git -C "$ROOT" status --porcelain -- creditgate-*/src 2>/dev/null)" ] || echo ' (sources modified)')"
  echo "# TARGETS=$TARGETS ORDER=$ORDER HOT_RATES=$HOT_RATES PG_FRESH_DB=$PG_FRESH_DB"
  echo "# RATES=$RATES DURATION=$DURATION WARMUP=$WARMUP STREAM_FRACTION=$STREAM_FRACTION" \
    "CONNECTIONS=$CONNECTIONS UPSTREAM_LATENCY_MS=$UPSTREAM_LATENCY_MS" \
    "SEARCH: p$SEARCH_PERCENTILE <= $SEARCH_LIMIT_MS ms, start $SEARCH_START x$SEARCH_FACTOR, steps $SEARCH_STEP"
} | tee -a "$RAW"

# ---- the simulated upstreams ------------------------------------------------------------------
# The JDK server closes idle keep-alive connections above 200 by default; the open-streams cell
# holds thousands.
SIM_JVM=(-Xms256m -Xmx1g -Dsun.net.httpserver.maxIdleConnections=10000)
"$JAVA" "${SIM_JVM[@]}" -cp "$JAR" dev.creditgate.sim.SimulatedUpstream \
  --port "$SIM_PORT" --latency-ms "$UPSTREAM_LATENCY_MS" > "$OUT_DIR/sim.log" 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")
# Paced at 1 token/s: a stream with max_tokens N stays open N seconds.
"$JAVA" "${SIM_JVM[@]}" -cp "$JAR" dev.creditgate.sim.SimulatedUpstream \
  --port "$SLOW_SIM_PORT" --latency-ms "$UPSTREAM_LATENCY_MS" --tokens-per-second 1 \
  > "$OUT_DIR/sim-slow.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$SIM_PORT/health" 30
wait_http "http://127.0.0.1:$SLOW_SIM_PORT/health" 30
log "simulator: $(grep -m1 'SIMULATED upstream' "$OUT_DIR/sim.log")"
# JIT-compile the simulators before any target is measured, so the first target (direct) does
# not pay for their warm-up and later ones do not profit from it. Not reported.
log "warming up the simulators (not reported)"
"$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label sim-warmup \
  --url "http://127.0.0.1:$SIM_PORT/v1" --rate 1000 --duration "$SIM_WARMUP" --warmup 0s \
  --stream-fraction "$STREAM_FRACTION" --connections "$CONNECTIONS" > "$OUT_DIR/sim-warmup.txt"
"$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label sim-warmup \
  --url "http://127.0.0.1:$SLOW_SIM_PORT/v1" --rate 300 --duration 4s --warmup 0s \
  --stream-fraction 1 --max-tokens 1 --connections 600 >> "$OUT_DIR/sim-warmup.txt"

# ---- (a) direct -------------------------------------------------------------------------------
wants() { [[ " $TARGETS " == *" $1 "* ]]; }
STREAM_ROUTE=(--stream-url "http://127.0.0.1:$SLOW_SIM_PORT/v1")
wants direct && measure_target direct "http://127.0.0.1:$SIM_PORT/v1" "$SIM_PID"

# ---- (b) nginx --------------------------------------------------------------------------------
if ! command -v nginx >/dev/null 2>&1; then
  log "installing nginx from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
# Workers run as an unprivileged user when the master is root; let them reach their temp files.
chmod 755 "$WORK" "$WORK/nginx"
chmod 777 "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<EOF
# Plain reverse proxy: keep-alive to the upstream, no buffering (so streams pass through as the
# gateway passes them), no access log (the gateway does not log each request either).
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  keepalive_requests 1000000;
  upstream sim { server 127.0.0.1:$SIM_PORT; keepalive 512; }
  upstream sim_slow { server 127.0.0.1:$SLOW_SIM_PORT; keepalive 2048; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
  server {
    listen 127.0.0.1:$NGINX_SLOW_PORT;
    location / {
      proxy_pass http://sim_slow;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 30s;
    }
  }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_http "http://127.0.0.1:$NGINX_PORT/health" 10
log "nginx: $(nginx -v 2>&1), $(grep -c processor /proc/cpuinfo) workers (auto)"
STREAM_ROUTE=(--stream-url "http://127.0.0.1:$NGINX_SLOW_PORT/v1")
wants nginx && measure_target nginx "http://127.0.0.1:$NGINX_PORT/v1" "$NGINX_PID"

# ---- (c) and (d) the gateway: HOOKS -----------------------------------------------------------
# HOOK: the gateway's configuration, in the creditgate.yaml keys of the gateway branch as of this
# script (GatewayConfig: server.*, admin.token, ledger.url, ledger.spool-dir, cache.redis-uri,
# cache.redis-prefix, models.<alias>.{base-url,provider,model}). Two aliases: `pro` (the 20 ms
# simulator) and `slow` (the paced one, for the open-streams cell).
write_gateway_config() { # file, port, backend (sqlite|sqlite-nowait|postgres), label, credit mode (empty: the gateway's default, strict), [ledger url], [redis prefix]
  {
    echo "server:"
    echo "  host: 127.0.0.1"
    echo "  port: $2"
    echo "admin:"
    echo "  token: $GATEWAY_ADMIN_TOKEN"
    echo "models:"
    echo "  pro:"
    echo "    base-url: http://127.0.0.1:$SIM_PORT/v1"
    echo "    provider: simulator"
    echo "    model: sim-pro"
    echo "  slow:"
    echo "    base-url: http://127.0.0.1:$SLOW_SIM_PORT/v1"
    echo "    provider: simulator"
    echo "    model: sim-pro"
    echo "ledger:"
    if [ "$3" = postgres ]; then
      echo "  url: \"$6\""
    else
      echo "  url: \"jdbc:sqlite:$WORK/$4.db\""
    fi
    echo "  spool-dir: $WORK/spool-$4"
    if [ "$3" = sqlite-nowait ]; then
      echo "  intent-sync-wait: 0s"
    fi
    if [ "$3" = postgres ]; then
      echo "cache:"
      echo "  redis-uri: \"$CREDITGATE_REDIS_URI\""
      echo "  redis-prefix: $7"
    fi
    if [ -n "$5" ]; then
      echo "credit:"
      echo "  mode: $5"
    fi
  } > "$1"
}

# HOOK: provisioning through the admin API (issue 6, paths of the gateway branch as of this
# script): one price rule, $ACCOUNTS accounts each with a user key; BLOCKED_SHARE_PERCENT of them
# blocked, the rest granted credits. Writes the keys file the load tool reads ("KEY" or
# "KEY,blocked"). Any failed call stops the script.
provision_keys() { # port, keys-file
  local base="http://127.0.0.1:$1/admin/v1" i account key blocked_every
  local auth=(-H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" -H "Content-Type: application/json")
  blocked_every=$((100 / BLOCKED_SHARE_PERCENT))
  curl -fsS "${auth[@]}" -X POST "$base/price-rules" \
    -d '{"input_price":1,"output_price":2,"credits_per_unit":1000}' >/dev/null
  : > "$2"
  for i in $(seq 1 "$ACCOUNTS"); do
    account="bench-$i"
    curl -fsS "${auth[@]}" -X POST "$base/accounts" -d "{\"id\":\"$account\"}" >/dev/null
    key=$(curl -fsS "${auth[@]}" -X POST "$base/keys" -d "{\"account_id\":\"$account\"}" \
      | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
    [ -n "$key" ] || { echo "no key returned for $account" >&2; return 1; }
    if [ $((i % blocked_every)) -eq 0 ]; then
      curl -fsS "${auth[@]}" -X POST "$base/accounts/$account/block" >/dev/null
      echo "$key,blocked" >> "$2"
    else
      curl -fsS "${auth[@]}" -H "Idempotency-Key: bench-grant-$$-$i" -X POST \
        "$base/accounts/$account/grants" -d '{"amount":1000000000000}' >/dev/null
      echo "$key" >> "$2"
    fi
  done
}

gateway_present() {
  local first=${GATEWAY_LAUNCH%% *}
  if [[ "$GATEWAY_LAUNCH" =~ -jar[[:space:]]+([^[:space:]]+) ]]; then
    [ -f "${BASH_REMATCH[1]}" ]
    return
  fi
  [ -f "$first" ] && [ -x "$first" ]
}

run_gateway_target() { # label, port, backend, [credit mode]
  local label=$1 port=$2 backend=$3 mode=${4:-} config=$WORK/creditgate-$1.yaml keys=$WORK/keys-$1.txt pid
  PG_URL= PG_DB=
  [ "$backend" != postgres ] || pg_target_url "$label"
  write_gateway_config "$config" "$port" "$backend" "$label" "$mode" "$PG_URL" "bench-load-$$-$label"
  # shellcheck disable=SC2086
  $GATEWAY_LAUNCH "$config" > "$OUT_DIR/$label.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/health/ready" 60
  log "$label: provisioning $ACCOUNTS accounts"
  provision_keys "$port" "$keys"
  # JIT-compile the gateway before it is measured, as the simulators were (nginx needs none).
  # Not reported; its output is kept next to the raw results.
  log "$label: warming up (${GATEWAY_WARMUP_RATE} req/s for ${GATEWAY_WARMUP}, not reported)"
  "$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label "$label-warmup" \
    --url "http://127.0.0.1:$port/v1" --rate "$GATEWAY_WARMUP_RATE" --duration "$GATEWAY_WARMUP" --warmup 0s \
    --stream-fraction "$STREAM_FRACTION" --connections "$CONNECTIONS" --keys "$keys" \
    > "$OUT_DIR/$label-warmup.txt" 2>&1 || true
  STREAM_ROUTE=(--stream-model slow)
  METRICS_URL="http://127.0.0.1:$port/metrics"
  guard_counts "$label" provisioned
  measure_target "$label" "http://127.0.0.1:$port/v1" "$pid" --keys "$keys"
  METRICS_URL=
  PG_DB=
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ---- the hot-account cells ------------------------------------------------------------------
# All traffic on one account (hot-1, granted HOT_GRANT credits) through two gateway processes, A on
# GATEWAY_D_PORT and B on GATEWAY_E_PORT, sharing one PostgreSQL database and one Redis prefix
# (strict: each leases a slice of the account's credit and holds against it; check: no leases).
# A user key of the account per gateway; each gateway fed by its own load tool at half of each
# HOT_RATES rate, at the same time. Both are warmed up together first (GATEWAY_WARMUP at half of
# GATEWAY_WARMUP_RATE each, on the same account). During each rate, psql samples every
# LEASE_SAMPLE_INTERVAL s, in one statement (one snapshot), the account's balance and its live
# leases (sum of credits, rows). After it, once both gateways wrote every charge, the ledger is
# checked (cumulative since the cell's start, warm-up included): balance = grants - charges, one
# CHARGE entry per 200 answered by the two gateways, no other entry, and no sample with the live
# leases above the balance.
HOT_ACCOUNT=hot-1

metric_sum() { # port, regular expression of the metric lines: the sum of their values
  curl -fsS --max-time 10 "http://127.0.0.1:$1/metrics" 2>/dev/null \
    | awk -v re="$2" '$0 ~ re { s += $NF } END { printf "%d\n", s }'
}

hot_check() { # label, total rate, lease samples file, port A, port B
  local label=$1 rate=$2 samples=$3 i ok balance grants charged charges other excess unwritten
  local sql="SELECT a.balance, coalesce(sum(e.amount) FILTER (WHERE e.kind = 'GRANT'), 0),
      coalesce(-sum(e.amount) FILTER (WHERE e.kind = 'CHARGE'), 0),
      count(e.id) FILTER (WHERE e.kind = 'CHARGE'), count(e.id) FILTER (WHERE e.kind NOT IN ('GRANT', 'CHARGE'))
    FROM accounts a LEFT JOIN entries e ON e.account_id = a.id WHERE a.id = '$HOT_ACCOUNT' GROUP BY a.balance"
  # Both gateways drained (nothing queued or spooled) and every 200 charged, or 30 s; what is
  # still queued or spooled then is reported (unwritten=).
  for i in $(seq 1 300); do
    ok=$(( $(metric_sum "$4" '^creditgate_requests_total.*route="chat_completions".*status="200"') \
      + $(metric_sum "$5" '^creditgate_requests_total.*route="chat_completions".*status="200"') ))
    read -r balance grants charged charges other < <(pg_psql "$PG_DB" -c "$sql") || true
    balance=${balance:-?} grants=${grants:-?} charged=${charged:-?} charges=${charges:-0} other=${other:-?}
    [ "$(metric_sum "$4" '^creditgate_ledger_(charges_queued|spool_size) ')" -eq 0 ] \
      && [ "$(metric_sum "$5" '^creditgate_ledger_(charges_queued|spool_size) ')" -eq 0 ] \
      && [ "$charges" -ge "$ok" ] && break
    sleep 0.1
  done
  unwritten=$(( $(metric_sum "$4" '^creditgate_ledger_(charges_queued|spool_size) ') \
    + $(metric_sum "$5" '^creditgate_ledger_(charges_queued|spool_size) ') ))
  excess=$(awk 'BEGIN { m = "none" } NF >= 4 { e = $3 - $2; if (m == "none" || e > m) m = e } END { print m }' "$samples")
  awk -v label="$label" -v rate="$rate" -v balance="$balance" -v grants="$grants" -v charged="$charged" \
    -v charges="$charges" -v ok="$ok" -v other="$other" -v excess="$excess" -v unwritten="$unwritten" '
    NF >= 4 { n++; if ($3 > leased) leased = $3; if ($4 > rows) rows = $4 }
    END {
      consistent = (balance == grants - charged && other == 0) ? "yes" : "NO"
      once = (charges == ok) ? "yes" : "NO"
      within = (n > 0 && excess != "none" && excess <= 0) ? "yes" : "NO"
      printf "HOTCHECK cell=%s total_rate=%s balance=%s grants=%s charged_credits=%s charges=%s ok_200=%s unwritten=%s other_entries=%s samples=%d max_leased=%d max_lease_rows=%d max_leased_minus_balance=%s balance_consistent=%s charged_once=%s leases_within_balance=%s\n",
        label, rate, balance, grants, charged, charges, ok, unwritten, other, n, leased, rows, excess, consistent, once, within
    }' "$samples" | tee -a "$RAW"
}

hot_load() { # label, generator (a|b), port, rate, keys-file: one load tool, its output to a file
  # Run in the background: the subshell becomes the load tool, so its pid is the tool's.
  exec "$JAVA" -Xms256m -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator \
    --label "$1-$2" --url "http://127.0.0.1:$3/v1" --rate "$4" --duration "$DURATION" \
    --warmup "$WARMUP" --stream-fraction "$STREAM_FRACTION" --connections "$CONNECTIONS" \
    --timeline "$OUT_DIR/timeline-$1-$2-$4.tsv" --keys "$5" > "$OUT_DIR/$1-$2-$4.txt" 2>&1
}

run_hot_cell() { # label, [credit mode]
  local label=$1 mode=${2:-} prefix="bench-load-$$-$1" pa pb rate half gen port sampler la lb
  local auth=(-H "Authorization: Bearer $GATEWAY_ADMIN_TOKEN" -H "Content-Type: application/json")
  local base="http://127.0.0.1:$GATEWAY_D_PORT/admin/v1" samples warmups=()
  pg_target_url "$label"
  write_gateway_config "$WORK/$label-a.yaml" "$GATEWAY_D_PORT" postgres "$label-a" "$mode" "$PG_URL" "$prefix"
  write_gateway_config "$WORK/$label-b.yaml" "$GATEWAY_E_PORT" postgres "$label-b" "$mode" "$PG_URL" "$prefix"
  # A first: it migrates the database.
  # shellcheck disable=SC2086
  $GATEWAY_LAUNCH "$WORK/$label-a.yaml" > "$OUT_DIR/$label-a.log" 2>&1 &
  pa=$!
  PIDS+=("$pa")
  wait_http "http://127.0.0.1:$GATEWAY_D_PORT/health/ready" 60
  # shellcheck disable=SC2086
  $GATEWAY_LAUNCH "$WORK/$label-b.yaml" > "$OUT_DIR/$label-b.log" 2>&1 &
  pb=$!
  PIDS+=("$pb")
  wait_http "http://127.0.0.1:$GATEWAY_E_PORT/health/ready" 60
  log "$label: one account ($HOT_ACCOUNT, $HOT_GRANT credits), a key per gateway, credit mode ${mode:-strict}"
  curl -fsS "${auth[@]}" -X POST "$base/price-rules" \
    -d '{"input_price":1,"output_price":2,"credits_per_unit":1000}' >/dev/null
  curl -fsS "${auth[@]}" -X POST "$base/accounts" -d "{\"id\":\"$HOT_ACCOUNT\"}" >/dev/null
  curl -fsS "${auth[@]}" -H "Idempotency-Key: bench-hot-grant-$$-$label" -X POST \
    "$base/accounts/$HOT_ACCOUNT/grants" -d "{\"amount\":$HOT_GRANT}" >/dev/null
  for gen in a b; do
    curl -fsS "${auth[@]}" -X POST "$base/keys" -d "{\"account_id\":\"$HOT_ACCOUNT\"}" \
      | sed -n 's/.*"key":"\([^"]*\)".*/\1/p' > "$WORK/keys-$label-$gen.txt"
    [ -s "$WORK/keys-$label-$gen.txt" ] || { echo "no key returned for $HOT_ACCOUNT" >&2; return 1; }
  done
  log "$label: warming up both gateways together ($((GATEWAY_WARMUP_RATE / 2)) req/s each for ${GATEWAY_WARMUP}, not reported)"
  for gen in a b; do
    port=$GATEWAY_D_PORT; [ "$gen" = a ] || port=$GATEWAY_E_PORT
    "$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label "$label-$gen-warmup" \
      --url "http://127.0.0.1:$port/v1" --rate $((GATEWAY_WARMUP_RATE / 2)) --duration "$GATEWAY_WARMUP" \
      --warmup 0s --stream-fraction "$STREAM_FRACTION" --connections "$CONNECTIONS" \
      --keys "$WORK/keys-$label-$gen.txt" > "$OUT_DIR/$label-$gen-warmup.txt" 2>&1 &
    warmups+=("$!")
  done
  wait "${warmups[@]}" || true
  for gen in a b; do
    port=$GATEWAY_D_PORT; [ "$gen" = a ] || port=$GATEWAY_E_PORT
    METRICS_URL="http://127.0.0.1:$port/metrics"
    guard_counts "$label-$gen" provisioned
  done
  for rate in $HOT_RATES; do
    half=$((rate / 2))
    samples=$OUT_DIR/leases-$label-$rate.txt
    : > "$samples"
    # epoch ms, balance, live leases' credits, live lease rows: one statement, one snapshot.
    printf '%s\n' "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint, a.balance,
        coalesce(sum(l.credits) FILTER (WHERE l.expires_at > now()), 0),
        count(l.holder) FILTER (WHERE l.expires_at > now())
      FROM accounts a LEFT JOIN credit_leases l ON l.account_id = a.id
      WHERE a.id = '$HOT_ACCOUNT' GROUP BY a.balance" "\\watch $LEASE_SAMPLE_INTERVAL" \
      | psql -X -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -qAt -F ' ' >> "$samples" 2>/dev/null &
    sampler=$!
    log "$label: $rate req/s in all, $half through each gateway"
    hot_load "$label" a "$GATEWAY_D_PORT" "$half" "$WORK/keys-$label-a.txt" &
    la=$!
    hot_load "$label" b "$GATEWAY_E_PORT" "$half" "$WORK/keys-$label-b.txt" &
    lb=$!
    wait "$la" "$lb" || true
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    for gen in a b; do
      sed "s/^RESULT label=[^ ]*/HOT cell=$label total_rate=$rate gen=$gen/" "$OUT_DIR/$label-$gen-$half.txt" \
        | tee -a "$RAW"
    done
    hot_check "$label" "$rate" "$samples" "$GATEWAY_D_PORT" "$GATEWAY_E_PORT"
    for gen in a b; do
      port=$GATEWAY_D_PORT; [ "$gen" = a ] || port=$GATEWAY_E_PORT
      METRICS_URL="http://127.0.0.1:$port/metrics"
      guard_counts "$label-$gen" "rate_$rate"
    done
  done
  METRICS_URL=
  PG_DB=
  kill "$pa" "$pb" 2>/dev/null || true
  wait "$pa" "$pb" 2>/dev/null || true
}

run_target() { # name: one gateway target or hot-account cell, if wanted
  wants "$1" || return 0
  echo "# load average before $1: $(loadavg)" | tee -a "$RAW"
  case $1 in
    gateway-sqlite) run_gateway_target gateway-sqlite "$GATEWAY_C_PORT" sqlite ;;
    gateway-sqlite-check) run_gateway_target gateway-sqlite-check "$GATEWAY_C_PORT" sqlite check ;;
    # (c) with ledger.intent-sync-wait: 0s, to tell how much of (c)'s latency is the wait for
    # each call's intent fsync. Measured with the rates only.
    gateway-sqlite-nowait)
      SEARCH=0 STREAMS=0 run_gateway_target gateway-sqlite-nowait "$GATEWAY_C_PORT" sqlite-nowait ;;
    gateway-pg-redis) run_gateway_target gateway-pg-redis "$GATEWAY_D_PORT" postgres ;;
    gateway-pg-redis-check) run_gateway_target gateway-pg-redis-check "$GATEWAY_D_PORT" postgres check ;;
    hot-pg-redis) run_hot_cell hot-pg-redis ;;
    hot-pg-redis-check) run_hot_cell hot-pg-redis-check check ;;
  esac
}

run_pair() { # strict target, its check twin: in ORDER
  if [ "$ORDER" = check-first ]; then
    run_target "$2"
    run_target "$1"
  else
    run_target "$1"
    run_target "$2"
  fi
}

if gateway_present; then
  run_pair gateway-sqlite gateway-sqlite-check
  run_target gateway-sqlite-nowait
  run_pair gateway-pg-redis gateway-pg-redis-check
  run_pair hot-pg-redis hot-pg-redis-check
else
  echo "PENDING label=gateway-sqlite reason=\"no gateway launcher ($GATEWAY_LAUNCH)\"" | tee -a "$RAW"
  echo "PENDING label=gateway-pg-redis reason=\"no gateway launcher ($GATEWAY_LAUNCH)\"" | tee -a "$RAW"
fi

# ---- summary ----------------------------------------------------------------------------------
echo "# load average at end: $(loadavg)" | tee -a "$RAW"
awk -f "$ROOT/bench/summarize-load.awk" "$RAW" > "$SUMMARY"
cat "$SUMMARY"
log "raw output: $RAW"
log "summary:    $SUMMARY"
