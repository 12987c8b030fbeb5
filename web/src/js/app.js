// app.js: the dashboard's shell. It signs in, keeps one live feed of hosts
// and VMs (server-sent events from /api/v1/events, falling back to polling),
// and swaps views by the URL hash. Each view is a module with
// mount(root, live) returning an optional unmount function.
import * as api from './api.js';
import { el, toast } from './ui.js';

const views = {
  hosts: () => import('./views/hosts.js'),
  vms: () => import('./views/vms.js'),
  clusters: () => import('./views/clusters.js'),
  tasks: () => import('./views/tasks.js'),
  qmp: () => import('./views/qmp.js'),
  console: () => import('./views/console.js'),
  energy: () => import('./views/energy.js'),
  settings: () => import('./views/settings.js'),
};

// The live state every view reads: last hosts/vms lists, and subscribers.
class Live {
  constructor() {
    this.hosts = [];
    this.vms = [];
    this.subs = new Set();
    this.source = null;
    this.timer = null;
  }
  subscribe(fn) { this.subs.add(fn); fn(this); return () => this.subs.delete(fn); }
  publish(data) {
    if (data.hosts) this.hosts = data.hosts;
    if (data.vms) this.vms = data.vms;
    this.stamp = Date.now();
    document.getElementById('live').textContent = `live · ${new Date().toLocaleTimeString()}`;
    for (const fn of this.subs) fn(this);
  }
  async poll() {
    try {
      const [h, v] = await Promise.all([api.get('/hosts'), api.get('/vms')]);
      this.publish({ hosts: h.hosts, vms: v.vms });
    } catch (e) {
      document.getElementById('live').textContent = `offline: ${e.message}`;
    }
  }
  start() {
    this.poll();
    if (window.EventSource) {
      this.source = new EventSource('/api/v1/events');
      this.source.onmessage = (m) => { try { this.publish(JSON.parse(m.data)); } catch { /* partial */ } };
      this.source.onerror = () => {
        // No event stream on this agent (or it went away): poll instead.
        this.source.close();
        this.source = null;
        if (!this.timer) this.timer = setInterval(() => this.poll(), 1000);
      };
    } else {
      this.timer = setInterval(() => this.poll(), 1000);
    }
  }
  refresh() { return this.poll(); }
}

function loginView(root) {
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const form = el('form', {
    class: 'login card',
    onsubmit: (e) => {
      e.preventDefault();
      location.href = `/login?token=${encodeURIComponent(input.value.trim())}`;
    },
  },
  el('h2', {}, 'Sign in'),
  el('p', {}, 'Paste the token from the agent\'s state folder (STATE_DIR/token).'),
  el('label', { for: 'token' }, 'Token'), input,
  el('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  root.replaceChildren(form);
  input.focus();
}

let unmount = null;

async function route(live) {
  const name = (location.hash.replace(/^#\/?/, '').split('/')[0]) || 'vms';
  const load = views[name] || views.vms;
  for (const a of document.querySelectorAll('#nav a'))
    a.toggleAttribute('aria-current', a.dataset.view === name);
  const main = document.getElementById('main');
  if (unmount) { unmount(); unmount = null; }
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  try {
    const mod = await load();
    const root = el('section', { class: `view view-${name}` });
    main.replaceChildren(root);
    unmount = mod.mount(root, live, location.hash.split('/').slice(2)) || null;
  } catch (e) {
    main.replaceChildren(el('p', { class: 'error' }, `Cannot show this view: ${e.message}`));
  }
}

async function boot() {
  const main = document.getElementById('main');
  const toggle = document.querySelector('.menu-toggle');
  toggle.addEventListener('click', () => {
    const open = document.body.classList.toggle('nav-open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  document.getElementById('nav').addEventListener('click', () => document.body.classList.remove('nav-open'));
  let ok;
  try {
    ok = await api.signedIn();
  } catch (e) {
    main.replaceChildren(el('p', { class: 'error' }, `The agent does not answer: ${e.message}`));
    return;
  }
  if (!ok) {
    document.body.classList.add('signed-out');
    loginView(main);
    return;
  }
  api.onUnauthorized(() => { toast('Your session ended: sign in again', 'error'); setTimeout(() => location.reload(), 1500); });
  document.getElementById('logout').addEventListener('click', async () => { await api.logout(); location.reload(); });
  const live = new Live();
  window.ternLive = live;        // for tests and the browser console
  live.start();
  window.addEventListener('hashchange', () => route(live));
  route(live);
}

boot();
