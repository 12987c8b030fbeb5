// views/vms.js: every VM of every host, with a live CPU sparkline, sortable
// and filterable, with its actions; and the form that creates a VM.
import * as api from '../api.js';
import { el, toast, dialog, bytes, duration, LiveTable } from '../ui.js';
import { History, sparkline } from '../spark.js';
import { vmButtons } from '../actions.js';

const clusterOf = (vm) => vm.project || vm.cluster || (vm.name.includes('.') ? vm.name.split('.')[0] : '');

function createDialog() {
  const f = {
    name: el('input', { id: 'c-name', required: true, placeholder: 'web1' }),
    kernel: el('input', { id: 'c-kernel', required: true, placeholder: '/path/to/Image' }),
    initrd: el('input', { id: 'c-initrd', placeholder: '/path/to/initrd' }),
    append: el('input', { id: 'c-append', value: 'console=ttyS0' }),
    memory: el('input', { id: 'c-memory', value: '256M' }),
    cpus: el('input', { id: 'c-cpus', type: 'number', min: 1, max: 8, value: 1 }),
    host: el('input', { id: 'c-host', placeholder: 'any' }),
  };
  let d;
  const ok = el('button', { class: 'primary', onclick: async () => {
    const spec = { kernel: f.kernel.value, memory: f.memory.value, cpus: Number(f.cpus.value) };
    if (f.initrd.value) spec.initrd = f.initrd.value;
    if (f.append.value) spec.append = f.append.value;
    const body = { name: f.name.value, spec };
    if (f.host.value) body.host = f.host.value;
    try {
      await api.post('/vms', body);
      toast(`${f.name.value} created`, 'ok');
      d.close();
    } catch (e) { toast(`create failed: ${e.message}`, 'error'); }
  } }, 'Create');
  const rows = Object.entries(f).map(([k, input]) => [el('label', { for: input.id }, k), input]);
  d = dialog('New VM', el('div', { class: 'form' }, rows), [el('button', { onclick: () => d.close() }, 'Cancel'), ok]);
  f.name.focus();
}

export function mount(root, live) {
  const cpu = new History();
  const table = new LiveTable([
    { key: 'name', label: 'Name' },
    { key: 'project', label: 'Cluster', value: clusterOf },
    { key: 'host', label: 'Host' },
    { key: 'state', label: 'State', render: (vm, td) => {
      if (td.dataset.state !== vm.state) { td.dataset.state = vm.state; td.replaceChildren(el('span', { class: `state ${vm.state}` }, vm.state)); }
    } },
    { key: 'cpu_percent', label: 'CPU', sortValue: (vm) => vm.cpu_percent || 0,
      render: (vm, td) => sparkline(td, cpu.get(vm.name), { label: `${(vm.cpu_percent || 0).toFixed(1)} %` }) },
    { key: 'mem', label: 'Memory', sortValue: (vm) => vm.rss || vm.mem || 0, value: (vm) => bytes(vm.rss || vm.mem) },
    { key: 'uptime', label: 'Uptime', sortValue: (vm) => vm.uptime || 0, value: (vm) => duration(vm.uptime) },
    { key: 'actions', label: 'Actions', sort: false, render: (vm, td) => {
      const sig = `${vm.state}|${vm.host}`;
      if (td.dataset.sig !== sig) { td.dataset.sig = sig; td.replaceChildren(el('div', { class: 'actions' }, vmButtons(vm, live))); }
    } },
  ], { label: 'VMs' });
  root.append(
    el('div', { class: 'toolbar' }, el('h2', {}, 'Virtual machines'),
      el('button', { class: 'primary', onclick: createDialog }, 'New VM')),
    table.root);
  return live.subscribe((l) => {
    const ids = new Set();
    for (const vm of l.vms) { cpu.push(vm.name, vm.cpu_percent); ids.add(vm.name); }
    cpu.prune(ids);
    table.update(l.vms);
  });
}
