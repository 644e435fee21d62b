# Summarises several bench/run-load.sh runs (their raw.txt files, in the order given) of the
# strict/check targets: per run and as the median over the runs, each target's latency added over
# direct (same run, same rate), strict minus check per pair, and the hot-account cells with their
# ledger checks. Used by bench/strict-vs-check.sh.
function kv(line, key,    n, parts, i, pair) {
  n = split(line, parts, " ")
  for (i = 1; i <= n; i++) {
    split(parts[i], pair, "=")
    if (pair[1] == key) return substr(parts[i], length(key) + 2)
  }
  return ""
}
# Median of a space-separated list of numbers ("-" when empty).
function median(list,    v, n, i, j, t) {
  n = split(list, v, " ")
  if (n == 0) return "-"
  for (i = 1; i <= n; i++) v[i] += 0
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(arr, key, value) { arr[key] = (key in arr) ? arr[key] " " value : value }
function signed(list,    v, n, i, out) {
  n = split(list, v, " "); out = ""
  for (i = 1; i <= n; i++) out = out (i > 1 ? " / " : "") sprintf("%+.2f", v[i])
  return out
}
function remember(order_list, seen, key) { if (!(key in seen)) { seen[key] = 1; order_list[++order_list[0]] = key } }
FNR == 1 { run++ }
/^# run-load.sh / { started[run] = $3 }
/^# code: / { code[run] = substr($0, 9) }
/^# TARGETS=/ { order[run] = kv($0, "ORDER") }
/^# load average at start: / { la_start[run] = $6 " " $7 " " $8; sub(/;$/, "", la_start[run]) }
/^# load average at end: / { la_end[run] = $6 " " $7 " " $8 }
/^RESULT / {
  label = kv($0, "label"); rate = kv($0, "rate")
  if (label ~ /-streams$/) next
  k = label "," rate
  p50[run, k] = kv($0, "p50_ms"); p99[run, k] = kv($0, "p99_ms"); p999[run, k] = kv($0, "p999_ms")
  err[k] += kv($0, "errors")
  remember(targets, tseen, k)
  next
}
/^HOT / {
  k = kv($0, "cell") "," kv($0, "total_rate") "," kv($0, "gen")
  h50[run, k] = kv($0, "p50_ms"); h99[run, k] = kv($0, "p99_ms"); h999[run, k] = kv($0, "p999_ms")
  herr[k] += kv($0, "errors")
  ach = kv($0, "achieved") / kv($0, "rate")
  if (!(k in hach) || ach < hach[k]) hach[k] = ach
  remember(hots, hseen, k)
  next
}
/^HOTCHECK / {
  k = kv($0, "cell") "," kv($0, "total_rate")
  ok = (kv($0, "balance_consistent") == "yes" && kv($0, "charged_once") == "yes" \
    && kv($0, "leases_within_balance") == "yes")
  add(checks, k, ok ? "pass" : "FAIL")
  add(leased, k, kv($0, "max_leased") "/" kv($0, "max_lease_rows") "/" kv($0, "samples"))
  if (!ok) failed++
  remember(hotchecks, cseen, k)
}
END {
  print "Runs:"
  print ""
  print "| run | started (UTC) | order | code | load average at start | at end |"
  print "| ---: | --- | --- | --- | --- | --- |"
  for (r = 1; r <= run; r++)
    printf "| %d | %s | %s | %s | %s | %s |\n", r, started[r], order[r], code[r], la_start[r], la_end[r]
  print ""
  print "Added over direct (ms; same run, same rate), per run and the median:"
  print ""
  print "| target | rate | errors | added p50 (runs) | added p99 (runs) | added p99.9 (runs) | median p50 / p99 / p99.9 |"
  print "| --- | ---: | ---: | --- | --- | --- | --- |"
  for (i = 1; i <= targets[0]; i++) {
    k = targets[i]; split(k, kr, ",")
    if (kr[1] == "direct") continue
    l50 = ""; l99 = ""; l999 = ""
    for (r = 1; r <= run; r++) {
      d = "direct," kr[2]
      if (!((r, k) in p50) || !((r, d) in p50)) continue
      l50 = l50 " " (p50[r, k] - p50[r, d]); l99 = l99 " " (p99[r, k] - p99[r, d])
      l999 = l999 " " (p999[r, k] - p999[r, d])
      a50[k] = l50; a99[k] = l99; a999[k] = l999
    }
    if (l50 == "") continue
    printf "| %s | %s | %d | %s | %s | %s | %+.2f / %+.2f / %+.2f |\n", kr[1], kr[2], err[k],
      signed(l50), signed(l99), signed(l999), median(l50), median(l99), median(l999)
  }
  print ""
  print "Strict minus check (ms; same run, same rate), per run and the median; goal: median at most +0.5 p50 and +2 p99:"
  print ""
  print "| pair | rate | p50 (runs) | p99 (runs) | p99.9 (runs) | median p50 / p99 / p99.9 | goal |"
  print "| --- | ---: | --- | --- | --- | --- | --- |"
  for (i = 1; i <= targets[0]; i++) {
    k = targets[i]; split(k, kr, ",")
    if (kr[1] !~ /-check$/) continue
    s = substr(kr[1], 1, length(kr[1]) - 6) "," kr[2]
    l50 = ""; l99 = ""; l999 = ""
    for (r = 1; r <= run; r++) {
      if (!((r, k) in p50) || !((r, s) in p50)) continue
      l50 = l50 " " (p50[r, s] - p50[r, k]); l99 = l99 " " (p99[r, s] - p99[r, k])
      l999 = l999 " " (p999[r, s] - p999[r, k])
    }
    if (l50 == "") continue
    m50 = median(l50); m99 = median(l99)
    printf "| %s | %s | %s | %s | %s | %+.2f / %+.2f / %+.2f | %s |\n", substr(kr[1], 1, length(kr[1]) - 6),
      kr[2], signed(l50), signed(l99), signed(l999), m50, m99, median(l999),
      (m50 <= 0.5 && m99 <= 2) ? "met" : "**not met**"
  }
  if (hots[0] > 0) {
    print ""
    print "Hot-account cells (ms; each gateway's load tool at half the total rate), per run and the median; added = minus direct at the total rate:"
    print ""
    print "| cell | total req/s | gateway | errors | lowest achieved/offered | p50 (runs) | p99 (runs) | p99.9 (runs) | median p50 / p99 / p99.9 | median added p50 / p99 / p99.9 |"
    print "| --- | ---: | --- | ---: | ---: | --- | --- | --- | --- | --- |"
    for (i = 1; i <= hots[0]; i++) {
      k = hots[i]; split(k, kr, ",")
      l50 = ""; l99 = ""; l999 = ""; x50 = ""; x99 = ""; x999 = ""
      for (r = 1; r <= run; r++) {
        if (!((r, k) in h50)) continue
        l50 = l50 " " sprintf("%.2f", h50[r, k]); l99 = l99 " " sprintf("%.2f", h99[r, k])
        l999 = l999 " " sprintf("%.2f", h999[r, k])
        d = "direct," kr[2]
        if ((r, d) in p50) {
          x50 = x50 " " (h50[r, k] - p50[r, d]); x99 = x99 " " (h99[r, k] - p99[r, d])
          x999 = x999 " " (h999[r, k] - p999[r, d])
        }
      }
      gsub(/^ /, "", l50); gsub(/^ /, "", l99); gsub(/^ /, "", l999)
      t50 = l50; t99 = l99; t999 = l999
      gsub(/ /, " / ", t50); gsub(/ /, " / ", t99); gsub(/ /, " / ", t999)
      printf "| %s | %s | %s | %d | %.3f | %s | %s | %s | %.2f / %.2f / %.2f | %s |\n", kr[1], kr[2],
        toupper(kr[3]), herr[k], hach[k], t50, t99, t999, median(l50), median(l99), median(l999),
        (x50 == "") ? "-" : sprintf("%+.2f / %+.2f / %+.2f", median(x50), median(x99), median(x999))
    }
  }
  if (hotchecks[0] > 0) {
    print ""
    print "Hot-account ledger checks per run (balance = grants - charges, one charge per 200, live leases never above the balance; max leased credits / max live lease rows / samples):"
    print ""
    print "| cell | total req/s | checks (runs) | leases (runs) |"
    print "| --- | ---: | --- | --- |"
    for (i = 1; i <= hotchecks[0]; i++) {
      k = hotchecks[i]; split(k, kr, ",")
      printf "| %s | %s | %s | %s |\n", kr[1], kr[2], checks[k], leased[k]
    }
    print ""
    print (failed ? "**" failed " ledger check(s) FAILED**" : "Every ledger check passed.")
  }
}
