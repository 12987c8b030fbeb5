// views/clusters.js: virtual clusters: each project's machines, switches and
// start order; bring one up from a project file (202, then its progress
// until every machine runs), or take it down (until it is gone).
import * as api from '../api.js';
import { el, toast, confirmDialog } from '../ui.js';
import { vmButtons } from '../actions.js';

const enc = encodeURIComponent;
const BUSY = new Set(['starting', 'stopping']);
const RECORD_WAIT_MS = 120000;   // an accepted project not yet recorded

function progress(c) {
  const ms = c.machines || [];
  const running = ms.filter((m) => m.state === 'running').length;
  if (!ms.length) return el('p', { class: 'progress muted' }, c.note || 'Placing the machines…');
  return el('p', { class: 'progress' },
    el('progress', { max: ms.length, value: running, 'aria-label': `${c.name}: machines running` }),
    ` ${running} of ${ms.length} machines running`);
}

function clusterCard(c, live, onDown) {
  const machines = [...(c.machines || [])];   // the record keeps the start order
  const vmOf = (m) => live.vms.find((v) => v.name === `${c.name}.${m.name}`);
  // A machine whose VM is not made yet waits for its turn in the start order.
  const stateOf = (m) => (!vmOf(m) && c.state === 'starting' && m.state === 'stopped' ? 'waiting' : m.state);
  return el('article', { class: 'card cluster', 'data-cluster': c.name, 'aria-busy': BUSY.has(c.state) ? 'true' : 'false' },
    el('header', {}, el('h3', {}, c.name), el('span', { class: `state ${c.state || ''}` }, c.state || ''),
      el('button', { class: 'small', disabled: c.state === 'stopping' || !c.machines, onclick: () => onDown(c.name) }, 'Down')),
    c.file ? el('p', { class: 'muted' }, `From ${c.file}`) : null,
    BUSY.has(c.state) || c.state === 'failed' ? progress(c) : null,
    machines.length ? el('table', { class: 'plain', 'aria-label': `machines of ${c.name}` },
      el('thead', {}, el('tr', {}, ['Start', 'Machine', 'Priority', 'Host', 'State', 'Ready', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, machines.map((m, i) => el('tr', { 'data-machine': m.name },
        el('td', {}, String(i + 1)), el('td', {}, m.name), el('td', {}, String(m.priority ?? 99)),
        el('td', {}, m.host || '—'), el('td', {}, el('span', { class: `state ${stateOf(m)}` }, stateOf(m))),
        el('td', {}, m.ready_at ? new Date(m.ready_at * 1000).toLocaleTimeString() : '—'),
        el('td', {}, vmOf(m) ? el('div', { class: 'actions' }, vmButtons(vmOf(m), live)) : '—'))))) : null,
    c.switches ? el('p', { class: 'muted' }, `Switches: ${c.switches.map((s) => s.name).join(', ') || 'none'}`) : null);
}

export function mount(root, live) {
  const list = el('div', { class: 'cards' });
  const file = el('input', { id: 'cl-file', placeholder: '/path/to/project.xml', required: true });
  const msg = el('p', { class: 'msg', role: 'alert' });
  // Accepted changes not yet seen in the list: name -> {state, since}.
  const pending = new Map();
  const cards = new Map();   // name -> {key, node}: redraw a card only when it changed
  const say = (text, bad) => { msg.textContent = text; msg.className = `msg ${bad ? 'error' : 'muted'}`; };

  async function down(name) {
    if (!(await confirmDialog('Take down', `Stop every machine of ${name}, in reverse start order?`, 'Down'))) return;
    try {
      const r = await api.post(`/clusters/${enc(name)}/down`);
      pending.set(name, { state: r.state || 'stopping', since: Date.now() });
      say(`${name} is going down`);
      load();
    } catch (e) { say(`down failed: ${e.message}`, true); toast(e.message, 'error'); }
  }

  const upForm = el('form', { class: 'form inline', onsubmit: async (e) => {
    e.preventDefault();
    say('');
    try {
      const r = await api.post('/clusters', { file: file.value.trim() });
      pending.set(r.name, { state: r.state || 'starting', since: Date.now() });
      say(`${r.name} is ${r.state || 'starting'}`);
      load();
    } catch (err) { say(`up failed: ${err.message}`, true); }
  } }, el('label', { for: 'cl-file' }, 'Project file on the agent\'s host'), file,
  el('button', { class: 'primary', type: 'submit' }, 'Up'));
  const status = el('p', { class: 'muted' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Clusters')), upForm, msg, status, list);

  // The listed projects, with what this page asked for and the list does
  // not show yet; ends the wait of a change once the list shows its result.
  function merge(cs) {
    const byName = new Map(cs.map((c) => [c.name, c]));
    for (const [name, p] of pending) {
      const c = byName.get(name);
      if (p.state === 'starting') {
        if (!c) {
          const late = Date.now() - p.since > RECORD_WAIT_MS;
          byName.set(name, { name, state: late ? 'failed' : 'starting',
            note: late ? 'Not recorded after 2 minutes: the agent\'s log says why.' : 'Placing the machines…' });
          if (late) { pending.delete(name); say(`${name} did not come up (see the agent's log)`, true); }
        } else if (!BUSY.has(c.state)) {
          pending.delete(name);
          say(`${name} is ${c.state}`, c.state !== 'running');
        }
      } else if (p.state === 'stopping') {
        if (!c) { pending.delete(name); say(`${name} is down`); }
        else byName.set(name, { ...c, state: 'stopping' });
      }
    }
    return [...byName.values()];
  }

  let stop = false, timer = null;
  async function load() {
    clearTimeout(timer);
    let cs = null;
    try {
      cs = merge((await api.get('/clusters')).clusters || []);
      status.textContent = cs.length ? '' : 'No cluster yet.';
    } catch (e) { status.textContent = `Cannot list clusters: ${e.message}`; }
    if (cs) {
      const nodes = cs.map((c) => {
        const key = JSON.stringify(c) + JSON.stringify(live.vms.filter((v) => v.name.startsWith(`${c.name}.`)).map((v) => v.state));
        let k = cards.get(c.name);
        if (!k || k.key !== key) { k = { key, node: clusterCard(c, live, down) }; cards.set(c.name, k); }
        return k.node;
      });
      for (const name of cards.keys()) if (!cs.some((c) => c.name === name)) cards.delete(name);
      // Keep nodes in place (and the focus) when nothing moved.
      if (nodes.length !== list.children.length || nodes.some((n, i) => list.children[i] !== n)) list.replaceChildren(...nodes);
    }
    // Faster while something is on its way.
    const busy = pending.size || (cs || []).some((c) => BUSY.has(c.state));
    if (!stop) timer = setTimeout(load, busy ? 1000 : 3000);
  }
  load();
  return () => { stop = true; clearTimeout(timer); };
}
