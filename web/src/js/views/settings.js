// views/settings.js: the seed's part I: migration defaults (downtime limit,
// bandwidth, mode) and the consolidation policy and watermarks, stored by
// the agents for the whole cluster. The agent checks every value; its
// refusal is shown next to the form with the field it names marked.
import * as api from '../api.js';
import { el, toast } from '../ui.js';

const FIELDS = [
  ['migration.downtime_ms', 'Downtime limit (ms, 1..60000)', 'number', { min: 1, max: 60000, step: 1 }],
  ['migration.bandwidth_mbps', 'Bandwidth limit (MB/s, 0 = none)', 'number', { min: 0, step: 1 }],
  ['migration.mode', 'Mode', 'select', { options: ['precopy', 'postcopy'] }],
  ['consolidate.policy', 'Consolidation policy', 'select', { options: ['tern', 'thr-mmt', 'lr-mmt', 'none'] }],
  ['consolidate.low_watermark', 'Low watermark (CPU share, 0..1)', 'number', { min: 0, max: 1 }],
  ['consolidate.high_watermark', 'High watermark (CPU share, 0..1)', 'number', { min: 0, max: 1 }],
  ['consolidate.interval_s', 'Interval (s, 1..86400)', 'number', { min: 1, max: 86400 }],
  ['consolidate.max_parallel', 'Parallel migrations (1..64)', 'number', { min: 1, max: 64, step: 1 }],
];

const getPath = (o, p) => p.split('.').reduce((x, k) => (x ? x[k] : undefined), o);
function setPath(o, p, v) {
  const ks = p.split('.');
  let x = o;
  for (const k of ks.slice(0, -1)) x = x[k] = x[k] || {};
  x[ks[ks.length - 1]] = v;
}

export function mount(root) {
  const inputs = {};
  const msg = el('p', { class: 'msg', role: 'status' });
  const say = (text, bad) => { msg.textContent = text; msg.className = `msg ${bad ? 'error' : 'muted'}`; msg.setAttribute('role', bad ? 'alert' : 'status'); };
  const show = (s) => {
    for (const [key] of FIELDS) { const v = getPath(s, key); if (v !== undefined) inputs[key].value = v; }
  };
  // The agent is the one judge of the values (novalidate): its answer
  // names the field, e.g. "consolidate.low_watermark: out of range ...".
  const form = el('form', { class: 'form settings', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    for (const [key, , type] of FIELDS) {
      const v = inputs[key].value.trim();
      inputs[key].removeAttribute('aria-invalid');
      if (v !== '') setPath(body, key, type === 'number' ? Number(v) : v);
    }
    say('Saving…');
    try {
      show(await api.post('/settings', body));
      say(`Saved at ${new Date().toLocaleTimeString()}`);
      toast('Settings saved', 'ok');
    } catch (err) {
      say(`Not saved: ${err.message}`, true);
      const bad = FIELDS.find(([key]) => err.message.startsWith(`${key}:`));
      if (bad) { inputs[bad[0]].setAttribute('aria-invalid', 'true'); inputs[bad[0]].focus(); }
    }
  } }, FIELDS.flatMap(([key, label, type, o]) => {
    const id = `set-${key.replace('.', '-')}`;
    const input = type === 'select'
      ? el('select', { id }, o.options.map((x) => el('option', { value: x }, x)))
      : el('input', { id, type, min: o.min, max: o.max, step: o.step || 'any', inputmode: 'decimal' });
    inputs[key] = input;
    return [el('label', { for: id }, label), input];
  }), el('button', { class: 'primary', type: 'submit' }, 'Save'));
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Settings')), msg, form);
  api.get('/settings').then((s) => { show(s); form.dataset.loaded = '1'; })
    .catch((e) => say(`Cannot read settings: ${e.message}`, true));
}
