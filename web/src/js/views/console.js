// views/console.js: a VM's serial console in the browser: xterm.js over
// the agent's WebSocket /api/v1/vms/NAME/console, both ways, starting with
// the console's scrollback.
import { Terminal } from '../../vendor/xterm.js';
import { FitAddon } from '../../vendor/addon-fit.js';
import { el } from '../ui.js';
import { agent } from '../api.js';

export function mount(root, live, args) {
  const vmSel = el('select', { id: 'con-vm', 'aria-label': 'VM' });
  const state = el('span', { class: 'muted', role: 'status' });
  const box = el('div', { class: 'term', id: 'term' });
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'Console'), vmSel, state), box);
  const term = new Terminal({ convertEol: false, scrollback: 5000, fontSize: 14 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const onResize = () => fit.fit();
  window.addEventListener('resize', onResize);
  let ws = null;
  const enc = new TextEncoder();

  function connect(name) {
    if (ws) ws.close();
    term.reset();
    if (!name) { state.textContent = 'no VM'; return; }
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${proto}://${location.host}/api/v1/vms/${encodeURIComponent(name)}/console`);
    ws.binaryType = 'arraybuffer';
    state.textContent = `connecting to ${name}…`;
    let opened = false;
    ws.onopen = () => { opened = true; state.textContent = `${name}: connected`; term.focus(); };
    ws.onmessage = (m) => term.write(typeof m.data === 'string' ? m.data : new Uint8Array(m.data));
    ws.onclose = (e) => {
      // A refused handshake tells the page nothing more: say what it can be.
      const vm = live.vms.find((v) => v.name === name);
      const elsewhere = vm && agent.host && vm.host !== agent.host;
      state.textContent = opened ? `${name}: disconnected${e.reason ? ` (${e.reason})` : ''}`
        : `${name}: refused: ${elsewhere ? `it runs on ${vm.host}: open that host's dashboard` : 'sign in again'}`;
    };
  }
  term.onData((d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
  vmSel.addEventListener('change', () => { location.hash = `#/console/${encodeURIComponent(vmSel.value)}`; });

  const wanted = args && args[0] ? decodeURIComponent(args[0]) : null;
  let connected = null;
  const unsub = live.subscribe((l) => {
    const names = l.vms.map((v) => v.name).sort();
    if (names.join() !== [...vmSel.options].map((o) => o.value).join())
      vmSel.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    const target = wanted && names.includes(wanted) ? wanted : (connected || names[0]);
    if (target && target !== connected) { vmSel.value = target; connected = target; connect(target); }
  });
  window.ternTerm = term;      // for tests: read what the terminal shows
  return () => { unsub(); if (ws) ws.close(); term.dispose(); window.removeEventListener('resize', onResize); };
}
