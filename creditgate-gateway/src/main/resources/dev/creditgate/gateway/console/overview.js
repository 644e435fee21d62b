// Overview: this gateway's traffic, admissions and charges per minute over the last hour, open
// holds, the spool and readiness, refreshed every few seconds.
import { api } from './api.js';
import { card, errorBox, fmt, h, table } from './ui.js';
import { timeChart } from './charts.js';

const REFRESH_MS = 5000;

export async function overview(main) {
  main.append(h('h1', {}, 'Overview'),
    h('p', { class: 'muted' }, 'This gateway process, last 60 minutes; refreshes every 5 seconds.'));
  const cards = h('div', { class: 'cards', id: 'overview-cards' });
  const traffic = h('div', { class: 'chart', id: 'chart-traffic' });
  const credits = h('div', { class: 'chart', id: 'chart-credits' });
  const denials = h('div', {});
  const ready = h('div', {});
  const error = h('div', {});
  main.append(error, cards, h('h2', {}, 'Calls per minute'), traffic,
    h('h2', {}, 'Credits charged per minute'), credits, h('h2', {}, 'Denied by reason'), denials,
    h('h2', {}, 'Readiness'), ready);
  let charts = [];
  const draw = async () => {
    let o;
    try {
      o = await api('GET', '/overview');
      error.replaceChildren();
    } catch (e) {
      error.replaceChildren(errorBox(e));
      return;
    }
    const minutes = o.minutes || [];
    const last = minutes.length > 1 ? minutes[minutes.length - 2] : minutes[minutes.length - 1] || {};
    const sum = (k) => minutes.reduce((s, m) => s + (m[k] || 0), 0);
    const deniedTotal = (m) => Object.values(m.denied || {}).reduce((s, n) => s + n, 0);
    cards.replaceChildren(
      card('Requests/s (last full minute)', ((last.requests || 0) / 60).toFixed(1), 'ov-rps'),
      card('Admitted (hour)', fmt(sum('admitted')), 'ov-admitted'),
      card('Denied (hour)', fmt(minutes.reduce((s, m) => s + deniedTotal(m), 0)), 'ov-denied'),
      card('Credits charged (hour)', fmt(sum('credits_charged')), 'ov-credits'),
      card('Open holds', fmt(o.open_holds ? o.open_holds.count : 0), 'ov-holds'),
      card('Held credits', fmt(o.open_holds ? o.open_holds.credits : 0), 'ov-held'),
      card('Spool', fmt(o.spool ? o.spool.records : 0) + ' records', 'ov-spool'),
      card('Charges queued', fmt(o.queued_charges || 0), 'ov-queued'),
      card('Failed open (hour)', fmt(sum('failed_open')), 'ov-failed-open'));
    const times = minutes.map((m) => Date.parse(m.start) / 1000);
    charts.forEach((c) => c.destroy());
    charts = [
      timeChart(traffic, '', times, [
        { label: 'admitted', values: minutes.map((m) => m.admitted || 0) },
        { label: 'denied', values: minutes.map(deniedTotal) },
        { label: 'upstream errors', values: minutes.map((m) => m.upstream_errors || 0) },
      ]),
      timeChart(credits, '', times, [
        { label: 'credits', values: minutes.map((m) => m.credits_charged || 0) },
      ], { fill: true }),
    ];
    const reasons = {};
    minutes.forEach((m) => Object.entries(m.denied || {}).forEach(([r, n]) => { reasons[r] = (reasons[r] || 0) + n; }));
    denials.replaceChildren(table(
      [{ key: 'reason', label: 'Reason', sortable: true }, { key: 'count', label: 'Denied (hour)', num: true, sortable: true }],
      Object.entries(reasons).map(([reason, count]) => ({ reason, count })), 'Denied calls by reason, last hour'));
    ready.replaceChildren(readiness(o.readiness || {}));
  };
  await draw();
  const timer = window.setInterval(draw, REFRESH_MS);
  return () => {
    window.clearInterval(timer);
    charts.forEach((c) => c.destroy());
  };
}

// Rows of the readiness table: the gateway, its ledger and cache, and each alias's upstreams.
function readiness(r) {
  const rows = [
    { name: 'gateway', state: r.status || 'unknown', detail: '' },
    { name: 'ledger', state: r.ledger || 'unknown', detail: '' },
    { name: 'cache', state: r.cache || 'unknown', detail: '' },
  ];
  for (const a of r.aliases || []) {
    for (const u of a.upstreams || []) {
      rows.push({
        name: `${a.alias}: ${u.name}`,
        state: u.ready ? 'ready' : 'not ready',
        detail: [u.breaker && u.breaker !== 'none' ? `breaker ${u.breaker.replace('_', '-')}` : '', u.problem || ''].filter(Boolean).join('; '),
      });
    }
  }
  return table([
    { key: 'name', label: 'Part', sortable: true },
    { key: 'state', label: 'State', sortable: true, render: (x) => h('span', { class: 'badge ' + (/^(up|ready)$/.test(x.state) ? 'good' : 'bad') }, x.state) },
    { key: 'detail', label: 'Detail' },
  ], rows, 'Readiness');
}
