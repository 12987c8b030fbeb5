// actions.js: what a user can do to a VM, shared by the VM list and the
// cluster view: the plain actions, snapshot and clone, and migration with
// its live progress dialog and final report.
import * as api from './api.js';
import { el, toast, dialog, confirmDialog, bytes } from './ui.js';

const enc = encodeURIComponent;

export async function vmAction(name, action, body = {}) {
  try {
    const r = await api.post(`/vms/${enc(name)}/${action}`, body);
    toast(`${name}: ${action} done`, 'ok');
    return r;
  } catch (e) {
    toast(`${name}: ${action} failed: ${e.message}`, 'error');
    return null;
  }
}

export async function stopVm(name, force) {
  if (force && !(await confirmDialog('Kill VM', `Kill ${name} now? The guest gets no chance to shut down.`, 'Kill'))) return;
  return vmAction(name, force ? 'kill' : 'stop');
}

export function snapshotDialog(name) {
  const file = el('input', { id: 'snapfile', value: `${name}.snap`, required: true });
  const leave = el('input', { id: 'snapleave', type: 'checkbox', checked: true });
  let d;
  const ok = el('button', { class: 'primary', onclick: async () => {
    d.close();
    await vmAction(name, 'snapshot', { file: file.value, 'leave-running': leave.checked });
  } }, 'Save');
  d = dialog(`Snapshot ${name}`, el('div', { class: 'form' },
    el('label', { for: 'snapfile' }, 'File (relative to the agent\'s snapshot folder)'), file,
    el('label', { class: 'check' }, leave, ' Keep the VM running')),
  [el('button', { onclick: () => d.close() }, 'Cancel'), ok]);
  file.focus();
}

export function cloneDialog(name) {
  const file = el('input', { id: 'clonefile', value: `${name}.snap`, required: true });
  const newName = el('input', { id: 'clonename', value: `${name}-clone`, required: true });
  let d;
  const ok = el('button', { class: 'primary', onclick: async () => {
    d.close();
    try {
      await api.post(`/vms/${enc(name)}/clone`, { name: newName.value, snapshot: file.value });
      toast(`${newName.value} started from ${file.value}`, 'ok');
    } catch (e) { toast(`clone failed: ${e.message}`, 'error'); }
  } }, 'Clone');
  d = dialog(`Clone ${name} from a snapshot`, el('div', { class: 'form' },
    el('label', { for: 'clonefile' }, 'Snapshot file'), file,
    el('label', { for: 'clonename' }, 'New VM name'), newName),
  [el('button', { onclick: () => d.close() }, 'Cancel'), ok]);
  newName.focus();
}

// Progress numbers from a query-migrate-shaped record.
export function migrationFigures(m) {
  const ram = (m && (m.ram || (m.progress && m.progress.ram))) || {};
  const p = (m && m.progress) || m || {};
  const total = ram.total || 0;
  let percent = p.percent;
  if (percent === undefined && total) percent = Math.min(100, (100 * (total - (ram.remaining || 0))) / total);
  if ((m && (m.status === 'completed' || (p && p.status === 'completed')))) percent = 100;
  return {
    status: (m && m.status) || p.status || 'setup',
    percent: percent || 0,
    mbps: ram.mbps,
    remaining: ram.remaining,
    round: ram['dirty-sync-count'] ?? p['x-rounds'],
    expected: p['expected-downtime'],
    downtime: p.downtime ?? (m && m.downtime),
    error: (m && m.error) || p['error-desc'],
  };
}

export function migrateDialog(name, hosts, currentHost) {
  const targets = hosts.filter((h) => h.name !== currentHost);
  const sel = el('select', { id: 'migto' }, targets.map((h) =>
    el('option', { value: h.name, disabled: h.state !== 'up' ? true : undefined }, `${h.name} (${h.state})`)));
  const post = el('input', { id: 'migpost', type: 'checkbox' });
  const bar = el('progress', { max: 100, value: 0, 'aria-label': 'Migration progress' });
  const figures = el('dl', { class: 'figures' });
  const report = el('div', { class: 'report' });
  let d, timer = null;
  const start = el('button', { class: 'primary', onclick: go }, 'Migrate');
  const cancel = el('button', { onclick: cancelMig, disabled: true }, 'Cancel migration');
  const close = el('button', { onclick: () => d.close() }, 'Close');

  function show(f) {
    bar.value = f.percent;
    const rows = [
      ['Status', f.status], ['Progress', `${f.percent.toFixed(0)} %`],
      ['Speed', f.mbps !== undefined ? `${Number(f.mbps).toFixed(0)} Mbit/s` : '—'],
      ['Remaining', f.remaining !== undefined ? bytes(f.remaining) : '—'],
      ['Round', f.round ?? '—'],
      ['Expected downtime', f.expected !== undefined ? `${f.expected} ms` : '—'],
    ];
    figures.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-k': k }, String(v))]));
  }

  async function poll() {
    let m;
    try { m = await api.get(`/vms/${enc(name)}/migration`); } catch (e) { return; }
    const f = migrationFigures(m);
    show(f);
    if (['completed', 'failed', 'cancelled'].includes(f.status)) {
      clearInterval(timer);
      timer = null;
      cancel.disabled = true;
      const parts = (m && (m.report || m.downtime_breakdown || (m.progress && m.progress['x-downtime-breakdown']))) || null;
      report.replaceChildren(
        el('h3', {}, f.status === 'completed' ? `Done: ${name} runs on ${sel.value}` : `Migration ${f.status}`),
        f.error ? el('p', { class: 'error' }, f.error) : '',
        f.downtime !== undefined ? el('p', {}, `Downtime ${f.downtime} ms`) : '',
        parts ? el('dl', { class: 'figures breakdown' }, Object.entries(parts).flatMap(([k, v]) =>
          [el('dt', {}, k), el('dd', {}, typeof v === 'number' ? `${v} ms` : JSON.stringify(v))])) : '');
    }
  }

  async function go() {
    start.disabled = true;
    sel.disabled = true;
    try {
      await api.post(`/vms/${enc(name)}/migrate`, { to: sel.value, postcopy: post.checked });
    } catch (e) {
      report.replaceChildren(el('p', { class: 'error' }, `Refused: ${e.message}`));
      start.disabled = false;
      sel.disabled = false;
      return;
    }
    cancel.disabled = false;
    timer = setInterval(poll, 500);
    poll();
  }

  async function cancelMig() {
    try { await api.del(`/vms/${enc(name)}/migration`); toast('cancel requested'); } catch (e) { toast(e.message, 'error'); }
  }

  show({ percent: 0, status: 'not started' });
  d = dialog(`Migrate ${name}`, el('div', { class: 'form' },
    el('label', { for: 'migto' }, 'To host'), sel,
    el('label', { class: 'check' }, post, ' Post-copy (switch over at once)'),
    bar, figures, report), [close, cancel, start]);
  d.root.addEventListener('close', () => timer && clearInterval(timer));
  if (!targets.length) report.replaceChildren(el('p', { class: 'muted' }, 'There is no other host.'));
  sel.focus();
}

// The action buttons of one VM, by its state.
export function vmButtons(vm, live) {
  const b = (label, fn, title) => el('button', { class: 'small', onclick: fn, title: title || label }, label);
  const s = vm.state;
  const out = [];
  if (s === 'stopped' || s === 'crashed') out.push(b('Start', () => vmAction(vm.name, 'start')));
  if (s === 'running') out.push(b('Pause', () => vmAction(vm.name, 'pause')));
  if (s === 'paused') out.push(b('Resume', () => vmAction(vm.name, 'resume')));
  if (s === 'running' || s === 'paused') {
    out.push(b('Stop', () => stopVm(vm.name, false), 'Ask the guest to power off'));
    out.push(b('Kill', () => stopVm(vm.name, true)));
    out.push(b('Snapshot', () => snapshotDialog(vm.name)));
    out.push(b('Migrate', () => migrateDialog(vm.name, live.hosts, vm.host)));
    out.push(b('Console', () => { location.hash = `#/console/${enc(vm.name)}`; }));
  }
  out.push(b('Clone', () => cloneDialog(vm.name), 'Start a new VM from a snapshot of this one'));
  return out;
}
