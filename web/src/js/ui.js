// ui.js: small DOM helpers shared by the views: element builder, sortable
// and filterable tables that update in place, dialogs, toasts, formatting.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function toast(msg, kind = 'info') {
  const t = el('div', { class: `toast ${kind}` }, msg);
  document.getElementById('toasts').append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i ? 1 : 0)} ${u[i]}`;
}

export function duration(s) {
  if (s === undefined || s === null) return '—';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

export const pct = (x) => (x === undefined || x === null ? '—' : `${Number(x).toFixed(1)} %`);

// A modal dialog; returns {root, close}. Escape closes it, focus moves in.
export function dialog(title, body, buttons = []) {
  const d = el('dialog', { class: 'dlg', 'aria-label': title },
    el('h2', {}, title), body, el('div', { class: 'buttons' }, buttons));
  document.body.append(d);
  d.addEventListener('close', () => d.remove());
  d.showModal();
  return { root: d, close: () => d.close() };
}

export function confirmDialog(title, text, okLabel = 'OK') {
  return new Promise((resolve) => {
    let dlg;
    const ok = el('button', { class: 'primary', onclick: () => { resolve(true); dlg.close(); } }, okLabel);
    const cancel = el('button', { onclick: () => { resolve(false); dlg.close(); } }, 'Cancel');
    dlg = dialog(title, el('p', {}, text), [cancel, ok]);
    dlg.root.addEventListener('close', () => resolve(false));
    ok.focus();
  });
}

// A table that keeps its rows keyed by id and updates cells in place, so
// live data every second costs little and the focus stays where it was.
// columns: [{key, label, value(row), render(row, cell)?, sort?}]
export class LiveTable {
  constructor(columns, { id = (r) => r.name, filter = true, label = 'table' } = {}) {
    this.columns = columns;
    this.idOf = id;
    this.rows = new Map();
    this.sortKey = columns[0].key;
    this.sortDir = 1;
    this.query = '';
    this.filterInput = filter ? el('input', {
      type: 'search', placeholder: 'Filter…', 'aria-label': `Filter ${label}`,
      oninput: (e) => { this.query = e.target.value.toLowerCase(); this.layout(); },
    }) : null;
    const head = el('tr', {}, columns.map((c) => {
      const th = el('th', { scope: 'col' });
      if (c.sort === false) th.textContent = c.label;
      else {
        th.append(el('button', { class: 'sort', onclick: () => this.sortBy(c.key) }, c.label));
        th.setAttribute('aria-sort', 'none');
      }
      c.th = th;
      return th;
    }));
    this.observer = typeof IntersectionObserver === 'function' ? new IntersectionObserver((entries) => {
      for (const e of entries) {
        const row = e.target.row;
        row.visible = e.isIntersecting;
        if (row.visible && row.stale) this.renderRow(row);
      }
    }, { rootMargin: '200px' }) : null;
    this.tbody = el('tbody');
    this.table = el('table', { class: 'datatable', 'aria-label': label }, el('thead', {}, head), this.tbody);
    this.root = el('div', { class: 'table-wrap' }, this.filterInput, el('div', { class: 'scroll' }, this.table));
  }

  sortBy(key) {
    this.sortDir = this.sortKey === key ? -this.sortDir : 1;
    this.sortKey = key;
    this.layout();
  }

  update(list) {
    const seen = new Set();
    for (const r of list) {
      const id = this.idOf(r);
      seen.add(id);
      let row = this.rows.get(id);
      if (!row) {
        const tr = el('tr', { 'data-id': id });
        const cells = this.columns.map(() => el('td'));
        tr.append(...cells);
        row = { tr, cells, data: r, visible: false };
        this.rows.set(id, row);
        tr.row = row;
        if (this.observer) this.observer.observe(tr);
      }
      row.data = r;
      // Rows out of view keep their data and are drawn when they scroll
      // in: with 50 VMs most of the table is below the fold.
      if (this.observer && row.drawn && !row.visible) row.stale = true;
      else this.renderRow(row);
    }
    for (const [id, row] of this.rows) if (!seen.has(id)) {
      if (this.observer) this.observer.unobserve(row.tr);
      row.tr.remove();
      this.rows.delete(id);
    }
    this.layout();
  }

  renderRow(row) {
    const r = row.data;
    row.drawn = true;
    row.stale = false;
    this.columns.forEach((c, i) => {
      if (c.render) c.render(r, row.cells[i]);
      else {
        const v = c.value ? c.value(r) : r[c.key];
        const s = v === undefined || v === null ? '—' : String(v);
        if (row.cells[i].textContent !== s) row.cells[i].textContent = s;
      }
    });
  }

  layout() {
    const col = this.columns.find((c) => c.key === this.sortKey);
    const key = (r) => (col.sortValue ? col.sortValue(r) : col.value ? col.value(r) : r[col.key]);
    const rows = [...this.rows.values()].sort((a, b) => {
      const x = key(a.data), y = key(b.data);
      return (x > y ? 1 : x < y ? -1 : 0) * this.sortDir;
    });
    for (const c of this.columns)
      if (c.th.hasAttribute('aria-sort'))
        c.th.setAttribute('aria-sort', c.key === this.sortKey ? (this.sortDir > 0 ? 'ascending' : 'descending') : 'none');
    let prev = null;
    for (const r of rows) {
      const visible = !this.query || r.tr.textContent.toLowerCase().includes(this.query);
      r.tr.hidden = !visible;
      // Move only rows that are out of place (keeps focus and is cheap).
      const want = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== r.tr) this.tbody.insertBefore(r.tr, want);
      prev = r.tr;
    }
  }
}
