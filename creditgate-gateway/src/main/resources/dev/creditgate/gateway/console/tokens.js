// Admin tokens: the named tokens operators and viewers sign in with; created (the secret shown
// once) and revoked here.
import { api, canChange } from './api.js';
import { confirmAction, errorBox, field, h, table, time } from './ui.js';
import { secretBox } from './account.js';

export async function adminTokens(main) {
  main.append(h('h1', {}, 'Admin tokens'),
    h('p', { class: 'muted' }, 'A viewer reads; an operator also changes. Every change records the token\'s name as its actor.'));
  const result = h('div', { id: 'token-result' });
  const list = h('div', { id: 'token-list' });
  main.append(result);
  const load = async () => {
    const l = await api('GET', '/admin-tokens');
    list.replaceChildren(table([
      { key: 'name', label: 'Name', sortable: true },
      { key: 'role', label: 'Role', sortable: true },
      { key: 'prefix', label: 'Token' },
      { key: 'created_at', label: 'Created', render: (t) => time(t.created_at) },
      { key: 'revoked_at', label: 'Revoked', render: (t) => t.revoked_at ? time(t.revoked_at) : '' },
      canChange ? { key: 'revoke', label: 'Action', render: (t) => t.revoked_at ? '' : h('button', { type: 'button', class: 'danger', 'data-revoke-token': t.name, onclick: async () => {
        if (!(await confirmAction('Revoke admin token', `Revoke ${t.name}'s token? It stops working at once.`, 'Revoke'))) return;
        try {
          await api('POST', '/admin-tokens/' + encodeURIComponent(t.id) + '/revoke');
          result.replaceChildren(h('div', { class: 'notice', role: 'status' }, `Token of ${t.name} revoked.`));
          await load();
        } catch (e) {
          result.replaceChildren(errorBox(e));
        }
      } }, 'Revoke') } : null,
    ].filter(Boolean), l.data));
  };
  if (canChange) {
    const name = h('input', { id: 'token-name', required: true, maxlength: '64', autocomplete: 'off' });
    const role = h('select', { id: 'token-role' }, h('option', { value: 'viewer' }, 'viewer'), h('option', { value: 'operator' }, 'operator'));
    const form = h('form', { class: 'panel row' }, field('Name', name), field('Role', role), h('button', { type: 'submit', class: 'primary', id: 'token-create' }, 'Create token'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!(await confirmAction('Create admin token', `Create a ${role.value} token named ${name.value}?`, 'Create'))) return;
      try {
        const t = await api('POST', '/admin-tokens', { name: name.value.trim(), role: role.value });
        result.replaceChildren(secretBox(t.token));
        name.value = '';
        await load();
      } catch (e) {
        result.replaceChildren(errorBox(e));
      }
    });
    main.append(form);
  }
  main.append(list);
  try {
    await load();
  } catch (e) {
    list.replaceChildren(errorBox(e));
  }
  return null;
}
