// views/energy.js: the consolidation report as charts (energy against the
// all-on baseline over time, migrations, hosts on standby), and the plan
// and apply buttons.
import uPlot from '../../vendor/uPlot.esm.js';
import * as api from '../api.js';
import { el, toast, confirmDialog } from '../ui.js';

function chart(title, series, data, width) {
  const box = el('figure', { class: 'chart' }, el('figcaption', {}, title));
  const opts = {
    width, height: 220,
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: s.fill }))],
    axes: [{}, { size: 60 }],
    scales: { x: { time: true } },
  };
  // uPlot draws into the figure; keep the instance for resizing.
  box.plot = new uPlot(opts, data, box);
  return box;
}

function summary(r) {
  const rows = [
    ['Energy', `${(r.energy_kwh ?? 0).toFixed(3)} kWh`],
    ['All hosts on', `${(r.baseline_kwh ?? 0).toFixed(3)} kWh`],
    ['Saved', r.baseline_kwh ? `${(100 * (1 - r.energy_kwh / r.baseline_kwh)).toFixed(1)} %` : '—'],
    ['Migrations', r.migrations ?? 0],
    ['Total downtime', `${r.downtime_ms ?? 0} ms`],
    ['Bytes moved', r.bytes_moved ?? 0],
    ['SLATAH', r.slatah ?? '—'], ['PDM', r.pdm ?? '—'],
  ];
  return el('dl', { class: 'figures summary' }, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]));
}

function planView(p) {
  const migs = p.migrations || [];
  return el('div', { class: 'plan' },
    el('h3', {}, `Plan: ${migs.length} migrations, ${(p.standby || []).length} hosts to standby, saving ${(p.saving_kwh_per_day ?? 0).toFixed(2)} kWh/day`),
    migs.length ? el('ul', {}, migs.map((m) => el('li', {}, `${m.vm}: ${m.from} → ${m.to}`))) : el('p', { class: 'muted' }, 'Nothing to move.'),
    (p.standby || []).length ? el('p', {}, `Standby: ${p.standby.join(', ')}`) : '');
}

export function mount(root) {
  const window_ = el('select', { id: 'en-window', 'aria-label': 'Window' },
    el('option', { value: '3600' }, 'last hour'), el('option', { value: '86400', selected: true }, 'last day'));
  const charts = el('div', { class: 'charts' });
  const planBox = el('div');
  const planBtn = el('button', { onclick: async () => {
    try { planBox.replaceChildren(planView(await api.post('/consolidate/plan'))); } catch (e) { toast(`plan failed: ${e.message}`, 'error'); }
  } }, 'Show plan');
  const applyBtn = el('button', { class: 'primary', onclick: async () => {
    if (!(await confirmDialog('Apply plan', 'Carry out the consolidation plan with live migrations now?', 'Apply'))) return;
    try { const r = await api.post('/consolidate/apply'); toast(`applied: ${(r.migrations || []).length} migrations`, 'ok'); load(); } catch (e) { toast(`apply failed: ${e.message}`, 'error'); }
  } }, 'Apply plan');
  const status = el('p', { class: 'muted' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Energy'), window_, planBtn, applyBtn), status, charts, planBox);

  async function load() {
    let r;
    try { r = await api.get(`/consolidate/report?window=${window_.value}`); } catch (e) { status.textContent = `No report: ${e.message}`; return; }
    status.textContent = '';
    const s = r.series || {};
    const t = s.time || [];
    const w = Math.max(280, Math.min(900, root.clientWidth - 40));
    charts.replaceChildren(summary(r),
      chart('Energy (kWh, cumulative)', [
        { label: 'tern', color: '#2b7de9' }, { label: 'all on', color: '#999' }], [t, s.energy_kwh || [], s.baseline_kwh || []], w),
      chart('Migrations and hosts on standby', [
        { label: 'migrations', color: '#d9534f' }, { label: 'standby hosts', color: '#5cb85c' }], [t, s.migrations || [], s.standby_hosts || []], w));
  }
  window_.addEventListener('change', load);
  load();
}
