// api.js: the one way the dashboard talks to ternd. Requests carry the
// session cookie; changes also carry the CSRF token that /api/v1/session
// hands out. A 401 anywhere sends the page back to the sign-in form.

let csrf = null;
export const agent = { host: null };   // the host of the agent we talk to
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function onUnauthorized(fn) {
  listeners.add(fn);
}

async function session() {
  const r = await fetch('/api/v1/session', { credentials: 'same-origin' });
  if (r.status === 401) throw new ApiError(401, 'not signed in');
  const j = await r.json();
  csrf = j.csrf;
  agent.host = j.host || null;
  return j;
}

export async function signedIn() {
  try {
    await session();
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

export async function call(method, path, body) {
  if (method !== 'GET' && !csrf) await session();
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch('/api/v1' + path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let j = null;
  const text = await r.text();
  try { j = text ? JSON.parse(text) : null; } catch { j = { error: text }; }
  if (r.status === 401) listeners.forEach((fn) => fn());
  if (!r.ok) throw new ApiError(r.status, (j && j.error) || `${r.status} ${r.statusText}`);
  return j;
}

export const get = (p) => call('GET', p);
export const post = (p, b = {}) => call('POST', p, b);
export const del = (p) => call('DELETE', p);

export async function logout() {
  await fetch('/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf || '' } });
  csrf = null;
}
