#!/usr/bin/env bash
# Drill 4: overspend. One account with 100 credits; CALLS (50) concurrent non-streaming calls,
# each priced at exactly 20 credits (max_tokens 8 -> the simulator reports 8 completion tokens;
# price rule: output 2,500,000 micro-units per 1,000 tokens, input 0, 1,000 credits per unit -> 20
# credits), so the account affords 5. Reports how many were admitted (200) and refused (402), the
# final balance and the overspend.
# CREDIT_MODE=strict (default, the gateway's default): each call's worst case (20 credits) is held
# before it runs; PASS when at most 5 were admitted, the final balance is >= 0 and the figures
# agree (admitted x 20 = consumed, balance = 100 - consumed, every call answered 200 or 402).
# CREDIT_MODE=check: a positive balance admits and concurrent calls all see the same positive
# snapshot; PASS when the figures agree (the overspend is the measured figure, not a criterion).
# BACKEND=sqlite (default) or postgres-redis.
DRILL=overspend
source "$(dirname "$0")/lib.sh"
BASE=${DRILL_PORT_BASE:-19440}
SIM_PORT=$BASE GW_PORT=$((BASE + 1))
CALLS=${CALLS:-50} BACKEND=${BACKEND:-sqlite}
export CREDIT_MODE=${CREDIT_MODE:-strict}
arm_watchdog 240
require_jar
for p in $SIM_PORT $GW_PORT; do port_free "$p" || { echo "FAIL drill=overspend port $p busy"; exit 1; }; done

start_sim "$SIM_PORT"
if [ "$BACKEND" = postgres-redis ]; then
  create_db "cg_drill_over_$$"
  write_config "$WORK/gw.yaml" "$GW_PORT" "$SIM_PORT" \
    "jdbc:postgresql://$PG_HOST:$PG_PORT/$DRILL_DB?user=$PG_USER" "${CREDITGATE_REDIS_URI:-redis://127.0.0.1:6379}" \
    "$WORK/spool"
else
  write_config "$WORK/gw.yaml" "$GW_PORT" "$SIM_PORT" "jdbc:sqlite:$WORK/ledger.db" "" "$WORK/spool"
fi
start_gateway "$WORK/gw.yaml" "$GW_PORT" "$WORK/gateway.log"
admin "$GW_PORT" POST /price-rules '{"provider":"simulator","model":"sim-pro","input_price":0,"output_price":2500000,"credits_per_unit":1000,"priority":100}' >/dev/null
provision "$GW_PORT" over 1 100 "$WORK/keys.txt"
KEY=$(head -1 "$WORK/keys.txt")
# One call that is not part of the measurement would spend credit; instead, prove the price with
# the rule's arithmetic on the simulator's usage: 8 completion tokens x 2,500,000 / 1,000 = 20,000
# micro-units x 1,000 / 1,000,000 = 20 credits (checked below from the ledger's entries).
BODY='{"model":"pro","max_tokens":8,"messages":[{"role":"user","content":"overspend drill"}]}'
# All CALLS requests wait on one barrier file, then fire together.
for i in $(seq 1 "$CALLS"); do
  (
    while [ ! -f "$WORK/go" ]; do sleep 0.01; done
    curl -sS -o /dev/null -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $KEY" \
      -H 'Content-Type: application/json' -d "$BODY" "http://127.0.0.1:$GW_PORT/v1/chat/completions" \
      >> "$WORK/codes.txt" 2>/dev/null || echo "curl_error" >> "$WORK/codes.txt"
  ) &
  PIDS+=("$!")
done
sleep 1
touch "$WORK/go"
for _ in $(seq 1 300); do
  [ "$(cat "$WORK/codes.txt" 2>/dev/null | grep -c .)" -ge "$CALLS" ] && break
  sleep 0.1
done
ADMITTED=$(grep -c '^200$' "$WORK/codes.txt" || true)
REFUSED=$(grep -c '^402$' "$WORK/codes.txt" || true)
OTHER=$((CALLS - ADMITTED - REFUSED))
ACCOUNT=$(admin "$GW_PORT" GET /accounts/over-1)
BALANCE=$(jq -r .balance <<< "$ACCOUNT")
CONSUMED=$(jq -r .consumed <<< "$ACCOUNT")
CHARGES=$(admin "$GW_PORT" GET "/accounts/over-1/entries?limit=200" | jq '[.data[] | select(.kind == "charge")]')
N_CHARGES=$(jq length <<< "$CHARGES")
PER_CALL=$(jq -r '[.[].amount | if . < 0 then -. else . end] | unique | map(tostring) | join(",")' <<< "$CHARGES")
OVERSPEND=$(( BALANCE < 0 ? -BALANCE : 0 ))
OK=1
[ "$OTHER" -eq 0 ] && [ "$N_CHARGES" -eq "$ADMITTED" ] && [ "$CONSUMED" -eq $((ADMITTED * 20)) ] || OK=0
[ "$BALANCE" -eq $((100 - CONSUMED)) ] || OK=0
if [ "$CREDIT_MODE" = strict ]; then
  [ "$ADMITTED" -le 5 ] && [ "$BALANCE" -ge 0 ] || OK=0
fi
echo "$([ $OK = 1 ] && echo PASS || echo FAIL) drill=overspend mode=$CREDIT_MODE backend=$BACKEND calls=$CALLS" \
  "admitted=$ADMITTED refused_402=$REFUSED other=$OTHER credits_per_call=$PER_CALL consumed=$CONSUMED" \
  "final_balance=$BALANCE overspend_credits=$OVERSPEND (a 100-credit account can afford 5 calls)" \
  "loadavg=\"$(loadavg)\""
