#!/usr/bin/env bash
# Drill 3: the gateway killed with SIGKILL during load and restarted, KILLS (2) times.
# Gateway: PostgreSQL (a database of its own) + in-process cache, same spool directory across
# restarts. Load: track_client.py, RATE req/s for DURATION_S s, every 5th request streamed, each
# with its own Idempotency-Key (= the ledger event id, also sent as the body's `user`), recording
# whether the client received the whole response. The simulator lists the `user` of every call it
# took on (SIM_REQUEST_LOG), so what the upstream served is known call by call, including the calls
# in flight at a kill.
# PASS when, after the last restart and the spool drained: every call the upstream took on has a
# CHARGE (0 free: the calls in flight at a kill are charged their estimate at the restart), every
# request the client received completely has one (none lost), no event id is charged twice and no
# dup: entry exists, and every charge of a call the upstream never took on (admitted, killed before
# the upstream was called) is a recovered estimate.
# Also reported: the charges of calls in flight at a kill (recovered estimates), and streams whose
# `data: [DONE]` reached the client but whose HTTP body did not end (the gateway died between
# passing [DONE] on and finishing the response) and which were not charged.
DRILL=gwkill
source "$(dirname "$0")/lib.sh"
BASE=${DRILL_PORT_BASE:-19430}
SIM_PORT=$BASE GW_PORT=$((BASE + 1))
RATE=${RATE:-50} DURATION_S=${DURATION_S:-30} KILLS=${KILLS:-2} ACCOUNTS=${ACCOUNTS:-50}
arm_watchdog 300
require_jar
for p in $SIM_PORT $GW_PORT; do port_free "$p" || { echo "FAIL drill=gateway-kill port $p busy"; exit 1; }; done

SIM_REQUEST_LOG="$WORK/served-raw.txt" start_sim "$SIM_PORT"
create_db "cg_drill_kill_$$"
write_config "$WORK/gw.yaml" "$GW_PORT" "$SIM_PORT" \
  "jdbc:postgresql://$PG_HOST:$PG_PORT/$DRILL_DB?user=$PG_USER" "" "$WORK/spool"
start_gateway "$WORK/gw.yaml" "$GW_PORT" "$WORK/gateway.log"
provision "$GW_PORT" acct "$ACCOUNTS" 1000000000000 "$WORK/keys.txt"
LOAD_START=$(loadavg)
python3 "$(dirname "$0")/track_client.py" --port "$GW_PORT" --keys "$WORK/keys.txt" --rate "$RATE" \
  --duration "$DURATION_S" --run "d3-$$" --out "$WORK/requests.txt" &
CLIENT=$!
PIDS+=("$CLIENT")
DOWN_MS=()
for k in $(seq 1 "$KILLS"); do
  sleep $((DURATION_S / (KILLS + 1) - 3))
  kill -KILL "$GW_PID"
  wait "$GW_PID" 2>/dev/null || true
  T0=$(date +%s%N)
  log "gateway killed (SIGKILL) #$k; restarting"
  start_gateway "$WORK/gw.yaml" "$GW_PORT" "$WORK/gateway.log"
  wait_http "http://127.0.0.1:$GW_PORT/health/ready" 60 || true
  DOWN_MS+=($((($(date +%s%N) - T0) / 1000000)))
  log "gateway ready again after ${DOWN_MS[-1]} ms"
done
wait "$CLIENT" || true

DRAIN_MS=-1
T0=$(date +%s%N)
for _ in $(seq 1 600); do
  if [ "$(metric "$GW_PORT" creditgate_ledger_spool_size)" -eq 0 ] \
      && [ "$(metric "$GW_PORT" creditgate_ledger_charges_queued)" -eq 0 ]; then
    DRAIN_MS=$((($(date +%s%N) - T0) / 1000000)); break
  fi
  sleep 0.1
done
LOAD_END=$(loadavg)
compare_usage "$SIM_PORT"
sql "SELECT coalesce(metadata::jsonb->>'idempotency_key', event_id) FROM entries WHERE kind = 'CHARGE'" \
  | sort > "$WORK/charged.txt"
sql "SELECT event_id FROM entries WHERE kind = 'CHARGE' AND metadata::jsonb ? 'recovered_estimate'" \
  | sort > "$WORK/recovered.txt"
sort -u "$WORK/served-raw.txt" > "$WORK/served.txt"
SERVED=$(wc -l < "$WORK/served.txt")
# Every call the simulator took on names a request of this run.
SERVED_UNNAMED=$(grep -cv "^d3-$$-" "$WORK/served.txt" || true)
# Served by the upstream and not charged: free calls.
FREE=$(comm -23 "$WORK/served.txt" "$WORK/charged.txt" | wc -l)
# Charged, never taken on by the upstream (admitted, killed before the call): recovered estimates.
comm -13 "$WORK/served.txt" "$WORK/charged.txt" > "$WORK/charged-not-served.txt"
CHARGED_NOT_SERVED=$(wc -l < "$WORK/charged-not-served.txt")
UNSERVED_NOT_ESTIMATE=$(comm -23 "$WORK/charged-not-served.txt" "$WORK/recovered.txt" | wc -l)
RECOVERED=$(wc -l < "$WORK/recovered.txt")
SENT=$(wc -l < "$WORK/requests.txt")
awk '$6 == 1 {print $2}' "$WORK/requests.txt" | sort > "$WORK/complete.txt"
awk '$3 == 1 && $5 == 1 && $6 == 0 {print $2}' "$WORK/requests.txt" | sort > "$WORK/done-not-complete.txt"
COMPLETE=$(wc -l < "$WORK/complete.txt")
LOST=$(comm -23 "$WORK/complete.txt" "$WORK/charged.txt" | wc -l)
TWICE=$(uniq -d "$WORK/charged.txt" | wc -l)
DONE_LOST=$(comm -23 "$WORK/done-not-complete.txt" "$WORK/charged.txt" | wc -l)
DONE_NOT_COMPLETE=$(wc -l < "$WORK/done-not-complete.txt")
# Charged but the client did not get the whole response (the gateway died after charging).
CHARGED_INCOMPLETE=$(comm -13 "$WORK/complete.txt" "$WORK/charged.txt" | wc -l)
FAILED=$((SENT - COMPLETE))
OK=1
[ "$LOST" -eq 0 ] && [ "$TWICE" -eq 0 ] && [ "$LED_DUP" -eq 0 ] && [ "$LED_DISTINCT" -eq "$LED_N" ] || OK=0
[ "$FREE" -eq 0 ] && [ "$SERVED_UNNAMED" -eq 0 ] && [ "$UNSERVED_NOT_ESTIMATE" -eq 0 ] || OK=0
[ "$SERVED" -gt 0 ] || OK=0
[ "$COMPLETE" -gt 0 ] && [ "$DRAIN_MS" -ge 0 ] || OK=0
echo "$([ $OK = 1 ] && echo PASS || echo FAIL) drill=gateway-kill rate=$RATE kills=$KILLS" \
  "down_ms=$(IFS=/; echo "${DOWN_MS[*]}") sent=$SENT complete=$COMPLETE not_complete=$FAILED" \
  "upstream_served=$SERVED served_not_charged=$FREE complete_not_charged=$LOST charged_twice=$TWICE dup_entries=$LED_DUP" \
  "in_flight_charged_estimate=$RECOVERED charged_not_served=$CHARGED_NOT_SERVED(not_estimate=$UNSERVED_NOT_ESTIMATE) served_unnamed=$SERVED_UNNAMED" \
  "charged_not_complete=$CHARGED_INCOMPLETE stream_done_seen_but_cut=$DONE_NOT_COMPLETE of_which_not_charged=$DONE_LOST" \
  "sim_usage_reports=$SIM_N ledger_charges=$LED_N prompt_tokens(sim/ledger)=$SIM_P/$LED_P" \
  "completion_tokens(sim/ledger)=$SIM_C/$LED_C spool_drain_ms=$DRAIN_MS" \
  "loadavg_start=\"$LOAD_START\" loadavg_end=\"$LOAD_END\""
