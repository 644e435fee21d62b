#!/usr/bin/env bash
# The Responses API against chat completions, through the same gateway in the same run: the
# latency the gateway adds to each (gateway minus the simulator called directly, each API against
# its own direct baseline), at RATE req/s of plain (non-streamed) calls. The gateway runs on its
# embedded defaults for storage (SQLite ledger, in-process cache) in strict credit mode, in front of
# a simulated upstream answering after 20 ms.
#
# After a warm-up of both APIs, RUNS rounds each measure direct chat, gateway chat, direct
# Responses and gateway Responses for DURATION (the order reversed every other round).
#
#   NICE=-10 SKIP_BUILD=1 bench/responses-vs-chat.sh        # about 9 minutes with the defaults
#
# Writes raw.txt and summary.md (medians over the rounds) under $OUT_DIR and prints the summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

NICE=${NICE:-0}
if [ "$NICE" != 0 ] && [ -z "${CREDITGATE_LOAD_NICED:-}" ]; then
  exec nice -n "$NICE" env CREDITGATE_LOAD_NICED=1 "$0" "$@"
fi

RUNS=${RUNS:-3}
# The APIs measured (chat, responses); chat alone compares builds that have no Responses API.
APIS=${APIS:-"chat responses"}
RATE=${RATE:-1000}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-90s}
ACCOUNTS=${ACCOUNTS:-200}
# ledger.intent-sync-wait of the gateway (empty: its default, 1s); 0s takes the disk's fsync off
# the calls' path.
INTENT_SYNC_WAIT=${INTENT_SYNC_WAIT:-}
SIM_PORT=${SIM_PORT:-18291}
PORT=${PORT:-18290}
ADMIN_TOKEN=responses-bench-admin-token-0123456789
OUT_DIR=${OUT_DIR:-$ROOT/bench/results/responses-vs-chat-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT_DIR"
RAW=$OUT_DIR/raw.txt
WORK=$(mktemp -d /tmp/creditgate-responses.XXXXXX)
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

load() { # label, url, duration, warm-up, [extra args]
  local label=$1 url=$2 duration=$3 warmup=$4
  shift 4
  "$JAVA" -Xmx512m -cp "$JAR" dev.creditgate.bench.load.LoadGenerator --label "$label" \
    --url "$url" --rate "$RATE" --duration "$duration" --warmup "$warmup" --stream-fraction 0 \
    --connections 128 "$@"
}

{
  echo "# responses-vs-chat.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
  echo "# java: $("$JAVA" -version 2>&1 | head -1)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); nice $(nice)"
  echo "# code: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "# RUNS=$RUNS RATE=$RATE DURATION=$DURATION WARMUP=$WARMUP ACCOUNTS=$ACCOUNTS APIS=$APIS INTENT_SYNC_WAIT=${INTENT_SYNC_WAIT:-default}"
} | tee "$RAW" >&2

"$JAVA" -Xms256m -Xmx1g -Dsun.net.httpserver.maxIdleConnections=10000 -cp "$JAR" \
  dev.creditgate.sim.SimulatedUpstream --port "$SIM_PORT" \
  --latency-ms 20 > "$WORK/sim.log" 2>&1 &
PIDS+=("$!")
for i in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$SIM_PORT/v1/models" 2>/dev/null && break; sleep 0.1; done

mkdir -p "$WORK/gw"
cat > "$WORK/gw/creditgate.yaml" <<YAML
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
  url: "jdbc:sqlite:$WORK/gw/creditgate.db"
  spool-dir: $WORK/gw/spool
YAML
if [ -n "$INTENT_SYNC_WAIT" ]; then
  echo "  intent-sync-wait: $INTENT_SYNC_WAIT" >> "$WORK/gw/creditgate.yaml"
fi
CREDITGATE_AOT=off ./creditgate serve --config "$WORK/gw/creditgate.yaml" > "$WORK/gw/gateway.log" 2>&1 &
GATEWAY=$!
PIDS+=("$GATEWAY")
for i in $(seq 1 1200); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health/ready" 2>/dev/null && break
  kill -0 "$GATEWAY" 2>/dev/null || { cat "$WORK/gw/gateway.log" >&2; exit 1; }
  sleep 0.1
done
log "provisioning $ACCOUNTS accounts"
provision_accounts "$PORT" "$ADMIN_TOKEN" resp "$ACCOUNTS" "$WORK/keys.txt"

SIM=http://127.0.0.1:$SIM_PORT/v1
GW=http://127.0.0.1:$PORT/v1
log "warm-up: $WARMUP of each API through the gateway, and directly"
load warm-chat "$GW/chat/completions" "$WARMUP" 0s --keys "$WORK/keys.txt" > "$WORK/warm.txt" 2>&1 || true
case " $APIS " in *" responses "*)
  load warm-responses "$GW/responses" "$WARMUP" 0s --keys "$WORK/keys.txt" >> "$WORK/warm.txt" 2>&1 || true ;;
esac
load warm-direct "$SIM/chat/completions" 10s 0s >> "$WORK/warm.txt" 2>&1 || true
case " $APIS " in *" responses "*)
  load warm-direct-responses "$SIM/responses" 10s 0s >> "$WORK/warm.txt" 2>&1 || true ;;
esac

for run in $(seq 1 "$RUNS"); do
  cells=""
  for api in $APIS; do cells="$cells direct-$api gateway-$api"; done
  if [ $((run % 2)) = 0 ]; then cells=$(echo $cells | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for cell in $cells; do
    case $cell in
      direct-chat) url=$SIM/chat/completions; keys=() ;;
      gateway-chat) url=$GW/chat/completions; keys=(--keys "$WORK/keys.txt") ;;
      direct-responses) url=$SIM/responses; keys=() ;;
      gateway-responses) url=$GW/responses; keys=(--keys "$WORK/keys.txt") ;;
    esac
    log "run $run: $cell at $RATE req/s for $DURATION"
    load "$cell-$run" "$url" "$DURATION" 5s "${keys[@]}" > "$WORK/load.txt" 2>&1 || true
    cat "$WORK/load.txt" >> "$RAW"
    grep '^RESULT' "$WORK/load.txt" >&2 || true
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RAW"
grep -c 'ERROR' "$WORK/gw/gateway.log" | sed 's/^/# gateway log ERROR lines: /' >> "$RAW" || true

awk -v rate="$RATE" -v duration="$DURATION" -v apis_list="$APIS" '
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
    split(field("label"), parts, "-"); cell = parts[1] "-" parts[2]; r = parts[3]
    p50[cell, r] = field("p50_ms"); p99[cell, r] = field("p99_ms"); p999[cell, r] = field("p999_ms")
    errors[cell] += field("errors"); if (r > runs) runs = r
  }
  END {
    printf "Plain calls at %s req/s for %s per cell, median of %d rounds; added = gateway minus direct, same round.\n\n", rate, duration, runs
    print "| API | direct p50 / p99 / p99.9 (ms) | gateway p50 / p99 / p99.9 (ms) | added p50 | added p99 | added p99.9 | errors |"
    print "| --- | --- | --- | ---: | ---: | ---: | ---: |"
    napis = split(apis_list, apis, " ")
    for (k = 1; k <= napis; k++) {
      api = apis[k]
      for (r = 1; r <= runs; r++) {
        d50[r] = p50["direct-" api, r]; d99[r] = p99["direct-" api, r]; d999[r] = p999["direct-" api, r]
        g50[r] = p50["gateway-" api, r]; g99[r] = p99["gateway-" api, r]; g999[r] = p999["gateway-" api, r]
        a50[r] = g50[r] - d50[r]; a99[r] = g99[r] - d99[r]; a999[r] = g999[r] - d999[r]
      }
      added99[api] = median(a99, runs); added50[api] = median(a50, runs)
      printf "| %s | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | %+.2f | %+.2f | %+.2f | %d |\n", api, median(d50, runs), median(d99, runs), median(d999, runs), median(g50, runs), median(g99, runs), median(g999, runs), added50[api], added99[api], median(a999, runs), errors["direct-" api] + errors["gateway-" api]
      per[api] = api ": added p99 per round"
      for (r = 1; r <= runs; r++) per[api] = per[api] sprintf(" %+.2f", a99[r])
    }
    print ""
    if (napis == 2) printf "Responses minus chat, added latency: p50 %+.2f ms, p99 %+.2f ms.\n\n", added50["responses"] - added50["chat"], added99["responses"] - added99["chat"]
    for (k = 1; k <= napis; k++) print "- " per[apis[k]] " ms"
  }' "$RAW" > "$OUT_DIR/summary.md"
cat "$OUT_DIR/summary.md"
echo "summary: $OUT_DIR/summary.md" >&2
