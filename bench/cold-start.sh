#!/usr/bin/env bash
# Cold start: how a freshly started gateway (SQLite + in-process cache, its ledger already
# provisioned, as after a restart) answers in the first seconds after /health/ready turns ready.
# For each variant in VARIANTS, STARTS starts: the gateway is launched, the time until
# /health/ready answers 200 is taken, and RATE req/s are sent from that moment for DURATION with
# no warm-up (the same request mix as bench/run-load.sh: 20 ms simulated upstream, 20% streamed).
# Direct (the simulator alone) at the same rate in the same run is the baseline.
#
#   off  the launcher with CREDITGATE_AOT=off: a plain JVM start.
#   aot  the launcher's AOT cache (JDK 25+): one recording start first (RECORD_DURATION of load,
#        then a stop, which writes the cache), then starts that use it.
#
#   SKIP_BUILD=1 bench/cold-start.sh          # about 5 minutes
#
# Writes raw.txt and summary.md (medians over the starts) under $OUT_DIR and prints the summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

NICE=${NICE:-0}
if [ "$NICE" != 0 ] && [ -z "${CREDITGATE_LOAD_NICED:-}" ]; then
  exec nice -n "$NICE" env CREDITGATE_LOAD_NICED=1 "$0" "$@"
fi

VARIANTS=${VARIANTS:-"off aot"}
STARTS=${STARTS:-3}
RATE=${RATE:-500}
DURATION=${DURATION:-10s}
RECORD_DURATION=${RECORD_DURATION:-30s}
ACCOUNTS=${ACCOUNTS:-200}
SIM_PORT=${SIM_PORT:-18281}
PORT=${PORT:-18280}
ADMIN_TOKEN=cold-start-admin-token-0123456789
OUT_DIR=${OUT_DIR:-$ROOT/bench/results/cold-start-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
RAW=$OUT_DIR/raw.txt
WORK=$(mktemp -d /tmp/creditgate-cold.XXXXXX)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$RAW" >&2; }

source "$ROOT/bench/java.sh"
source "$ROOT/bench/provision.sh"
JAVA=$(find_java)
JAR=$ROOT/creditgate-bench/target/benchmarks.jar
if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$JAR" ]; then
  log "building (./mvnw -q -pl creditgate-bench,creditgate-gateway -am package -DskipTests)"
  ./mvnw -q -pl creditgate-bench,creditgate-gateway -am package -DskipTests
fi

millis() { date +%s%3N; }

wait_ready() { # seconds: waits for /health/ready; prints the milliseconds it took from $STARTED
  local i
  for i in $(seq 1 $(($1 * 100))); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health/ready" 2>/dev/null; then
      echo $(($(millis) - STARTED))
      return 0
    fi
    sleep 0.01
  done
  echo "the gateway was not ready within $1 s" >&2
  return 1
}

load() { # label, url, rate, duration, [extra args]
  local label=$1 url=$2 rate=$3 duration=$4
  shift 4
  "$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label "$label" --url "$url" \
    --rate "$rate" --duration "$duration" --warmup 0s --stream-fraction 0.2 --connections 128 "$@"
}

config() { # data dir
  cat <<EOF
server:
  host: 127.0.0.1
  port: $PORT
admin:
  token: $ADMIN_TOKEN
models:
  pro:
    base-url: http://127.0.0.1:$SIM_PORT/v1
    provider: simulator
    model: sim-pro
ledger:
  url: "jdbc:sqlite:$1/creditgate.db"
  spool-dir: $1/spool
EOF
}

start_gateway() { # data dir, CREDITGATE_AOT: starts it in the background, sets GATEWAY and STARTED
  config "$1" > "$1/creditgate.yaml"
  STARTED=$(millis)
  CREDITGATE_AOT=$2 ./creditgate serve --config "$1/creditgate.yaml" >> "$1/gateway.log" 2>&1 &
  GATEWAY=$!
  PIDS+=("$GATEWAY")
}

stop_gateway() {
  kill "$GATEWAY" 2>/dev/null || true
  wait "$GATEWAY" 2>/dev/null || true
}

{
  echo "# cold-start.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
  echo "# java: $("$JAVA" -version 2>&1 | head -1)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); nice $(nice)"
  echo "# code: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "# VARIANTS=$VARIANTS STARTS=$STARTS RATE=$RATE DURATION=$DURATION RECORD_DURATION=$RECORD_DURATION ACCOUNTS=$ACCOUNTS"
} | tee "$RAW" >&2

"$JAVA" -Xms256m -Xmx1g -Dsun.net.httpserver.maxIdleConnections=10000 -cp "$JAR" \
  dev.creditgate.sim.SimulatedUpstream --port "$SIM_PORT" \
  --latency-ms 20 > "$WORK/sim.log" 2>&1 &
PIDS+=("$!")
for i in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$SIM_PORT/v1/models" 2>/dev/null && break; sleep 0.1; done
log "simulator warm-up (30 s), then direct at $RATE req/s"
load sim-warmup "http://127.0.0.1:$SIM_PORT/v1" 1000 30s > "$WORK/sim-warmup.txt" 2>&1 || true
load direct "http://127.0.0.1:$SIM_PORT/v1" "$RATE" "$DURATION" | tee -a "$RAW" | grep '^RESULT' >&2

log "provisioning $ACCOUNTS accounts into a template ledger"
mkdir -p "$WORK/template"
start_gateway "$WORK/template" off
wait_ready 120 > /dev/null
provision_accounts "$PORT" "$ADMIN_TOKEN" cold "$ACCOUNTS" "$WORK/keys.txt"
stop_gateway
rm -f "$WORK/template/gateway.log"

AOT_FILE=$ROOT/creditgate-gateway/target/creditgate.aot
for variant in $VARIANTS; do
  case $variant in
    off) aot=off ;;
    aot)
      aot=auto
      rm -f "$AOT_FILE" "$AOT_FILE".*
      log "aot: a recording start ($RECORD_DURATION at $RATE req/s, then stop)"
      rm -rf "$WORK/run" && cp -r "$WORK/template" "$WORK/run"
      start_gateway "$WORK/run" auto
      wait_ready 120 > /dev/null
      load "aot-record" "http://127.0.0.1:$PORT/v1" "$RATE" "$RECORD_DURATION" --keys "$WORK/keys.txt" \
        > "$WORK/aot-record.txt" 2>&1 || true
      stopping=$(millis)
      stop_gateway
      log "aot: the recording gateway stopped in $(($(millis) - stopping)) ms; cache files: $(ls "$AOT_FILE"* 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')"
      # The launcher adopts only files a minute old (none still being written): age this one.
      touch -d '-2 minutes' "$AOT_FILE".*.rec
      ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
  esac
  for start in $(seq 1 "$STARTS"); do
    rm -rf "$WORK/run" && cp -r "$WORK/template" "$WORK/run"
    start_gateway "$WORK/run" "$aot"
    ready_ms=$(wait_ready 120)
    load "$variant-$start" "http://127.0.0.1:$PORT/v1" "$RATE" "$DURATION" --keys "$WORK/keys.txt" \
      > "$WORK/load.txt" 2>&1 || true
    rss=$(ps -o rss= -p "$GATEWAY" | tr -d ' ')
    stop_gateway
    cat "$WORK/load.txt" >> "$RAW"
    echo "READY variant=$variant start=$start ready_ms=$ready_ms rss_kib=$rss" | tee -a "$RAW" >&2
    grep '^RESULT' "$WORK/load.txt" >&2 || true
    if [ "$variant" = aot ] && grep -q 'AOT cache' "$WORK/run/gateway.log"; then
      grep 'AOT cache' "$WORK/run/gateway.log" | head -3 >> "$RAW"
    fi
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RAW"

awk -v rate="$RATE" -v duration="$DURATION" '
  function field(name,   i, kv) {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
  }
  function median(list, n,   sorted, i, j, t) {
    for (i = 1; i <= n; i++) sorted[i] = list[i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (sorted[j] < sorted[i]) { t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t }
    return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
  }
  /^RESULT/ {
    label = field("label")
    if (label == "direct") { d50 = field("p50_ms"); d99 = field("p99_ms"); d999 = field("p999_ms"); next }
    split(label, parts, "-"); v = parts[1]
    n[v]++; p50[v, n[v]] = field("p50_ms"); p99[v, n[v]] = field("p99_ms"); p999[v, n[v]] = field("p999_ms")
    errors[v] += field("errors")
    if (!(v in seen)) { seen[v] = 1; order[++variants] = v }
  }
  /^READY/ { v = field("variant"); m[v]++; ready[v, m[v]] = field("ready_ms"); rss[v, m[v]] = field("rss_kib") }
  END {
    printf "Cold start: %s req/s for %s from the moment /health/ready answered, no warm-up; medians over the starts.\n", rate, duration
    printf "Direct (the simulator alone, same run): p50 %.2f / p99 %.2f / p99.9 %.2f ms.\n\n", d50, d99, d999
    print "| variant | starts | ready after (ms) | p50 | p99 | p99.9 | added p50 | added p99 | added p99.9 | errors | RSS after (MiB) |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (k = 1; k <= variants; k++) {
      v = order[k]
      for (i = 1; i <= n[v]; i++) { a[i] = p50[v, i]; b[i] = p99[v, i]; c[i] = p999[v, i] }
      for (i = 1; i <= m[v]; i++) { r[i] = ready[v, i]; s[i] = rss[v, i] }
      q50 = median(a, n[v]); q99 = median(b, n[v]); q999 = median(c, n[v])
      printf "| %s | %d | %d | %.2f | %.2f | %.2f | %+.2f | %+.2f | %+.2f | %d | %.0f |\n", v, n[v], median(r, m[v]), q50, q99, q999, q50 - d50, q99 - d99, q999 - d999, errors[v], median(s, m[v]) / 1024
      detail[k] = v ": p99 per start"
      for (i = 1; i <= n[v]; i++) detail[k] = detail[k] sprintf(" %.2f", b[i])
      detail[k] = detail[k] " ms; ready after"
      for (i = 1; i <= m[v]; i++) detail[k] = detail[k] sprintf(" %d", r[i])
      detail[k] = detail[k] " ms"
    }
    print ""
    for (k = 1; k <= variants; k++) print "- " detail[k]
  }' "$RAW" > "$OUT_DIR/summary.md"
cat "$OUT_DIR/summary.md"
echo "summary: $OUT_DIR/summary.md" >&2
