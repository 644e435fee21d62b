# Turns run-load.sh's RESULT / SEARCH / MEMORY / PENDING / HOT / HOTCHECK lines into Markdown tables.
# Added latency is each target's percentile minus the direct target's at the same rate, same run
# (for a hot-account cell's load tools: at the cell's total rate). Strict minus check: each strict
# gateway target's percentile minus its check twin's at the same rate, same run.
function kv(line, key,    n, parts, i, pair) {
  n = split(line, parts, " ")
  for (i = 1; i <= n; i++) {
    split(parts[i], pair, "=")
    if (pair[1] == key) return substr(parts[i], length(key) + 2)
  }
  return ""
}
/^RESULT / {
  label = kv($0, "label"); rate = kv($0, "rate")
  if (label ~ /-streams$/) {
    s_n++; s_label[s_n] = substr(label, 1, length(label) - 8); s_line[s_n] = $0
    next
  }
  n++; lab[n] = label; rt[n] = rate; line[n] = $0
  q50[label "," rate] = kv($0, "p50_ms"); q99[label "," rate] = kv($0, "p99_ms"); q999[label "," rate] = kv($0, "p999_ms")
  if (label == "direct") {
    d50[rate] = kv($0, "p50_ms"); d99[rate] = kv($0, "p99_ms"); d999[rate] = kv($0, "p999_ms")
  }
  next
}
/^SEARCH / { m++; m_label[m] = kv($0, "label"); m_max[m] = kv($0, "max_sustainable")
  m_pct = kv($0, "percentile"); m_lim = kv($0, "limit_ms")
  m_cap[m] = kv($0, "capped"); if (m_label[m] == "nginx") nginx_max = m_max[m]; next }
/^MEMORY / { mem[kv($0, "label") "," kv($0, "cell")] = kv($0, "rss_kib"); labels_mem[kv($0, "label")] = 1; next }
/^PENDING / { p++; pending[p] = $0; next }
/^HOT / { hn++; hot[hn] = $0; next }
/^HOTCHECK / { hc++; hotcheck[hc] = substr($0, 10); next }
/^DB / { dbn++; dbl[dbn] = substr($0, 4); next }
/^GUARD / { g++; guard[g] = substr($0, 7); next }
/^LEDGER / { lg++; ledger[lg] = substr($0, 8); next }
/^# / { header[++h] = substr($0, 3) }
END {
  for (i = 1; i <= h; i++) print "- " header[i]
  print ""
  print "Latency in ms from each request's intended send time (open loop, HdrHistogram)."
  print "Added = target minus direct at the same rate in this run."
  print ""
  print "| target | rate req/s | achieved | errors | p50 | p99 | p99.9 | added p50 | added p99 | added p99.9 |"
  print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for (i = 1; i <= n; i++) {
    r = rt[i]; l = line[i]
    if (lab[i] == "direct" || !(r in d50)) { a50 = "-"; a99 = "-"; a999 = "-" }
    else {
      a50 = sprintf("%+.2f", kv(l, "p50_ms") - d50[r]); a99 = sprintf("%+.2f", kv(l, "p99_ms") - d99[r])
      a999 = sprintf("%+.2f", kv(l, "p999_ms") - d999[r])
    }
    printf "| %s | %s | %.1f | %s | %.2f | %.2f | %.2f | %s | %s | %s |\n", lab[i], r,
      kv(l, "achieved"), kv(l, "errors"), kv(l, "p50_ms"), kv(l, "p99_ms"), kv(l, "p999_ms"),
      a50, a99, a999
  }
  pairs = 0
  for (i = 1; i <= n; i++) {
    if (lab[i] !~ /-check$/) continue
    strict = substr(lab[i], 1, length(lab[i]) - 6); key = strict "," rt[i]
    if (!(key in q50)) continue
    if (pairs++ == 0) {
      print ""
      print "Strict minus check (same run; goal: at most +0.5 ms p50 and +2 ms p99):"
      print ""
      print "| target | rate req/s | strict p50 - check | p99 | p99.9 | goal |"
      print "| --- | ---: | ---: | ---: | ---: | --- |"
    }
    c = lab[i] "," rt[i]
    x50 = q50[key] - q50[c]; x99 = q99[key] - q99[c]; x999 = q999[key] - q999[c]
    printf "| %s | %s | %+.2f | %+.2f | %+.2f | %s |\n", strict, rt[i], x50, x99, x999,
      (x50 <= 0.5 && x99 <= 2) ? "met" : "not met"
  }
  if (hn > 0) {
    print ""
    print "Hot-account cells: one account through two gateways (A, B) on one PostgreSQL + Redis, each fed half of the total rate by its own load tool; added = minus direct at the total rate:"
    print ""
    print "| cell | total req/s | gateway | rate | achieved | errors | p50 | p99 | p99.9 | added p50 | added p99 | added p99.9 |"
    print "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= hn; i++) {
      l = hot[i]; r = kv(l, "total_rate")
      if (r in d50) {
        a50 = sprintf("%+.2f", kv(l, "p50_ms") - d50[r]); a99 = sprintf("%+.2f", kv(l, "p99_ms") - d99[r])
        a999 = sprintf("%+.2f", kv(l, "p999_ms") - d999[r])
      } else { a50 = "-"; a99 = "-"; a999 = "-" }
      printf "| %s | %s | %s | %s | %.1f | %s | %.2f | %.2f | %.2f | %s | %s | %s |\n", kv(l, "cell"), r,
        toupper(kv(l, "gen")), kv(l, "rate"), kv(l, "achieved"), kv(l, "errors"), kv(l, "p50_ms"),
        kv(l, "p99_ms"), kv(l, "p999_ms"), a50, a99, a999
    }
  }
  if (hc > 0) {
    print ""
    print "Hot-account ledger checks after each rate, cumulative from the cell's start (balance = grants - charges, one charge per 200, live leases sampled during the rate never above the balance):"
    print ""
    for (i = 1; i <= hc; i++) print "- " hotcheck[i]
  }
  if (m > 0) {
    print ""
    print "Highest sustainable rate (no errors, achieved >= 95% of target, p" m_pct " <= " m_lim " ms; a failed step is retried once):"
    print ""
    print "| target | highest sustainable req/s | ratio to nginx |"
    print "| --- | ---: | ---: |"
    for (i = 1; i <= m; i++) {
      ratio = (nginx_max > 0) ? sprintf("%.2f", m_max[i] / nginx_max) : "-"
      printf "| %s | %s%s | %s |\n", m_label[i], m_max[i], (m_cap[i] == "true" ? " (search cap)" : ""), ratio
    }
  }
  if (s_n > 0) {
    print ""
    print "Open streams: 20% of requests stream and each stays open about STREAM_SECONDS (paced simulator), so rate x 0.2 x seconds streams are open at once; stream latency is to [DONE]."
    print ""
    print "| target | rate req/s | achieved | errors | stream p50 | stream p99 | peak RSS MiB |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= s_n; i++) {
      l = s_line[i]
      printf "| %s | %s | %.1f | %s | %.2f | %.2f | %.1f |\n", s_label[i], kv(l, "rate"),
        kv(l, "achieved"), kv(l, "errors"), kv(l, "stream_p50_ms"), kv(l, "stream_p99_ms"),
        mem[s_label[i] ",open_streams"] / 1024
    }
  }
  print ""
  print "Resident memory (MiB, process tree; for direct it is the simulator's):"
  print ""
  print "| target | idle | peak during each rate | peak with open streams |"
  print "| --- | ---: | --- | ---: |"
  for (t in labels_mem) {
    during = ""
    for (key in mem) {
      split(key, kp, ",")
      if (kp[1] == t && kp[2] ~ /^rate_/) during = during sprintf("%s%s: %.1f", (during == "" ? "" : ", "), substr(kp[2], 6), mem[key] / 1024)
    }
    printf "| %s | %.1f | %s | %s |\n", t, mem[t ",idle"] / 1024, during,
      ((t ",open_streams") in mem) ? sprintf("%.1f", mem[t ",open_streams"] / 1024) : "-"
  }
  for (i = 1; i <= p; i++) {
    if (i == 1) print ""
    print "- " pending[i]
  }
  if (g > 0) {
    print ""
    print "Guard decisions of the gateway targets, cumulative after each cell (from /metrics; fail_open_* = admitted because the cache or store did not answer in time):"
    print ""
    for (i = 1; i <= g; i++) print "- " guard[i]
  }
  if (lg > 0) {
    print ""
    print "Write-behind ledger of the gateway targets, cumulative after each cell (wait_<what>_s: seconds requests spent waiting, summed; wait_<what>_n: requests; intent_sync = the call's intent fsync before its first byte, own_charges = the account's queued charges before the guard):"
    print ""
    for (i = 1; i <= lg; i++) print "- " ledger[i]
  }
  if (dbn > 0) {
    print ""
    print "PostgreSQL targets: transactions committed in the target's database, cumulative after each cell:"
    print ""
    for (i = 1; i <= dbn; i++) print "- " dbl[i]
  }
}
