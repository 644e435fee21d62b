// Price rules: list, create, edit, deactivate; each with a worked example priced by the server.
import { api, canChange, query } from './api.js';
import { confirmAction, errorBox, field, fmt, h, table } from './ui.js';

const EXAMPLE = { input_tokens: 1000, output_tokens: 500 };
const PRICE_FIELDS = ['input_price', 'output_price', 'cached_price', 'reasoning_price', 'credits_per_unit', 'markup_bps'];

export async function priceRules(main) {
  main.append(h('h1', {}, 'Price rules'),
    h('p', { class: 'muted' }, 'Prices are micro-currency per 1,000 tokens; credits per unit converts cost to credits; markup in basis points. Higher priority wins.'));
  const result = h('div', { id: 'rule-result' });
  const list = h('div', { id: 'rule-list' });
  const formBox = h('div', {});
  main.append(result, formBox, list);
  const load = async () => {
    const rules = (await api('GET', '/price-rules')).data;
    const examples = await Promise.all(rules.map((r) =>
      api('GET', '/price-quote' + query({ rule_id: r.id, ...EXAMPLE })).then((q) => q.credits, () => null)));
    rules.forEach((r, i) => { r.example = examples[i]; });
    list.replaceChildren(table([
      { key: 'id', label: 'Id', num: true, sortable: true },
      { key: 'match', label: 'Matches (scene / provider / model)', render: (r) => [r.scene || '*', r.provider || '*', r.model || '*'].join(' / ') },
      { key: 'input_price', label: 'Input', num: true, sortable: true },
      { key: 'output_price', label: 'Output', num: true, sortable: true },
      { key: 'cached_price', label: 'Cached', num: true },
      { key: 'credits_per_unit', label: 'Credits/unit', num: true },
      { key: 'markup_bps', label: 'Markup bps', num: true },
      { key: 'priority', label: 'Priority', num: true, sortable: true },
      { key: 'active', label: 'Active', sortable: true, render: (r) => r.active ? h('span', { class: 'badge good' }, 'active') : h('span', { class: 'badge warn' }, 'inactive') },
      { key: 'example', label: '1,000 in + 500 out', num: true, sortable: true, render: (r) => h('span', { 'data-rule-example': r.id }, r.example === null ? '?' : fmt(r.example) + ' credits') },
      canChange ? { key: 'edit', label: 'Actions', render: (r) => h('span', {},
        h('button', { type: 'button', 'data-edit-rule': r.id, onclick: () => formBox.replaceChildren(ruleForm(r, done)) }, 'Edit'), ' ',
        r.active ? h('button', { type: 'button', class: 'danger', 'data-deactivate-rule': r.id, onclick: () => deactivate(r) }, 'Deactivate') : '') } : null,
    ].filter(Boolean), rules));
  };
  const done = async (message) => {
    result.replaceChildren(h('div', { class: 'notice', role: 'status' }, message));
    formBox.replaceChildren(canChange ? ruleForm(null, done) : '');
    await load();
  };
  const deactivate = async (r) => {
    if (!(await confirmAction('Deactivate price rule', `Deactivate rule ${r.id}? Calls it matched will be priced by the next rule.`, 'Deactivate'))) return;
    try {
      await api('DELETE', '/price-rules/' + r.id);
      await done(`Rule ${r.id} deactivated.`);
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  };
  if (canChange) formBox.append(ruleForm(null, done));
  await load();
  return null;
}

// The create/edit form; its worked example is quoted by the server as the prices change.
function ruleForm(rule, done) {
  const inputs = {};
  const text = (name, label, value) => {
    inputs[name] = h('input', { id: 'rule-' + name.replace(/_/g, '-'), name, value: value ?? '' });
    return field(label, inputs[name]);
  };
  const num = (name, label, value) => {
    inputs[name] = h('input', { id: 'rule-' + name.replace(/_/g, '-'), name, type: 'number', step: '1', value: value ?? '', inputmode: 'numeric' });
    return field(label, inputs[name]);
  };
  const r = rule || {};
  const example = h('p', { id: 'rule-example', 'aria-live': 'polite' });
  const error = h('div', {});
  const form = h('form', { class: 'panel', id: 'rule-form' },
    h('h2', {}, rule ? `Edit rule ${rule.id}` : 'New price rule'),
    h('div', { class: 'row' },
      text('scene', 'Scene', r.scene), text('provider', 'Provider', r.provider), text('model', 'Model', r.model)),
    h('div', { class: 'row' },
      num('input_price', 'Input price', r.input_price), num('output_price', 'Output price', r.output_price),
      num('cached_price', 'Cached price', r.cached_price ?? 0), num('reasoning_price', 'Reasoning price', r.reasoning_price ?? 0)),
    h('div', { class: 'row' },
      num('credits_per_unit', 'Credits per unit', r.credits_per_unit ?? 1000000), num('markup_bps', 'Markup (bps)', r.markup_bps ?? 0),
      num('priority', 'Priority', r.priority ?? 0)),
    example, error,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'rule-save' }, rule ? 'Save rule' : 'Create rule')));
  const body = () => {
    const b = {};
    for (const [k, i] of Object.entries(inputs)) {
      b[k] = i.type === 'number' ? (i.value === '' ? undefined : Number(i.value)) : i.value.trim();
    }
    return b;
  };
  let pending = 0;
  const quote = async () => {
    const b = body();
    const mine = ++pending;
    const params = { ...EXAMPLE };
    PRICE_FIELDS.forEach((k) => { params[k] = b[k]; });
    try {
      const q = await api('GET', '/price-quote' + query(params));
      if (mine === pending) example.textContent = `Worked example: 1,000 input + 500 output tokens on this rule cost ${fmt(q.credits)} credits.`;
    } catch (e) {
      if (mine === pending) example.textContent = 'Worked example: ' + e.message;
    }
  };
  form.addEventListener('input', () => window.setTimeout(quote, 150));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = body();
    const what = rule ? `Save rule ${rule.id}?` : 'Create this price rule?';
    if (!(await confirmAction(rule ? 'Save price rule' : 'Create price rule', `${what} ${example.textContent}`, rule ? 'Save' : 'Create'))) return;
    try {
      const saved = rule ? await api('PUT', '/price-rules/' + rule.id, { ...b, active: rule.active }) : await api('POST', '/price-rules', b);
      await done(`Rule ${saved.id} ${rule ? 'saved' : 'created'}.`);
    } catch (e) {
      error.replaceChildren(errorBox(e));
    }
  });
  quote();
  return form;
}
