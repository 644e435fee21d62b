// One account: its credit, a chart of its spend, actions (grant, block, keys, holds) and entries.
import { api, ApiError, canChange, query } from './api.js';
import { card, confirmAction, errorBox, field, fmt, h, resultBox, table, time } from './ui.js';
import { pivot, timeChart } from './charts.js';

const ENTRY_PAGE = 20;
const RANGES = {
  '24h': { hours: 24, bucket: 'hour', label: 'Last 24 hours, per hour' },
  '7d': { hours: 24 * 7, bucket: 'hour', label: 'Last 7 days, per hour' },
  '30d': { hours: 24 * 30, bucket: 'day', label: 'Last 30 days, per day' },
};

export async function account(main, id) {
  const path = '/accounts/' + encodeURIComponent(id);
  let a;
  try {
    a = await api('GET', path);
  } catch (e) {
    main.append(h('h1', {}, 'Account ' + id),
      errorBox(e instanceof ApiError && e.status === 404 ? `No account '${id}'.` : e));
    return null;
  }
  const status = h('span', { id: 'account-status' });
  const cards = h('div', { class: 'cards' });
  const result = h('div', { id: 'action-result' });
  const chart = h('div', { class: 'chart', id: 'chart-spend' });
  const holds = h('div', { id: 'holds' });
  const keys = h('div', { id: 'keys' });
  const entries = h('div', { id: 'entries' });
  const charts = [];

  const refresh = async () => {
    a = await api('GET', path);
    status.replaceChildren(a.blocked ? h('span', { class: 'badge bad' }, 'blocked') : h('span', { class: 'badge good' }, 'active'));
    cards.replaceChildren(
      card('Available', fmt(a.available), 'acct-available'),
      card('Held', fmt(a.held), 'acct-held'),
      card('Balance', fmt(a.balance), 'acct-balance'),
      card('Granted', fmt(a.granted), 'acct-granted'),
      card('Spent (all time)', fmt(a.consumed), 'acct-consumed'));
    if (blockButton) {
      blockButton.textContent = a.blocked ? 'Unblock' : 'Block';
      blockButton.className = a.blocked ? '' : 'danger';
    }
  };

  // Actions
  const act = async (title, text, okLabel, change, after) => {
    if (!(await confirmAction(title, text, okLabel))) return;
    try {
      const r = await change();
      result.replaceChildren(after(r));
      await Promise.all([refresh(), loadHolds(), loadKeys(), loadEntries(0), loadChart()]);
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  };
  let blockButton = null;
  const actions = h('div', {});
  if (canChange) {
    const amount = h('input', { id: 'grant-amount', type: 'number', min: '1', step: '1', required: true, inputmode: 'numeric' });
    const reason = h('input', { id: 'grant-reason', maxlength: '200' });
    let idempotencyKey = 'console-grant-' + crypto.randomUUID();
    const grant = h('form', { class: 'panel row', id: 'grant-form' },
      field('Grant credits', amount), field('Reason', reason),
      h('button', { type: 'submit', class: 'primary', id: 'grant-submit' }, 'Grant'));
    grant.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const n = Number(amount.value);
      act('Grant credits', `Grant ${fmt(n)} credits to ${id}?`, 'Grant',
        () => api('POST', path + '/grants', { amount: n, reason: reason.value }, { 'Idempotency-Key': idempotencyKey }),
        (e) => {
          idempotencyKey = 'console-grant-' + crypto.randomUUID();
          amount.value = '';
          return resultBox('Granted.', e);
        });
    });
    const blockReason = h('input', { id: 'block-reason', maxlength: '200' });
    blockButton = h('button', { type: 'submit', id: 'block-toggle' }, 'Block');
    const block = h('form', { class: 'panel row', id: 'block-form' }, field('Reason for block / unblock', blockReason), blockButton);
    block.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const verb = a.blocked ? 'unblock' : 'block';
      act(a.blocked ? 'Unblock account' : 'Block account',
        a.blocked ? `Unblock ${id}? Its calls will be admitted again.` : `Block ${id}? Its calls will be refused.`,
        a.blocked ? 'Unblock' : 'Block',
        () => api('POST', path + '/' + verb, { reason: blockReason.value }),
        (e) => resultBox(verb === 'block' ? 'Blocked.' : 'Unblocked.', e));
    });
    actions.append(grant, block);
  }

  // Spend chart
  const range = h('select', { id: 'spend-range' },
    Object.entries(RANGES).map(([k, r]) => h('option', { value: k }, r.label)));
  const loadChart = async () => {
    const r = RANGES[range.value];
    const to = new Date();
    const from = new Date(to.getTime() - r.hours * 3600 * 1000);
    charts.forEach((c) => c.destroy());
    charts.length = 0;
    try {
      const s = await api('GET', '/spend' + query({ account_id: id, from: from.toISOString(), to: to.toISOString(), bucket: r.bucket, group_by: 'alias' }));
      const p = pivot(s.data, 'alias', 'credits', from, to, r.bucket === 'day' ? 86400 : 3600);
      const total = s.data.reduce((t, d) => t + d.credits, 0);
      if (p.series.length === 0) {
        chart.replaceChildren(h('p', { class: 'muted', id: 'spend-total' }, 'No spend in this range.'));
      } else {
        charts.push(timeChart(chart, `Credits spent by alias: ${fmt(total)} in total`, p.times, p.series, { bars: true }));
        chart.append(h('p', { class: 'muted', id: 'spend-total' }, `${fmt(total)} credits in this range`));
      }
    } catch (e) {
      chart.replaceChildren(errorBox(e));
    }
  };
  range.addEventListener('change', loadChart);

  // Holds
  const loadHolds = async () => {
    const l = await api('GET', path + '/holds');
    holds.replaceChildren(table([
      { key: 'event_id', label: 'Event', sortable: true },
      { key: 'credits', label: 'Credits', num: true, sortable: true },
      { key: 'deadline', label: 'Deadline', time: true, sortable: true },
      canChange ? { key: 'release', label: 'Action', render: (x) => h('button', { type: 'button', onclick: () =>
        act('Release hold', `Release the hold of ${fmt(x.credits)} credits for ${x.event_id}? Its call stays unpaid if it has not settled.`, 'Release',
          () => api('DELETE', path + '/holds/' + encodeURIComponent(x.event_id)), () => resultBox('Hold released.', null)) }, 'Release') } : null,
    ].filter(Boolean), l.data));
  };

  // Keys
  const loadKeys = async () => {
    const l = await api('GET', '/keys' + query({ account_id: id }));
    keys.replaceChildren(table([
      { key: 'prefix', label: 'Key', sortable: true },
      { key: 'label', label: 'Label', sortable: true },
      { key: 'created_at', label: 'Created', time: true, sortable: true, render: (k) => time(k.created_at) },
      { key: 'revoked_at', label: 'Revoked', render: (k) => k.revoked_at ? time(k.revoked_at) : '' },
      canChange ? { key: 'revoke', label: 'Action', render: (k) => k.revoked_at ? '' : h('button', { type: 'button', class: 'danger', 'data-key': k.id, onclick: () =>
        act('Revoke key', `Revoke key ${k.prefix}…? Calls with it will be refused at once.`, 'Revoke',
          () => api('POST', '/keys/' + encodeURIComponent(k.id) + '/revoke'), () => resultBox(`Key ${k.prefix}… revoked.`, null)) }, 'Revoke') } : null,
    ].filter(Boolean), l.data));
  };
  const keyForm = () => {
    const label = h('input', { id: 'key-label', maxlength: '100' });
    const form = h('form', { class: 'panel row', id: 'key-form' }, field('New key label', label),
      h('button', { type: 'submit', id: 'key-create' }, 'Create key'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act('Create key', `Create a user key for ${id}?`, 'Create',
        () => api('POST', '/keys', { kind: 'user', account_id: id, label: label.value }),
        (k) => secretBox(k.key));
    });
    return form;
  };

  // Entries
  const cursors = [null];
  const loadEntries = async (i) => {
    const p = await api('GET', path + '/entries' + query({ limit: ENTRY_PAGE, cursor: cursors[i] }));
    const pager = h('div', { class: 'pager' });
    if (i > 0) pager.append(h('button', { type: 'button', onclick: () => loadEntries(i - 1) }, 'Newer'));
    if (p.next_cursor) {
      cursors[i + 1] = p.next_cursor;
      pager.append(h('button', { type: 'button', id: 'entries-older', onclick: () => loadEntries(i + 1) }, 'Older'));
    }
    entries.replaceChildren(table([
      { key: 'created_at', label: 'Time', render: (e) => time(e.created_at) },
      { key: 'kind', label: 'Kind' },
      { key: 'amount', label: 'Credits', num: true },
      { key: 'balance_after', label: 'Balance after', num: true },
      { key: 'model', label: 'Model' },
      { key: 'tokens', label: 'Tokens in / out', num: true, render: (e) => e.kind === 'charge' ? `${fmt(e.usage.input_tokens)} / ${fmt(e.usage.output_tokens)}` : '' },
      { key: 'actor', label: 'By' },
      { key: 'reason', label: 'Reason' },
    ], p.data, `Entries, newest first (page ${i + 1})`), pager);
  };

  main.append(h('h1', {}, 'Account ', h('span', { id: 'account-id' }, id), ' ', status), cards, result, actions,
    h('h2', {}, 'Spend'), field('Range', range), chart,
    h('h2', {}, 'Open holds in this gateway'), holds,
    h('h2', {}, 'Keys'), canChange ? keyForm() : null, keys,
    h('h2', {}, 'Entries'), entries);
  await refresh();
  await Promise.all([loadChart(), loadHolds(), loadKeys(), loadEntries(0)]);
  return () => charts.forEach((c) => c.destroy());
}

function secretBox(secret) {
  const copy = h('button', { type: 'button', id: 'copy-secret' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = 'Copied';
    } catch (e) {
      copy.textContent = 'Select and copy by hand';
    }
  });
  return h('div', { class: 'notice', role: 'status' },
    h('p', {}, h('strong', {}, 'Key created. '), 'This is the only time its secret is shown:'),
    h('p', { class: 'secret', id: 'new-secret' }, secret), copy);
}

export { secretBox };
