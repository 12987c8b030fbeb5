// views/energy.js: the consolidation report (energy against the all-on
// baseline, migrations, standby, SLATAH and PDM) with charts of its series,
// and the plan (migrations, standby, wake, kWh/day saved) and apply buttons.
// Figures are printed as `tern consolidate report` prints them.
import uPlot from '../../vendor/uPlot.esm.js';
import * as api from '../api.js';
import { el, toast, confirmDialog, bytes } from '../ui.js';

const num = (x) => Number(x ?? 0);

function chart(title, series, data, width) {
  const box = el('figure', { class: 'chart', 'data-chart': title }, el('figcaption', {}, title));
  const opts = {
    width, height: 220,
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, ...(s.bars ? { paths: uPlot.paths.bars({ size: [0.6, 12] }), fill: s.color } : {}) }))],
    axes: [{}, { size: 60 }],
    scales: { x: { time: true } },
  };
  // uPlot draws into the figure; the instance stays on it (box.plot).
  box.plot = new uPlot(opts, data, box);
  return box;
}

function figures(rows, attrs) {
  return el('dl', { class: 'figures summary', ...attrs },
    rows.flatMap(([k, label, v]) => [el('dt', {}, label), el('dd', { 'data-k': k }, String(v))]));
}

function summary(r) {
  const e = num(r.energy_kwh), b = num(r.baseline_kwh);
  return figures([
    ['window', 'Window', `${num(r.window_s).toFixed(0)} s`],
    ['energy', 'Energy', `${e.toFixed(4)} kWh`],
    ['baseline', 'All hosts on', `${b.toFixed(4)} kWh`],
    ['saved', 'Saved', b > 0 ? `${(100 * (1 - e / b)).toFixed(1)} %` : '—'],
    ['migrations', 'Migrations', `${num(r.migrations)} (${num(r.failed_migrations)} failed)`],
    ['downtime', 'Total downtime', `${num(r.downtime_ms)} ms`],
    ['bytes', 'Bytes moved', `${num(r.bytes_moved)} (${bytes(num(r.bytes_moved))})`],
    ['standby', 'Standby / wake', `${num(r.standby)} / ${num(r.wake)}`],
    ['slatah', 'SLATAH', num(r.slatah).toFixed(4)],
    ['pdm', 'PDM', num(r.pdm).toFixed(6)],
  ], { 'data-window': String(r.window_s) });
}

function planView(p) {
  const migs = p.migrations || [], sb = p.standby || [], wk = p.wake || [];
  return el('section', { class: 'plan card', 'aria-label': 'plan' },
    el('h3', {}, `Plan (${p.policy}): ${migs.length} migrations, ${sb.length} hosts to standby, saving ${num(p.saving_kwh_per_day).toFixed(2)} kWh/day`),
    migs.length
      ? el('ul', { class: 'migrations' }, migs.map((m) => el('li', {}, `${m.vm}: ${m.from} → ${m.to} (about ${num(m.seconds).toFixed(1)} s)`)))
      : el('p', { class: 'muted' }, 'Nothing to move.'),
    figures([
      ['standby', 'Standby', sb.join(', ') || 'none'],
      ['wake', 'Wake', wk.join(', ') || 'none'],
      ['power', 'Power', `${num(p.power_now_w).toFixed(1)} W now, ${num(p.power_after_w).toFixed(1)} W after`],
      ['saving', 'Saving', `${num(p.saving_kwh_per_day).toFixed(2)} kWh/day`],
      ['seen', 'Planned over', `${num(p.hosts)} hosts, ${num(p.vms)} VMs${num(p.unplaced) ? `; ${num(p.unplaced)} VMs fit nowhere` : ''}`],
    ]));
}

export function mount(root) {
  const window_ = el('select', { id: 'en-window', 'aria-label': 'Window' },
    el('option', { value: '3600' }, 'last hour'), el('option', { value: '86400', selected: true }, 'last day'),
    el('option', { value: '604800' }, 'last week'));
  const charts = el('div', { class: 'charts' });
  const reportBox = el('section', { class: 'card report', 'aria-label': 'report' }, el('p', { class: 'muted' }, 'Reading the report…'));
  const planBox = el('div', { class: 'plan-box' }, el('p', { class: 'muted' }, 'Show plan: what consolidation would do now.'));
  const planBtn = el('button', { onclick: async () => {
    planBtn.disabled = true;
    try { planBox.replaceChildren(planView(await api.post('/consolidate/plan'))); } catch (e) { toast(`plan failed: ${e.message}`, 'error'); }
    planBtn.disabled = false;
  } }, 'Show plan');
  const applyBtn = el('button', { class: 'primary', onclick: async () => {
    if (!(await confirmDialog('Apply plan', 'Carry out the consolidation plan with live migrations now?', 'Apply'))) return;
    applyBtn.disabled = true;
    status.textContent = 'Applying the plan (live migrations)…';
    try {
      const r = await api.post('/consolidate/apply');
      const n = (r.migrations || []).length;
      status.textContent = `Applied: ${n} migrations, ${(r.standby || []).length} hosts to standby, ${r.failed || 0} failed`;
      toast(`applied: ${n} migrations`, r.failed ? 'error' : 'ok');
      load();
    } catch (e) { status.textContent = ''; toast(`apply failed: ${e.message}`, 'error'); }
    applyBtn.disabled = false;
  } }, 'Apply plan');
  const status = el('p', { class: 'muted', role: 'status' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Energy'), window_, planBtn, applyBtn), status,
    el('div', { class: 'energy-top' }, reportBox, planBox), charts);

  let seq = 0;
  async function load() {
    const mine = ++seq;
    let r;
    try { r = await api.get(`/consolidate/report?window=${window_.value}`); } catch (e) { status.textContent = `No report: ${e.message}`; return; }
    if (mine !== seq) return;   // a newer window was asked for meanwhile
    status.textContent = '';
    const s = r.series || {};
    const t = s.time || [];
    // Two charts side by side when there is room.
    const full = root.clientWidth - 40;
    const w = Math.max(280, Math.min(900, full >= 900 ? full / 2 - 24 : full));
    reportBox.replaceChildren(el('h3', {}, `Report, ${window_.selectedOptions[0].textContent}`), summary(r));
    charts.replaceChildren(
      chart('Energy (kWh, cumulative)', [
        { label: 'tern', color: '#2b7de9' }, { label: 'all hosts on', color: '#999' }], [t, s.energy_kwh || [], s.baseline_kwh || []], w),
      chart('Migrations and hosts on standby (per step)', [
        { label: 'migrations', color: '#d9534f', bars: true },
        { label: 'standby hosts', color: '#5cb85c' }], [t, s.migrations || [], s.standby_hosts || []], w));
  }
  window_.addEventListener('change', load);
  load();
}
