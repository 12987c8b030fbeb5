// spark.js: tiny canvas sparklines for per-row CPU and memory history. One
// canvas per cell, redrawn only when a sample arrives: cheap enough for 50
// VMs updating every second (uPlot is kept for the larger charts).

const HISTORY = 60;

export class History {
  constructor() { this.series = new Map(); }
  push(id, value) {
    let s = this.series.get(id);
    if (!s) { s = []; this.series.set(id, s); }
    s.push(Number(value) || 0);
    if (s.length > HISTORY) s.shift();
    return s;
  }
  get(id) { return this.series.get(id) || []; }
  prune(ids) { for (const k of this.series.keys()) if (!ids.has(k)) this.series.delete(k); }
}

// Canvases out of view are not redrawn: with 50 rows most are below the
// fold, and their lines are drawn when they scroll in.
const visibility = typeof IntersectionObserver === 'function' ? new IntersectionObserver((entries) => {
  for (const e of entries) {
    e.target.visible = e.isIntersecting;
    if (e.isIntersecting && e.target.pending) { draw(e.target, ...e.target.pending); e.target.pending = null; }
  }
}) : null;

export function sparkline(cell, values, { max = 100, label = '' } = {}) {
  let c = cell.querySelector('canvas');
  let t = cell.querySelector('span');
  if (!c) {
    c = document.createElement('canvas');
    c.width = 80; c.height = 20;
    c.setAttribute('aria-hidden', 'true');
    t = document.createElement('span');
    t.className = 'spark-value';
    const box = document.createElement('div');
    box.className = 'spark-box';
    box.append(c, t);
    cell.replaceChildren(box);
    if (visibility) { c.visible = false; visibility.observe(c); }
  }
  if (t.textContent !== label) t.textContent = label;
  if (visibility && !c.visible) { c.pending = [values, max]; return; }
  draw(c, values, max);
}

function draw(c, values, max) {
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  if (values.length < 2) return;
  const top = Math.max(max, ...values);
  g.beginPath();
  values.forEach((v, i) => {
    const x = (i / (HISTORY - 1)) * c.width;
    const y = c.height - 1 - (v / top) * (c.height - 2);
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.strokeStyle = '#2b7de9';
  g.lineWidth = 1.5;
  g.stroke();
}
