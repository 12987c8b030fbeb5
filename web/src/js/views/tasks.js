// views/tasks.js: the task log (the seed's part IV): every action taken
// through the agents, with its time, user, result and output.
import * as api from '../api.js';
import { el, LiveTable } from '../ui.js';

export function mount(root) {
  const table = new LiveTable([
    { key: 'time', label: 'Time', value: (t) => new Date(t.time * 1000).toLocaleString(), sortValue: (t) => t.time },
    { key: 'user', label: 'User' },
    { key: 'action', label: 'Action' },
    { key: 'target', label: 'Target' },
    { key: 'result', label: 'Result', render: (t, td) => {
      if (td.dataset.r !== t.result) { td.dataset.r = t.result; td.replaceChildren(el('span', { class: `state ${t.result}` }, t.result)); }
    } },
    { key: 'output', label: 'Output', sort: false, render: (t, td) => {
      const s = t.output || '';
      if (td.dataset.o === s) return;
      td.dataset.o = s;
      td.replaceChildren(s.length > 80 ? el('details', {}, el('summary', {}, `${s.slice(0, 80)}…`), el('pre', {}, s)) : s);
    } },
  ], { id: (t) => String(t.id), label: 'tasks' });
  table.sortKey = 'time';
  table.sortDir = -1;
  const status = el('p', { class: 'muted' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Task log')), status, table.root);
  let stop = false;
  async function load() {
    try {
      const r = await api.get('/tasks');
      table.update(r.tasks || []);
      status.textContent = `${(r.tasks || []).length} tasks`;
    } catch (e) { status.textContent = `Cannot read the task log: ${e.message}`; }
    if (!stop) setTimeout(load, 2000);
  }
  load();
  return () => { stop = true; };
}
