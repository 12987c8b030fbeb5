// views/clusters.js: virtual clusters: each project's machines, switches and
// start order; bring one up from a project file, or take it down.
import * as api from '../api.js';
import { el, toast, confirmDialog } from '../ui.js';
import { vmButtons } from '../actions.js';

const enc = encodeURIComponent;

function clusterCard(c, live) {
  const machines = [...(c.machines || [])].sort((a, b) => (a.priority ?? 99) - (b.priority ?? 99));
  const vmOf = (m) => live.vms.find((v) => v.name === `${c.name}.${m.name}`) || { name: `${c.name}.${m.name}`, state: m.state };
  return el('article', { class: 'card cluster', 'data-cluster': c.name },
    el('header', {}, el('h3', {}, c.name), el('span', { class: `state ${c.state || ''}` }, c.state || ''),
      el('button', { class: 'small', onclick: async () => {
        if (!(await confirmDialog('Take down', `Stop every machine of ${c.name}, in reverse order?`, 'Down'))) return;
        try { await api.post(`/clusters/${enc(c.name)}/down`); toast(`${c.name} is going down`, 'ok'); } catch (e) { toast(e.message, 'error'); }
      } }, 'Down')),
    el('table', { class: 'plain' },
      el('thead', {}, el('tr', {}, ['Start', 'Machine', 'Priority', 'Host', 'State', 'Ready', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, machines.map((m, i) => el('tr', {},
        el('td', {}, String(i + 1)), el('td', {}, m.name), el('td', {}, String(m.priority ?? 99)),
        el('td', {}, m.host || '—'), el('td', {}, el('span', { class: `state ${m.state}` }, m.state)),
        el('td', {}, m.ready_at ? new Date(m.ready_at * 1000).toLocaleTimeString() : '—'),
        el('td', {}, el('div', { class: 'actions' }, vmButtons(vmOf(m), live))))))),
    el('p', { class: 'muted' }, `Switches: ${(c.switches || []).map((s) => s.name).join(', ') || 'none'}`));
}

export function mount(root, live) {
  const list = el('div', { class: 'cards' });
  const file = el('input', { id: 'cl-file', placeholder: '/path/to/project.xml', required: true });
  const upForm = el('form', { class: 'form inline', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api.post('/clusters', { file: file.value });
      toast(`${r && r.name ? r.name : 'cluster'} is coming up`, 'ok');
      load();
    } catch (err) { toast(`up failed: ${err.message}`, 'error'); }
  } }, el('label', { for: 'cl-file' }, 'Project file on the agent\'s host'), file,
  el('button', { class: 'primary', type: 'submit' }, 'Up'));
  const status = el('p', { class: 'muted' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Clusters')), upForm, status, list);
  let stop = false;
  async function load() {
    try {
      const r = await api.get('/clusters');
      const cs = r.clusters || [];
      status.textContent = cs.length ? '' : 'No cluster yet.';
      list.replaceChildren(...cs.map((c) => clusterCard(c, live)));
    } catch (e) { status.textContent = `Cannot list clusters: ${e.message}`; }
    if (!stop) setTimeout(load, 2000);
  }
  load();
  return () => { stop = true; };
}
