#!/usr/bin/env bash
# Runs the fault drills one after the other and prints their PASS/FAIL lines: the four of issue 7,
# then the fleet drill (two gateways on one PostgreSQL + Redis; always that backend).
# Each drill starts (and stops) its own simulator, gateway(s), and where needed its own
# redis-server, socat proxy and PostgreSQL database, on loopback ports 19410-19452
# (DRILL_PORT_BASE per drill).
# Needs: a JDK 21+, redis-server, socat, psql and the shared PostgreSQL (CREDITGATE-style trust auth
# at PG_HOST:PG_PORT, default 127.0.0.1:5432, user postgres), the shared Redis for the fleet drill
# (CREDITGATE_REDIS_URI, default redis://127.0.0.1:6379), python3, curl, jq.
# Exit status: 0 when every drill passed, 1 otherwise. About 6 minutes.
set -uo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$DIR/../.." && pwd)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && ./mvnw -q -pl creditgate-gateway,creditgate-bench -am package -DskipTests) || exit 1
  touch "$ROOT/creditgate-gateway/target/.creditgate-built"
fi
echo "# drills $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for drill in drill-redis-outage.sh drill-postgres-outage.sh drill-gateway-kill.sh drill-overspend.sh \
    drill-fleet.sh; do
  line=$("$DIR/$drill" 2>"/tmp/creditgate-$drill.log" | grep -E '^(PASS|FAIL)' | tail -1)
  [ -n "$line" ] || line="FAIL drill=${drill%.sh} produced no result line (log: /tmp/creditgate-$drill.log)"
  echo "$line"
  case $line in PASS*) ;; *) status=1 ;; esac
done
# The overspend drill once more in check mode, the plain credit guard's behaviour, for comparison.
line=$(CREDIT_MODE=check "$DIR/drill-overspend.sh" 2>/tmp/creditgate-drill-overspend-check.log \
  | grep -E '^(PASS|FAIL)' | tail -1)
[ -n "$line" ] || line="FAIL drill=overspend mode=check produced no result line"
echo "$line"
case $line in PASS*) ;; *) status=1 ;; esac
exit $status
