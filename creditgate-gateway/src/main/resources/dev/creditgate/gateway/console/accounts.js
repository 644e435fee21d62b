// Accounts: find one by id, open one, and a sortable list paged as the admin API pages it.
import { api, ApiError, canChange, query } from './api.js';
import { errorBox, field, fmt, h, table } from './ui.js';

const PAGE = 50;

export async function accounts(main) {
  main.append(h('h1', {}, 'Accounts'));
  const findInput = h('input', { id: 'account-search', name: 'account', required: true, autocomplete: 'off', spellcheck: 'false' });
  const findError = h('div', {});
  const find = h('form', { class: 'panel row', role: 'search' },
    field('Account id', findInput), h('button', { type: 'submit', class: 'primary', id: 'account-search-go' }, 'Open'), findError);
  find.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = findInput.value.trim();
    try {
      await api('GET', '/accounts/' + encodeURIComponent(id));
      window.location.hash = '#/accounts/' + encodeURIComponent(id);
    } catch (e) {
      findError.replaceChildren(errorBox(e instanceof ApiError && e.status === 404 ? `No account '${id}'.` : e));
    }
  });
  main.append(find);
  if (canChange) main.append(openForm());
  const list = h('div', { id: 'account-list' });
  const pager = h('div', { class: 'pager' });
  main.append(h('h2', {}, 'All accounts'), list, pager);
  const cursors = [null];
  const load = async (i) => {
    let page;
    try {
      page = await api('GET', '/accounts' + query({ limit: PAGE, cursor: cursors[i] }));
    } catch (e) {
      list.replaceChildren(errorBox(e));
      return;
    }
    // Spent this month (UTC), from each account's spend series: one indexed read per account.
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    await Promise.all(page.data.map(async (a) => {
      try {
        const s = await api('GET', '/accounts/' + encodeURIComponent(a.id) + '/spend' +
          query({ bucket: 'day', from: monthStart.toISOString(), to: now.toISOString() }));
        a.spent_month = s.data.reduce((t, d) => t + d.credits, 0);
      } catch (e) {
        a.spent_month = null;
      }
    }));
    list.replaceChildren(table([
      { key: 'id', label: 'Account', sortable: true, render: (a) => h('a', { href: '#/accounts/' + encodeURIComponent(a.id) }, a.id) },
      { key: 'available', label: 'Available', num: true, sortable: true },
      { key: 'held', label: 'Held', num: true, sortable: true },
      { key: 'spent_month', label: 'Spent this month', num: true, sortable: true, render: (a) => a.spent_month === null ? '?' : fmt(a.spent_month) },
      { key: 'consumed', label: 'Spent (all time)', num: true, sortable: true },
      { key: 'granted', label: 'Granted', num: true, sortable: true },
      { key: 'blocked', label: 'Blocked', sortable: true, render: (a) => a.blocked ? h('span', { class: 'badge bad' }, 'blocked') : '' },
    ], page.data, `Page ${i + 1}, ${fmt(page.data.length)} accounts`));
    pager.replaceChildren();
    if (i > 0) pager.append(h('button', { type: 'button', onclick: () => load(i - 1) }, 'Previous page'));
    if (page.next_cursor) {
      cursors[i + 1] = page.next_cursor;
      pager.append(h('button', { type: 'button', id: 'accounts-next', onclick: () => load(i + 1) }, 'Next page'));
    }
  };
  await load(0);
  return null;
}

function openForm() {
  const id = h('input', { id: 'open-account-id', required: true, autocomplete: 'off', spellcheck: 'false' });
  const out = h('div', {});
  const form = h('form', { class: 'panel row' }, field('Open an account with id', id),
    h('button', { type: 'submit' }, 'Open account'), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const a = await api('POST', '/accounts', { id: id.value.trim() });
      window.location.hash = '#/accounts/' + encodeURIComponent(a.id);
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  });
  return form;
}
