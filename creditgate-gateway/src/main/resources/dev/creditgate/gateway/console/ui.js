// Small DOM helpers shared by the pages: element building, tables, confirmation, numbers.
const NUMBER = new Intl.NumberFormat('en-US');

export function fmt(n) {
  return n === undefined || n === null ? '' : NUMBER.format(n);
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// h('div', {class: 'x', onclick: f}, child, 'text', ...)
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function card(label, value, id) {
  return h('div', { class: 'card' },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value', id }, value));
}

export function field(label, input) {
  const id = input.id || 'f-' + Math.random().toString(36).slice(2);
  input.id = id;
  return h('div', {}, h('label', { for: id }, label), input);
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

// A table; columns: [{key, label, num, sortable, render(row)}]. Sorting is by the header buttons.
export function table(columns, rows, caption) {
  let sortKey = null;
  let ascending = true;
  const body = h('tbody');
  const fill = () => {
    body.replaceChildren();
    const sorted = [...rows];
    if (sortKey) {
      sorted.sort((a, b) => {
        const x = a[sortKey];
        const y = b[sortKey];
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return ascending ? c : -c;
      });
    }
    for (const r of sorted) {
      body.append(h('tr', {}, columns.map((c) =>
        h('td', { class: c.num ? 'num' : null }, c.render ? c.render(r) : fmtCell(r[c.key], c)))));
    }
    if (sorted.length === 0) {
      body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'Nothing to show.')));
    }
  };
  const head = h('tr', {}, columns.map((c) => {
    const th = h('th', { scope: 'col', class: c.num ? 'num' : null });
    if (c.sortable) {
      const b = h('button', { type: 'button' }, c.label);
      b.addEventListener('click', () => {
        ascending = sortKey === c.key ? !ascending : true;
        sortKey = c.key;
        head.querySelectorAll('th').forEach((t) => t.removeAttribute('aria-sort'));
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        fill();
      });
      th.append(b);
    } else {
      th.append(c.label);
    }
    return th;
  }));
  fill();
  // A region that may scroll sideways on a narrow screen: focusable, so the keyboard scrolls it.
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || columns.map((c) => c.label).join(', ') },
    h('table', {}, caption ? h('caption', { class: 'muted' }, caption) : null, h('thead', {}, head), body));
}

function fmtCell(v, c) {
  if (typeof v === 'number') return fmt(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return v === undefined || v === null ? '' : c && c.time ? time(v) : String(v);
}

// Asks before a change; resolves true when confirmed.
export function confirmAction(title, text, okLabel = 'Confirm') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

// What a change wrote, shown where the change was asked for.
export function resultBox(title, entry) {
  return h('div', { class: 'notice', role: 'status' },
    h('strong', {}, title), ' ',
    entry && entry.object === 'ledger_entry'
      ? `entry ${entry.id}: ${entry.kind} ${fmt(entry.amount)} credits, balance after ${fmt(entry.balance_after)}, by ${entry.actor}`
      : '');
}
