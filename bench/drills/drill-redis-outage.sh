#!/usr/bin/env bash
# Drill 1: Redis killed (SIGKILL) during steady load and restarted 10 s later.
# Gateway: PostgreSQL (a database of its own on the shared server) + a DEDICATED redis-server on
# its own port (the shared 6379 is never touched). Load: LoadGenerator in three back-to-back
# phases of OUTAGE_S seconds at RATE req/s: "before" (Redis up), "outage" (Redis killed as its
# measured period starts), "after" (Redis restarted as its measured period starts).
# PASS when: no client request failed in any phase; p99(outage) - p99(before) <= cache budget
# (guard.cache-timeout, 50 ms) + 5 ms; and decisions come from Redis again within 2 s of its
# return (no fail_open_cache_error decision after that point and Redis serves MGETs again).
DRILL=redis
source "$(dirname "$0")/lib.sh"
BASE=${DRILL_PORT_BASE:-19410}
SIM_PORT=$BASE GW_PORT=$((BASE + 1)) REDIS_PORT=$((BASE + 2))
RATE=${RATE:-50} OUTAGE_S=${OUTAGE_S:-10} ACCOUNTS=${ACCOUNTS:-50}
CACHE_BUDGET_MS=50
arm_watchdog 300
require_jar
for p in $SIM_PORT $GW_PORT $REDIS_PORT; do port_free "$p" || { echo "FAIL drill=redis port $p busy"; exit 1; }; done

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    > "$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
mgets() { redis-cli -p "$REDIS_PORT" info commandstats 2>/dev/null | awk -F'[=,:]' '/^cmdstat_mget/ {print $3}' | tr -d '\r'; }
fail_open() { metric "$GW_PORT" creditgate_guard_decisions_total 'reason="fail_open_cache_error"'; }

start_redis
start_sim "$SIM_PORT"
create_db "cg_drill_redis_$$"
write_config "$WORK/gw.yaml" "$GW_PORT" "$SIM_PORT" \
  "jdbc:postgresql://$PG_HOST:$PG_PORT/$DRILL_DB?user=$PG_USER" "redis://127.0.0.1:$REDIS_PORT" "$WORK/spool"
start_gateway "$WORK/gw.yaml" "$GW_PORT" "$WORK/gateway.log"
provision "$GW_PORT" acct "$ACCOUNTS" 1000000000000 "$WORK/keys.txt"
log "warm-up"
load_phase warmup "$GW_PORT" "$RATE" 8s 0s "$WORK/keys.txt"
LOAD_START=$(loadavg)

FO_BEFORE_START=$(fail_open)
load_phase before "$GW_PORT" "$RATE" "${OUTAGE_S}s" 1s "$WORK/keys.txt"
FO_BEFORE=$(($(fail_open) - FO_BEFORE_START))

# Kill Redis one second into the phase: the moment its measured period starts.
( sleep 1; kill -KILL "$REDIS_PID"; log "redis killed (SIGKILL)" ) &
load_phase outage "$GW_PORT" "$RATE" "${OUTAGE_S}s" 1s "$WORK/keys.txt"
FAIL_OPEN_DURING=$(fail_open)

# Restart one second into the "after" phase and sample, every 100 ms, the fail-open counter and
# Redis's MGET count: recovery = the last sample in which a fail-open decision was still made.
(
  sleep 1
  start_redis
  echo "$REDIS_PID" > "$WORK/redis2.pid"
  T0=$(date +%s%N)
  log "redis restarted"
  for _ in $(seq 1 60); do
    echo "$((($(date +%s%N) - T0) / 1000000)) $(fail_open) $(mgets)"
    sleep 0.1
  done > "$WORK/recovery.txt"
) &
RECOVERY_PID=$!
load_phase after "$GW_PORT" "$RATE" "${OUTAGE_S}s" 1s "$WORK/keys.txt"
wait "$RECOVERY_PID" || true
LOAD_END=$(loadavg)

read -r _ FO_AT_RESTART _ < "$WORK/recovery.txt"
FO_END=$(tail -1 "$WORK/recovery.txt" | awk '{print $2}')
FIRST_MGET_MS=$(awk '$3 != "" && $3 > 0 {print $1; exit}' "$WORK/recovery.txt")
# Recovered at the first sample t where Redis has served lookups (MGET count > 0) and, from t to
# t + 1 s, no fail-open decision was made while Redis kept serving MGETs.
RECOVERED_MS=$(awk '{t[NR] = $1; fo[NR] = $2; mg[NR] = $3 + 0}
  END {
    for (i = 1; i <= NR; i++) {
      if (mg[i] <= 0) continue
      ok = 1; last = i
      for (j = i; j <= NR && t[j] <= t[i] + 1000; j++) { if (fo[j] != fo[i]) ok = 0; last = j }
      if (ok && t[last] >= t[i] + 500 && mg[last] > mg[i]) { print t[i]; exit }
    }
    print 999999
  }' "$WORK/recovery.txt")
# Fail-open decisions after that point: budget overruns on a loaded machine, not the outage;
# compared with the count in the "before" phase, when Redis was up.
FO_LATER=$(awk -v r="$RECOVERED_MS" '$1 <= r {base = $2} END {print $2 - base}' "$WORK/recovery.txt")

ERR=0
for ph in before outage after; do ERR=$((ERR + $(result_field "$ph" errors))); done
P99_BEFORE=$(result_field before p99_ms) P99_OUTAGE=$(result_field outage p99_ms) P99_AFTER=$(result_field after p99_ms)
P50_BEFORE=$(result_field before p50_ms) P50_OUTAGE=$(result_field outage p50_ms)
ADDED=$(awk -v a="$P99_OUTAGE" -v b="$P99_BEFORE" 'BEGIN {printf "%.2f", a - b}')
LIMIT=$((CACHE_BUDGET_MS + 5))
OK=1
[ "$ERR" -eq 0 ] || OK=0
awk -v x="$ADDED" -v l="$LIMIT" 'BEGIN {exit !(x <= l)}' || OK=0
[ "$FAIL_OPEN_DURING" -gt 0 ] || OK=0   # the outage must have been seen by the guard at all
[ "$RECOVERED_MS" -le 2000 ] || OK=0
echo "$([ $OK = 1 ] && echo PASS || echo FAIL) drill=redis-outage rate=$RATE errors=$ERR" \
  "p50_ms(before/outage)=$P50_BEFORE/$P50_OUTAGE p99_ms(before/outage/after)=$P99_BEFORE/$P99_OUTAGE/$P99_AFTER" \
  "p99_added_ms=$ADDED limit_ms=$LIMIT fail_open_decisions=$FAIL_OPEN_DURING" \
  "recovered_ms=$RECOVERED_MS (first_mget_ms=${FIRST_MGET_MS:-none} mgets_2s_later=$(awk '$1 >= 2000 {print $3; exit}' "$WORK/recovery.txt")" \
  "fail_open_after_restart=$((FO_END - FO_AT_RESTART)) of_which_after_recovery=$FO_LATER fail_open_in_before_phase=$FO_BEFORE)" \
  "loadavg_start=\"$LOAD_START\" loadavg_end=\"$LOAD_END\""
