// drive.mjs: drives tern's dashboard in headless Chromium (puppeteer-core
// from web/node_modules, Debian's /usr/bin/chromium) for
// tests/integration/test_dashboard.py. Usage: node drive.mjs JSON, where
// JSON is {"url", "token", "shots": DIR, "steps": [{"do": NAME, ...}]}.
// Each step prints one line `RESULT {json}`; a failed step prints
// `FAIL message` and the script exits 1.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const puppeteer = require('puppeteer-core');

const cfg = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function out(step, data) {
  console.log(`RESULT ${JSON.stringify({ step, ...data })}`);
}

async function waitFor(page, fn, arg, timeout, what) {
  try {
    return await page.waitForFunction(fn, { timeout, polling: 200 }, arg);
  } catch (e) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

// A cell of a VM's row, by column: the table's columns are name, cluster,
// host, state, CPU, memory, uptime, actions.
const COL = { host: 3, state: 4, cpu: 5 };
function cellText(page, vm, col) {
  return page.evaluate((vm, col) => {
    const tr = document.querySelector(`tr[data-id="${CSS.escape(vm)}"]`);
    const td = tr && tr.querySelector(`td:nth-child(${col})`);
    return td ? td.textContent.trim() : null;
  }, vm, col);
}

async function clickButton(page, scope, label) {
  const ok = await page.evaluate((scope, label) => {
    const root = document.querySelector(scope);
    const b = root && [...root.querySelectorAll('button')].find((x) => x.textContent.trim() === label);
    if (!b) return false;
    b.click();
    return true;
  }, scope, label);
  if (!ok) throw new Error(`no button "${label}" in ${scope}`);
}

async function shot(page, name) {
  if (!cfg.shots) return;
  fs.mkdirSync(cfg.shots, { recursive: true });
  await page.screenshot({ path: path.join(cfg.shots, `${name}.png`) });
}

// The JSON answers of the requests whose URL matches re, as the page got
// them: [{url, status, body}]; stop() ends the watch.
function watchJson(page, re) {
  const got = [];
  const h = async (r) => {
    if (!re.test(r.url())) return;
    try { got.push({ url: r.url(), status: r.status(), body: await r.json() }); } catch { /* not JSON */ }
  };
  page.on('response', h);
  return { got, stop: () => page.off('response', h) };
}

// {data-k: text} of the dd elements under sel.
const figuresOf = (page, sel) => page.$$eval(`${sel} dd[data-k]`,
  (dds) => Object.fromEntries(dds.map((d) => [d.dataset.k, d.textContent.trim()])));

async function view(page, name) {
  await page.evaluate((n) => { location.hash = `#/${n}`; }, name);
  await waitFor(page, (n) => document.querySelector(`.view-${n}`), name, 10000, `the ${name} view`);
}

// Every process below pid (Chromium's renderer, GPU and utility
// processes), with the CPU time they used (user + system, seconds).
function treeCpu(pid) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push({ pid: Number(d), cpu: (Number(f[11]) + Number(f[12])) / 100 });
    } catch { /* it ended */ }
  }
  let total = 0;
  const walk = (p) => { for (const k of kids.get(p) || []) { total += k.cpu; walk(k.pid); } };
  const self = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = self.slice(self.lastIndexOf(')') + 2).split(' ');
  total += (Number(f[11]) + Number(f[12])) / 100;
  walk(pid);
  return total;
}

const steps = {
  async login(page) {
    await page.goto(`${cfg.url}/`, { waitUntil: 'load' });
    await page.waitForSelector('#token', { timeout: 10000 });
    await shot(page, 'login');
    await page.type('#token', cfg.token);
    // Signing in navigates (/login?token= answers 303 to /). Wait for what
    // matters, the signed-in page's live feed, not for the load event: the
    // wait outlives the navigation, and the feed's open request does not
    // hold it up.
    await page.click('form.login button[type=submit]');
    await waitFor(page, () => window.ternLive && window.ternLive.stamp, null, 120000, 'the live feed after signing in');
    return { url: page.url() };
  },

  async goto(page, s) {
    await view(page, s.view);
    return {};
  },

  // The VM shows up running, and its CPU % label takes several values.
  async cpu(page, s) {
    await view(page, 'vms');
    await waitFor(page, (vm) => {
      const tr = document.querySelector(`tr[data-id="${CSS.escape(vm)}"]`);
      return tr && tr.querySelector('td:nth-child(4)').textContent.trim() === 'running';
    }, s.vm, s.timeout || 120000, `${s.vm} running`);
    const seen = [];
    const until = Date.now() + (s.seconds || 8) * 1000;
    while (Date.now() < until) {
      const v = await cellText(page, s.vm, COL.cpu);
      if (!seen.length || seen[seen.length - 1] !== v) seen.push(v);
      await sleep(500);
    }
    await shot(page, 'vms');
    return { values: seen };
  },

  // Clicks an action button in the VM's row, waits for the state cell.
  async action(page, s) {
    await view(page, 'vms');
    await waitFor(page, (vm) => document.querySelector(`tr[data-id="${CSS.escape(vm)}"]`), s.vm, 30000, s.vm);
    await clickButton(page, `tr[data-id="${s.vm}"]`, s.button);
    await waitFor(page, ([vm, want]) => {
      const tr = document.querySelector(`tr[data-id="${CSS.escape(vm)}"]`);
      return tr && tr.querySelector('td:nth-child(4)').textContent.trim() === want;
    }, [s.vm, s.expect], s.timeout || 30000, `${s.vm} to be ${s.expect}`);
    if (s.shot) await shot(page, s.shot);
    return { state: await cellText(page, s.vm, COL.state) };
  },

  async migrate(page, s) {
    await view(page, 'vms');
    await waitFor(page, (vm) => document.querySelector(`tr[data-id="${CSS.escape(vm)}"]`), s.vm, 30000, s.vm);
    await clickButton(page, `tr[data-id="${s.vm}"]`, 'Migrate');
    await page.waitForSelector('dialog.dlg #migto', { timeout: 5000 });
    await page.select('dialog.dlg #migto', s.to);
    await clickButton(page, 'dialog.dlg', 'Migrate');
    const percents = [];
    let tookShot = false;
    const until = Date.now() + (s.timeout || 240000);
    let status = '';
    while (Date.now() < until) {
      const st = await page.evaluate(() => {
        const d = document.querySelector('dialog.dlg');
        const dd = (k) => { const x = d && d.querySelector(`dd[data-k="${k}"]`); return x ? x.textContent : ''; };
        return { status: dd('Status'), value: d ? d.querySelector('progress').value : -1,
          report: d ? d.querySelector('.report').textContent : '' };
      });
      status = st.status;
      if (!percents.length || percents[percents.length - 1] !== st.value) percents.push(st.value);
      if (!tookShot && st.status === 'active' && st.value > 0) { await shot(page, 'migrate-progress'); tookShot = true; }
      if (['completed', 'failed', 'cancelled'].includes(st.status)) {
        await sleep(300);
        await shot(page, 'migrate-done');
        if (st.status !== 'completed') throw new Error(`migration ${st.status}: ${st.report}`);
        break;
      }
      await sleep(100);
    }
    if (status !== 'completed') throw new Error(`migration not completed: ${status}`);
    await clickButton(page, 'dialog.dlg', 'Close');
    await waitFor(page, ([vm, to]) => {
      const tr = document.querySelector(`tr[data-id="${CSS.escape(vm)}"]`);
      return tr && tr.querySelector('td:nth-child(3)').textContent.trim() === to &&
        tr.querySelector('td:nth-child(4)').textContent.trim() === 'running';
    }, [s.vm, s.to], 60000, `${s.vm} shown running on ${s.to}`);
    return { percents, host: await cellText(page, s.vm, COL.host) };
  },

  async console(page, s) {
    await page.evaluate((vm) => { location.hash = `#/console/${encodeURIComponent(vm)}`; }, s.vm);
    await waitFor(page, (vm) => {
      const st = document.querySelector('.view-console [role=status]');
      return st && st.textContent === `${vm}: connected`;
    }, s.vm, 15000, 'the console to connect');
    // Let the scrollback arrive, then wake the prompt and type.
    await sleep(1000);
    await page.focus('.xterm-helper-textarea');
    await page.keyboard.press('Enter');
    await sleep(500);
    await page.keyboard.type(s.text);
    await page.keyboard.press('Enter');
    const lines = await waitFor(page, ([cmd, want]) => {
      const b = window.ternTerm && window.ternTerm.buffer.active;
      if (!b) return false;
      const ls = [];
      for (let i = 0; i < b.length; i++) ls.push(b.getLine(i).translateToString(true));
      const at = ls.map((l) => l.trimEnd().endsWith(cmd)).lastIndexOf(true);
      return at >= 0 && ls.slice(at + 1).some((l) => l.trim() === want) ? ls.slice(at - 1, at + 3) : false;
    }, [s.text, s.expect], 30000, `"${s.expect}" in the terminal`);
    await shot(page, 'console');
    return { lines: await lines.jsonValue() };
  },

  async qmp(page, s) {
    await view(page, 'qmp');
    await page.waitForFunction((vm) => [...document.querySelectorAll('#qmp-vm option')].some((o) => o.value === vm),
      { timeout: 10000 }, s.vm);
    await page.select('#qmp-vm', s.vm);
    await page.$eval('#qmp-cmd', (t, c) => { t.value = c; }, JSON.stringify(s.command));
    await page.click('form.qmp button[type=submit]');
    await waitFor(page, () => document.querySelector('#qmp-out').textContent.length > 0, null, 10000, 'the reply');
    await shot(page, 'qmp');
    return { reply: await page.$eval('#qmp-out', (e) => e.textContent) };
  },

  async tasks(page) {
    await view(page, 'tasks');
    await waitFor(page, () => document.querySelectorAll('table[aria-label=tasks] tbody tr').length > 0, null, 10000,
      'task rows');
    await sleep(300);
    await shot(page, 'tasks');
    return {
      rows: await page.$$eval('table[aria-label=tasks] tbody tr',
        (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent.trim()))),
    };
  },

  async hosts(page) {
    await view(page, 'hosts');
    await waitFor(page, () => document.querySelectorAll('table[aria-label=hosts] tbody tr').length > 0, null, 10000,
      'host rows');
    await sleep(2500);   // a few samples for the sparklines
    await shot(page, 'hosts');
    return {
      rows: await page.$$eval('table[aria-label=hosts] tbody tr',
        (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent.trim()))),
    };
  },

  // Brings a cluster up from the Clusters view: a bad file first when
  // s.bad is given (its error shown), then s.file; follows the project's
  // card (its state and progress) until every machine runs.
  async clusterup(page, s) {
    await view(page, 'clusters');
    const submit = async (file) => {
      await page.click('#cl-file', { clickCount: 3 });
      await page.keyboard.press('Backspace');
      await page.type('#cl-file', file);
      await clickButton(page, '.view-clusters form', 'Up');
    };
    let bad = null;
    if (s.bad) {
      await submit(s.bad);
      const h = await waitFor(page, () => { const m = document.querySelector('.view-clusters .msg.error'); return m && m.textContent; },
        null, 30000, 'the error of the bad project file');
      bad = await h.jsonValue();
    }
    await submit(s.file);
    const seen = [];
    let shotStarting = false;
    const until = Date.now() + (s.timeout || 400000);
    for (;;) {
      const c = await page.evaluate((name) => {
        const card = document.querySelector(`article[data-cluster="${CSS.escape(name)}"]`);
        if (!card) return null;
        const p = card.querySelector('.progress');
        return { state: card.querySelector('header .state').textContent, progress: p ? p.textContent.trim() : '',
          machines: [...card.querySelectorAll('tbody tr')].map((tr) => [...tr.children].slice(0, 6).map((td) => td.textContent.trim())) };
      }, s.name);
      const err = await page.evaluate(() => { const m = document.querySelector('.view-clusters .msg.error'); return m && m.textContent; });
      if (err) throw new Error(`the page says: ${err}`);
      if (c) {
        const sig = `${c.state} | ${c.progress} | ${c.machines.map((m) => `${m[1]}@${m[3]}:${m[4]}`).join(' ')}`;
        if (seen[seen.length - 1] !== sig) seen.push(sig);
        if (!shotStarting && c.state === 'starting' && c.machines.length) { await shot(page, 'clusters-starting'); shotStarting = true; }
        if (c.state === 'failed') throw new Error(`cluster ${s.name} failed: ${seen.join(' / ')}`);
        if (c.state === 'running' && c.machines.length && c.machines.every((m) => m[4] === 'running')) {
          await sleep(500);
          await shot(page, 'clusters');
          return { bad, seen, state: c.state, machines: c.machines,
            message: await page.$eval('.view-clusters .msg', (e) => e.textContent) };
        }
      }
      if (Date.now() > until) throw new Error(`cluster ${s.name} not running: ${seen.join(' / ') || 'no card'}`);
      await sleep(250);
    }
  },

  // Takes a cluster down from its card (and the confirmation dialog); waits
  // until its card is gone.
  async clusterdown(page, s) {
    await view(page, 'clusters');
    const card = `article[data-cluster="${s.name}"]`;
    await page.waitForSelector(card, { timeout: 30000 });
    await clickButton(page, `${card} header`, 'Down');
    await page.waitForSelector('dialog.dlg', { timeout: 5000 });
    await clickButton(page, 'dialog.dlg', 'Down');
    const seen = [];
    const until = Date.now() + (s.timeout || 240000);
    for (;;) {
      const st = await page.evaluate((sel) => { const c = document.querySelector(sel); return c ? c.querySelector('header .state').textContent : null; }, card);
      if (seen[seen.length - 1] !== st) seen.push(st);
      if (st === null) break;
      const err = await page.evaluate(() => { const m = document.querySelector('.view-clusters .msg.error'); return m && m.textContent; });
      if (err) throw new Error(`the page says: ${err}`);
      if (Date.now() > until) throw new Error(`cluster ${s.name} still listed: ${seen.join(' / ')}`);
      await sleep(250);
    }
    return { seen, message: await page.$eval('.view-clusters .msg', (e) => e.textContent) };
  },

  // The Energy view: the report for s.window (seconds) and its charts, then
  // the plan from "Show plan"; with the JSON answers the page got.
  async energy(page, s) {
    const w = watchJson(page, /\/api\/v1\/consolidate\/(report|plan)/);
    try {
      await view(page, 'energy');
      if (s.window) await page.select('#en-window', String(s.window));
      const win = String(s.window || 86400);
      await waitFor(page, (win) => { const d = document.querySelector('.view-energy dl.summary'); return d && d.dataset.window === win; },
        win, 60000, `the report for ${win} s`);
      const report = [...w.got].reverse().find((x) => x.url.includes(`window=${win}`));
      if (!report) throw new Error(`no report for window=${win} among ${w.got.map((x) => x.url).join(', ')}`);
      const figures = await figuresOf(page, '.view-energy dl.summary');
      const charts = await page.$$eval('.view-energy figure.chart', (fs) => fs.map((f) => ({
        title: f.dataset.chart,
        labels: f.plot.series.slice(1).map((x) => x.label),
        points: f.plot.data[0].length,
        last: f.plot.data.slice(1).map((a) => a[a.length - 1]),
        sums: f.plot.data.slice(1).map((a) => a.reduce((x, y) => x + (y || 0), 0)),
        canvas: !!f.querySelector('canvas'),
      })));
      await clickButton(page, '.view-energy .toolbar', 'Show plan');
      await page.waitForSelector('.view-energy section.plan', { timeout: 60000 });
      const plan = w.got.find((x) => x.url.endsWith('/consolidate/plan'));
      const planText = {
        heading: await page.$eval('.view-energy section.plan h3', (e) => e.textContent),
        migrations: await page.$$eval('.view-energy section.plan li', (ls) => ls.map((l) => l.textContent)),
        figures: await figuresOf(page, '.view-energy section.plan'),
      };
      await sleep(300);
      await shot(page, 'energy');
      return { report: report.body, url: report.url, figures, charts, plan: plan && plan.body, planText };
    } finally {
      w.stop();
    }
  },

  // The Settings view: s.bad ({key: value}) first, whose refusal must be
  // shown; then s.set ({key: value}, keys as "migration.downtime_ms"),
  // saved; then the view again, as it reads the stored settings.
  async settings(page, s) {
    const fill = async (vals) => {
      for (const [k, v] of Object.entries(vals)) {
        const id = `#set-${k.replace('.', '-')}`;
        if (await page.$eval(id, (e) => e.tagName === 'SELECT')) await page.select(id, String(v));
        else {
          await page.click(id, { clickCount: 3 });
          await page.keyboard.press('Backspace');
          await page.type(id, String(v));
        }
      }
      await clickButton(page, '.view-settings form', 'Save');
    };
    const read = async () => {
      await view(page, 'hosts');   // a fresh mount of the settings view
      await view(page, 'settings');
      await waitFor(page, () => document.querySelector('.view-settings form[data-loaded]'), null, 30000, 'the settings');
      return page.$$eval('.view-settings form [id^=set-]', (xs) => Object.fromEntries(xs.map((x) => [x.id.slice(4).replace('-', '.'), x.value])));
    };
    await read();
    let refused = null;
    if (s.bad) {
      await fill(s.bad);
      const h = await waitFor(page, () => { const m = document.querySelector('.view-settings .msg.error'); return m && m.textContent; },
        null, 30000, 'the refusal of the bad value');
      refused = { message: await h.jsonValue(),
        invalid: await page.$$eval('.view-settings [aria-invalid=true]', (xs) => xs.map((x) => x.id)) };
      await shot(page, 'settings-refused');
      await read();   // the stored values again
    }
    await fill(s.set);
    await waitFor(page, () => /^Saved/.test(document.querySelector('.view-settings .msg').textContent), null, 30000, 'the settings to be saved');
    const message = await page.$eval('.view-settings .msg', (e) => e.textContent);
    const after = await read();
    await shot(page, 'settings');
    return { refused, message, after };
  },

  // Screenshots of the given views, as they are (no checks).
  async shots(page, s) {
    for (const v of s.views) {
      await view(page, v);
      await sleep(s.wait || 1500);
      await shot(page, `${s.prefix || ''}${v}`);
    }
    return {};
  },

  async viewport(page, s) {
    await page.setViewport({ width: s.width, height: s.height, deviceScaleFactor: 1, isMobile: !!s.mobile });
    return {};
  },

  // A page of another origin tries a state change with the user's cookie.
  async crossorigin(page, s) {
    const other = await page.browser().newPage();
    await other.goto(`${s.origin}/`, { waitUntil: 'load' });
    const r = await other.evaluate(async (url) => {
      try {
        const x = await fetch(url, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
        return { status: x.status };
      } catch (e) { return { error: String(e) }; }
    }, `${cfg.url}/api/v1/vms/${encodeURIComponent(s.vm)}/pause`);
    await other.close();
    return r;
  },

  // The page's CPU use while the VM list updates: renderer task time
  // (page.metrics) and the CPU time of every Chromium process.
  async bench(page, s) {
    await view(page, 'vms');
    await waitFor(page, (n) => document.querySelectorAll('table[aria-label=VMs] tbody tr').length >= n, s.rows,
      60000, `${s.rows} VM rows`);
    await sleep(3000);
    await page.evaluate(() => { window.__updates = 0; window.ternLive.subscribe(() => { window.__updates++; }); });
    const pid = page.browser().process().pid;
    const m0 = await page.metrics(), c0 = treeCpu(pid), t0 = Date.now();
    await sleep(s.seconds * 1000);
    const m1 = await page.metrics(), c1 = treeCpu(pid), t1 = Date.now();
    const wall = (t1 - t0) / 1000;
    await shot(page, 'vms-50');
    return {
      seconds: wall,
      updates: await page.evaluate(() => window.__updates - 1),
      rows: await page.$$eval('table[aria-label=VMs] tbody tr', (t) => t.length),
      task_pct: (100 * (m1.TaskDuration - m0.TaskDuration)) / wall,
      script_pct: (100 * (m1.ScriptDuration - m0.ScriptDuration)) / wall,
      layout_pct: (100 * (m1.LayoutDuration - m0.LayoutDuration + m1.RecalcStyleDuration - m0.RecalcStyleDuration)) / wall,
      chromium_pct: (100 * (c1 - c0)) / wall,
    };
  },
};

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  defaultViewport: { width: 1280, height: 800 },
});
let rc = 0;
try {
  const page = await browser.newPage();
  page.setDefaultNavigationTimeout(120000);   // a loaded 2-core CI machine
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  globalThis.pageErrors = errors;
  // Requests still open, named when a step fails (a hung load says why).
  const pending = new Set();
  page.on('request', (r) => pending.add(r));
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('requestfailed', (r) => pending.delete(r));
  globalThis.pendingRequests = () => [...pending].map((r) => `${r.method()} ${r.url()}`);
  for (const s of cfg.steps) {
    const fn = steps[s.do];
    if (!fn) throw new Error(`no step ${s.do}`);
    try {
      out(s.do, await fn(page, s));
    } catch (e) {
      e.message = `step ${s.do}: ${e.message}`;
      throw e;
    }
  }
  if (errors.length) out('pageerrors', { errors });
} catch (e) {
  console.log(`FAIL ${e.message}${globalThis.pendingRequests ? `; open requests: ${globalThis.pendingRequests().join(', ') || 'none'}` : ''}` +
    `${globalThis.pageErrors && globalThis.pageErrors.length ? `; page errors: ${globalThis.pageErrors.join(' | ')}` : ''}`);
  rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
