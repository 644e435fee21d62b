#!/usr/bin/env bash
# Drill 2: PostgreSQL unreachable for OUTAGE_S (10) seconds during steady load.
# The shared PostgreSQL server is never stopped: the gateway reaches its own database through a
# socat TCP proxy on a loopback port; the drill "stops" PostgreSQL by killing the proxy and every
# connection it carries (open connections break, new ones are refused), and starts it again
# OUTAGE_S seconds later. Cache: the in-process one (so only the database is away).
# PASS when: no client request failed (admission failed open); after the database returned and
# the spool drained to zero, the ledger holds exactly one CHARGE per call the simulator served
# with usage: same count, same prompt and completion token sums, no event id twice, no dup: entry.
DRILL=postgres
source "$(dirname "$0")/lib.sh"
BASE=${DRILL_PORT_BASE:-19420}
SIM_PORT=$BASE GW_PORT=$((BASE + 1)) PROXY_PORT=$((BASE + 2))
RATE=${RATE:-50} OUTAGE_S=${OUTAGE_S:-10} ACCOUNTS=${ACCOUNTS:-50}
arm_watchdog 300
require_jar
for p in $SIM_PORT $GW_PORT $PROXY_PORT; do port_free "$p" || { echo "FAIL drill=postgres port $p busy"; exit 1; }; done

start_proxy() {
  socat "TCP-LISTEN:$PROXY_PORT,bind=127.0.0.1,reuseaddr,fork" "TCP:$PG_HOST:$PG_PORT" >> "$WORK/socat.log" 2>&1 &
  PROXY_PID=$!
  echo "$PROXY_PID" > "$WORK/proxy.pid"
  for _ in $(seq 1 50); do port_free "$PROXY_PORT" || return 0; sleep 0.1; done
  return 1
}
cut_proxy() { # the listener and each forked child carrying a connection
  local children
  children=$(pgrep -P "$PROXY_PID" || true)
  kill -KILL "$PROXY_PID" $children 2>/dev/null || true
}

start_proxy
start_sim "$SIM_PORT"
create_db "cg_drill_pg_$$"
write_config "$WORK/gw.yaml" "$GW_PORT" "$SIM_PORT" \
  "jdbc:postgresql://127.0.0.1:$PROXY_PORT/$DRILL_DB?user=$PG_USER" "" "$WORK/spool"
start_gateway "$WORK/gw.yaml" "$GW_PORT" "$WORK/gateway.log"
provision "$GW_PORT" acct "$ACCOUNTS" 1000000000000 "$WORK/keys.txt"
LOAD_START=$(loadavg)
# Three back-to-back phases: "before" (10 s), "outage" (the proxy cut one second in, as its
# measured period starts, and restored OUTAGE_S s later), "after" (20 s).
load_phase before "$GW_PORT" "$RATE" 10s 1s "$WORK/keys.txt"
(
  sleep 1
  cut_proxy
  log "PostgreSQL cut (proxy and its connections killed)"
  sleep "$OUTAGE_S"
  start_proxy
  log "PostgreSQL back (proxy restarted)"
) &
CUTTER=$!
load_phase outage "$GW_PORT" "$RATE" "$((OUTAGE_S + 1))s" 1s "$WORK/keys.txt"
wait "$CUTTER" || true
load_phase after "$GW_PORT" "$RATE" 20s 1s "$WORK/keys.txt"
PROXY_PID=$(cat "$WORK/proxy.pid")

FAIL_OPEN=$(metric "$GW_PORT" creditgate_guard_decisions_total 'reason="fail_open_store')
SPOOLED_MAX=0
DRAIN_MS=-1
T0=$(date +%s%N)
for _ in $(seq 1 600); do
  s=$(metric "$GW_PORT" creditgate_ledger_spool_size)
  [ "$s" -gt "$SPOOLED_MAX" ] && SPOOLED_MAX=$s
  # Write-behind: charges still queued for the database (not yet written nor spooled) count too.
  if [ "$s" -eq 0 ] && [ "$(metric "$GW_PORT" creditgate_ledger_charges_queued)" -eq 0 ]; then
    DRAIN_MS=$((($(date +%s%N) - T0) / 1000000)); break
  fi
  sleep 0.1
done
SPOOL_END=$(metric "$GW_PORT" creditgate_ledger_spool_size)
SPOOLED_TOTAL=$(cat "$WORK/spool/charges.rejected" 2>/dev/null | grep -c . || true)
CHARGES_SPOOLED=$(metric "$GW_PORT" creditgate_charges_total 'status="spooled"')
CHARGES_FAILED=$(metric "$GW_PORT" creditgate_charges_failed_total)
LOAD_END=$(loadavg)
compare_usage "$SIM_PORT"
ERR=0 PHASES=""
for ph in before outage after; do
  ERR=$((ERR + $(result_field "$ph" errors)))
  PHASES="$PHASES $ph:errors=$(result_field "$ph" errors),p50_ms=$(result_field "$ph" p50_ms),p99_ms=$(result_field "$ph" p99_ms),achieved=$(result_field "$ph" achieved)"
done
ERR_KINDS=$( (grep -hE '^ +error:' "$WORK/outage.txt" "$WORK/after.txt" || true) | sed 's/^ *error: //' | tr ' ' '_' | tr '\n' ';')
OK=1
[ "$ERR" -eq 0 ] || OK=0
[ "$SPOOL_END" -eq 0 ] || OK=0
[ "$SIM_N" -eq "$LED_N" ] && [ "$SIM_P" -eq "$LED_P" ] && [ "$SIM_C" -eq "$LED_C" ] || OK=0
[ "$LED_DISTINCT" -eq "$LED_N" ] && [ "$LED_DUP" -eq 0 ] || OK=0
echo "$([ $OK = 1 ] && echo PASS || echo FAIL) drill=postgres-outage rate=$RATE outage_s=$OUTAGE_S" \
  "client_errors=$ERR$PHASES error_kinds=$ERR_KINDS" \
  "fail_open_store_decisions=$FAIL_OPEN charges_spooled=$CHARGES_SPOOLED charges_failed=$CHARGES_FAILED" \
  "spool_end=$SPOOL_END drain_ms=$DRAIN_MS rejected_lines=$SPOOLED_TOTAL" \
  "sim_usage_reports=$SIM_N ledger_charges=$LED_N distinct_event_ids=$LED_DISTINCT dup_entries=$LED_DUP" \
  "prompt_tokens(sim/ledger)=$SIM_P/$LED_P completion_tokens(sim/ledger)=$SIM_C/$LED_C" \
  "loadavg_start=\"$LOAD_START\" loadavg_end=\"$LOAD_END\""
