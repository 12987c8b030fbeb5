// views/qmp.js: the QMP box (the seed's part V): send one QMP command to a
// chosen VM and see the JSON reply. It goes through the agent, with the
// same session and CSRF checks as every other change.
import * as api from '../api.js';
import { el } from '../ui.js';

export function mount(root, live) {
  const vmSel = el('select', { id: 'qmp-vm' });
  const cmd = el('textarea', { id: 'qmp-cmd', rows: 5, spellcheck: 'false' }, '{"execute": "query-status"}');
  const out = el('pre', { id: 'qmp-out', class: 'reply', 'aria-live': 'polite' });
  const send = el('button', { class: 'primary', type: 'submit' }, 'Send');
  const form = el('form', { class: 'form qmp', onsubmit: async (e) => {
    e.preventDefault();
    let req;
    try { req = JSON.parse(cmd.value); } catch (err) { out.textContent = `Not JSON: ${err.message}`; return; }
    if (typeof req.execute !== 'string') { out.textContent = 'A QMP command is {"execute": NAME, "arguments": {...}}'; return; }
    send.disabled = true;
    try {
      const r = await api.post(`/vms/${encodeURIComponent(vmSel.value)}/qmp`, req);
      out.textContent = JSON.stringify(r, null, 2);
    } catch (err) { out.textContent = `Error: ${err.message}`; }
    send.disabled = false;
  } },
  el('label', { for: 'qmp-vm' }, 'VM'), vmSel,
  el('label', { for: 'qmp-cmd' }, 'Command (JSON)'), cmd, send);
  root.append(el('div', { class: 'toolbar' }, el('h2', {}, 'QMP')), form, el('h3', {}, 'Reply'), out);
  return live.subscribe((l) => {
    const names = l.vms.map((v) => v.name).sort();
    const cur = [...vmSel.options].map((o) => o.value);
    if (names.join() !== cur.join()) {
      const keep = vmSel.value;
      vmSel.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
      if (names.includes(keep)) vmSel.value = keep;
    }
  });
}
