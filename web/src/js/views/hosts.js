// views/hosts.js: every host with its state, power state and watts, CPU and
// memory sparklines, VM count, and the evacuate, standby and wake actions.
import * as api from '../api.js';
import { el, toast, confirmDialog, bytes, LiveTable } from '../ui.js';
import { History, sparkline } from '../spark.js';

async function hostAction(name, action, question) {
  if (question && !(await confirmDialog(`${action} ${name}`, question, action))) return;
  try {
    await api.post(`/hosts/${encodeURIComponent(name)}/${action}`);
    toast(`${name}: ${action} started`, 'ok');
  } catch (e) { toast(`${name}: ${action} failed: ${e.message}`, 'error'); }
}

export function mount(root, live) {
  const cpu = new History(), mem = new History();
  const b = (label, fn) => el('button', { class: 'small', onclick: fn }, label);
  const table = new LiveTable([
    { key: 'name', label: 'Host' },
    { key: 'address', label: 'Address' },
    { key: 'state', label: 'State', render: (h, td) => {
      if (td.dataset.s !== h.state) { td.dataset.s = h.state; td.replaceChildren(el('span', { class: `state ${h.state}` }, h.state)); }
    } },
    { key: 'power', label: 'Power', value: (h) => `${h.power || '—'}${h.watts !== undefined ? ` · ${Number(h.watts).toFixed(0)} W` : ''}` },
    { key: 'cpu_percent', label: 'CPU', sortValue: (h) => h.cpu_percent || 0,
      render: (h, td) => sparkline(td, cpu.get(h.name), { label: `${(h.cpu_percent || 0).toFixed(0)} %` }) },
    { key: 'mem_used', label: 'Memory', sortValue: (h) => h.mem_used || 0,
      render: (h, td) => sparkline(td, mem.get(h.name), { label: `${bytes(h.mem_used)} / ${bytes(h.mem_total)}` }) },
    { key: 'vms', label: 'VMs', sortValue: (h) => (h.vms || []).length, value: (h) => (h.vms || []).length },
    { key: 'actions', label: 'Actions', sort: false, render: (h, td) => {
      const sig = `${h.state}|${h.power}`;
      if (td.dataset.sig === sig) return;
      td.dataset.sig = sig;
      const btns = [];
      if (h.state === 'up' || h.state === 'draining')
        btns.push(b('Evacuate', () => hostAction(h.name, 'evacuate', `Live-migrate every VM away from ${h.name}?`)));
      if (h.state === 'up' && !(h.vms || []).length) btns.push(b('Standby', () => hostAction(h.name, 'standby', `Put ${h.name} on standby?`)));
      if (h.state === 'standby' || h.power === 'standby') btns.push(b('Wake', () => hostAction(h.name, 'wake')));
      td.replaceChildren(el('div', { class: 'actions' }, btns));
    } },
  ], { label: 'hosts' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Hosts')), table.root);
  return live.subscribe((l) => {
    for (const h of l.hosts) {
      cpu.push(h.name, h.cpu_percent);
      mem.push(h.name, h.mem_total ? (100 * h.mem_used) / h.mem_total : 0);
    }
    table.update(l.hosts);
  });
}
