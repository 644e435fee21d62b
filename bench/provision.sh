# Sourced by the benchmark scripts: provisioning of a running gateway through its admin API.
#
#   provision_accounts PORT ADMIN_TOKEN PREFIX COUNT KEYS_FILE
#
# creates a catch-all price rule and COUNT accounts PREFIX-1..PREFIX-COUNT, each granted 10^12
# credits (idempotent per account) and given one user key, written one per line to KEYS_FILE.
provision_accounts() {
  local port=$1 token=$2 prefix=$3 count=$4 keys=$5
  local base="http://127.0.0.1:$port/admin/v1" i key
  local auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
  curl -fsS "${auth[@]}" -X POST "$base/price-rules" \
    -d '{"input_price":1,"output_price":2,"credits_per_unit":1000}' >/dev/null
  : > "$keys"
  for i in $(seq 1 "$count"); do
    curl -fsS "${auth[@]}" -X POST "$base/accounts" -d "{\"id\":\"$prefix-$i\"}" >/dev/null
    key=$(curl -fsS "${auth[@]}" -X POST "$base/keys" -d "{\"account_id\":\"$prefix-$i\"}" \
      | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
    [ -n "$key" ] || { echo "no key returned for $prefix-$i" >&2; return 1; }
    curl -fsS "${auth[@]}" -H "Idempotency-Key: $prefix-grant-$i" -X POST \
      "$base/accounts/$prefix-$i/grants" -d '{"amount":1000000000000}' >/dev/null
    echo "$key" >> "$keys"
  done
}
