#!/usr/bin/env bash
# Strict vs check credit under load: REPEATS (3) runs of bench/run-load.sh, each measuring direct,
# the gateway in strict and in check mode on SQLite + in-process cache and on PostgreSQL + Redis,
# and the hot-account cells (one account through two gateways, strict and check), with the order
# of each strict/check pair alternating between runs (strict-first, check-first, strict-first, ...)
# since the machine drifts. Then bench/summarize-strict-vs-check.awk gives each run's figures and
# the median over the runs. Knobs of run-load.sh (RATES, DURATION, NICE, SKIP_BUILD, ...) pass
# through; TARGETS may narrow the set.
#
#   SKIP_BUILD=1 bench/strict-vs-check.sh            # about 20 minutes per run
#
# Writes each run's folder and summary.md under $OUT_DIR and prints the summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPEATS=${REPEATS:-3}
OUT_DIR=${OUT_DIR:-$ROOT/bench/results/strict-vs-check-$(date -u +%Y%m%dT%H%M%SZ)}
export TARGETS=${TARGETS:-"direct gateway-sqlite gateway-sqlite-check gateway-pg-redis gateway-pg-redis-check hot-pg-redis hot-pg-redis-check"}
export SEARCH=0 STREAMS=0 RATES=${RATES:-"500 1000"}
mkdir -p "$OUT_DIR"
for i in $(seq 1 "$REPEATS"); do
  order=strict-first
  [ $((i % 2)) -eq 1 ] || order=check-first
  echo "$(date -u +%H:%M:%S) run $i of $REPEATS, $order, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  ORDER=$order OUT_DIR=$OUT_DIR/run-$i "$ROOT/bench/run-load.sh" > "$OUT_DIR/run-$i.log" 2>&1 || {
    echo "run $i failed; its output: $OUT_DIR/run-$i.log" >&2
    exit 1
  }
  export SKIP_BUILD=1
done
raws=()
for i in $(seq 1 "$REPEATS"); do raws+=("$OUT_DIR/run-$i/raw.txt"); done
awk -f "$ROOT/bench/summarize-strict-vs-check.awk" "${raws[@]}" > "$OUT_DIR/summary.md"
cat "$OUT_DIR/summary.md"
echo "summary: $OUT_DIR/summary.md" >&2
