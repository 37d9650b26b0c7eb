// The API client: every call sends the signed-in key in the X-API-Key
// header (never in a URL or a cookie). The key lives in sessionStorage:
// it is gone when the tab closes.

const KEY = 'forge.key', ROLE = 'forge.role', DB = 'forge.db';

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  // 'admin', 'read-write' or 'read-only'
  get role() { return sessionStorage.getItem(ROLE); },
  // the database of a database key; null for the admin key
  get db() { return sessionStorage.getItem(DB); },
  get admin() { return this.role === 'admin'; },
  // canWrite: may this key change the database it opens?
  get canWrite() { return this.role === 'admin' || this.role === 'read-write'; },
  set(key, role, db) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
    if (db) sessionStorage.setItem(DB, db); else sessionStorage.removeItem(DB);
  },
  clear() { sessionStorage.removeItem(KEY); sessionStorage.removeItem(ROLE); sessionStorage.removeItem(DB); },
};

// APIError is an error answer: its status, code and the API's detail
// (SQLite's own message for an SQL error).
export class APIError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

// api calls the API. query is an object or a URLSearchParams; body is
// sent as JSON. It answers the decoded JSON body, or with full: true
// {data, headers}, or with raw: true the Response itself.
export async function api(method, path, { query, body, key, full, raw } = {}) {
  const headers = { 'X-API-Key': key ?? session.key ?? '' };
  let url = path;
  if (query) {
    const q = (query instanceof URLSearchParams ? query : new URLSearchParams(query)).toString();
    if (q) url += '?' + q;
  }
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  if (raw && res.ok) return res;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text, exact) : null; } catch { data = text; }
  if (!res.ok) {
    const code = data?.error?.code ?? 'HTTP_' + res.status;
    throw new APIError(res.status, code, data?.detail ?? (text || res.statusText));
  }
  return full ? { data, headers: res.headers } : data;
}

// Exact is a number JavaScript would change: an integer past 2^53, or a
// REAL written 36.0 (SQLite's type shows in its text). It keeps the
// answer's text, and still counts as a number in arithmetic.
export class Exact {
  constructor(source) { this.source = source; }
  toString() { return this.source; }
  valueOf() { return Number(this.source); }
  toJSON() { return Number(this.source); }
}

// exact is JSON.parse's reviver: numbers whose text says more than the
// JavaScript number become Exact (where the browser gives the source).
function exact(_key, v, ctx) {
  if (typeof v === 'number' && ctx?.source !== undefined && String(v) !== ctx.source) return new Exact(ctx.source);
  return v;
}

// dbPath is the path of a database's routes under prefix ('/api/db' or '/admin/databases').
export const dbPath = (prefix, name, ...rest) =>
  [prefix, encodeURIComponent(name), ...rest.map(encodeURIComponent)].join('/');
