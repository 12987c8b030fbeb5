// views/settings.js: the seed's part I: migration defaults (downtime limit,
// bandwidth, mode) and the consolidation policy and watermarks, stored by
// the agents for the whole cluster.
import * as api from '../api.js';
import { el, toast } from '../ui.js';

const FIELDS = [
  ['migration.downtime_ms', 'Downtime limit (ms)', 'number', { min: 1, max: 60000 }],
  ['migration.bandwidth_mbps', 'Bandwidth limit (MB/s, 0 = none)', 'number', { min: 0 }],
  ['migration.mode', 'Mode', 'select', { options: ['precopy', 'postcopy'] }],
  ['consolidate.policy', 'Consolidation policy', 'select', { options: ['tern', 'thr-mmt', 'lr-mmt', 'none'] }],
  ['consolidate.low_watermark', 'Low watermark (CPU share, 0..1)', 'number', { min: 0, max: 1, step: 0.05 }],
  ['consolidate.high_watermark', 'High watermark (CPU share, 0..1)', 'number', { min: 0, max: 1, step: 0.05 }],
  ['consolidate.interval_s', 'Interval (s)', 'number', { min: 10 }],
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
  const form = el('form', { class: 'form settings', onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    for (const [key, , type] of FIELDS) {
      const v = inputs[key].value;
      if (v !== '') setPath(body, key, type === 'number' ? Number(v) : v);
    }
    try { await api.post('/settings', body); toast('Settings saved', 'ok'); } catch (err) { toast(`not saved: ${err.message}`, 'error'); }
  } }, FIELDS.map(([key, label, type, o]) => {
    const id = `set-${key.replace('.', '-')}`;
    const input = type === 'select'
      ? el('select', { id }, o.options.map((x) => el('option', { value: x }, x)))
      : el('input', { id, type, min: o.min, max: o.max, step: o.step || 'any' });
    inputs[key] = input;
    return [el('label', { for: id }, label), input];
  }), el('button', { class: 'primary', type: 'submit' }, 'Save'));
  const status = el('p', { class: 'muted' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Settings')), status, form);
  api.get('/settings').then((s) => {
    for (const [key] of FIELDS) { const v = getPath(s, key); if (v !== undefined) inputs[key].value = v; }
  }).catch((e) => { status.textContent = `Cannot read settings: ${e.message}`; });
}
