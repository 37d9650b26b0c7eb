// The console's entry point: sign-in, navigation and the router. Pages
// live in their own modules; each renders into a fresh element, so a
// page left while its requests run writes into nothing visible.

import { api, session, dbPath, APIError } from './api.js';
import { h, replace, add, errorBox } from './ui.js';
import { databasesPage } from './databases.js';
import { databasePage } from './database.js';
import { statusPage } from './status.js';

const main = document.getElementById('main');

// parse reads the location's hash: #/databases, #/db/<name>/<tab>[/<table>], #/status.
function parse() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] ?? '', args: parts.slice(1) };
}

function nav(current) {
  const link = (href, label, id, active) => h('a', { href, id, class: active ? 'active' : null }, label);
  const links = session.admin
    ? [link('#/databases', 'Databases', 'nav-databases', current === 'databases' || current === 'db'),
      link('#/status', 'Status', 'nav-status', current === 'status')]
    : [link(dbPath('#/db', session.db), session.db, 'nav-db', true)];
  replace(document.getElementById('nav'), links, h('a', { href: '/docs', target: '_blank', rel: 'noopener' }, 'API docs'));
  replace(document.getElementById('who'),
    h('span', { class: 'badge ' + session.role, id: 'role' }, session.admin ? 'admin key' : session.role + ' key'),
    h('button', { id: 'signout', onclick: () => { session.clear(); location.hash = '#/'; render(); } }, 'Sign out'));
}

async function render() {
  const { page, args } = parse();
  const root = h('div');
  main.replaceChildren(root);
  if (!session.key) {
    replace(document.getElementById('nav'));
    replace(document.getElementById('who'));
    signIn(root);
    rendered();
    return;
  }
  nav(page);
  // A database key opens its own database only: any other page is it.
  if (!session.admin && (page !== 'db' || args[0] !== session.db)) {
    location.replace(dbPath('#/db', session.db));
    return;
  }
  try {
    switch (page) {
      case 'db': await databasePage(root, args[0], args[1], args[2]); break;
      case 'status': await statusPage(root); break;
      default: await databasesPage(root);
    }
  } catch (err) {
    if (err instanceof APIError && err.status === 401) { // revoked, expired, deleted
      session.clear();
      signIn(root, err.message);
      return;
    }
    add(root, errorBox(err));
  }
  rendered();
}

// rendered marks the first page drawn (performance.mark), for the
// console's own measure of its time to first render.
function rendered() {
  if (!performance.getEntriesByName('console-rendered').length) performance.mark('console-rendered');
}

// signIn asks for a key and finds what it may do: the admin key lists
// databases; a database key is refused there (403) and needs its
// database's name; it reads checkpoints only if it may write.
function signIn(root, why) {
  const key = h('input', { id: 'signin-key', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'dbf_… or the admin key' });
  const db = h('input', { id: 'signin-db', autocomplete: 'off', spellcheck: 'false', placeholder: 'only for a database key' });
  const msg = h('div');
  const go = h('button', { id: 'signin-go', class: 'primary', type: 'submit' }, 'Sign in');
  const form = h('form', {
    class: 'card signin', onsubmit: async e => {
      e.preventDefault();
      go.disabled = true;
      try {
        const k = key.value.trim();
        const role = await probe(k, db.value.trim());
        session.set(k, role, role === 'admin' ? null : db.value.trim());
        if (location.hash === '' || location.hash === '#/') location.hash = session.admin ? '#/databases' : dbPath('#/db', session.db);
        else render();
      } catch (err) {
        replace(msg, errorBox(err));
      } finally { go.disabled = false; }
    },
  },
  h('h1', null, 'Sign in'),
  h('p', { class: 'muted' }, 'With the admin key (', h('code', null, '<data dir>/.forge/admin.key'),
    ') or a key of one database. The key stays in this tab (sessionStorage) and goes to the API in a header only.'),
  why ? h('div', { class: 'error' }, why) : null,
  h('label', { for: 'signin-key' }, 'API key'), key,
  h('label', { for: 'signin-db' }, 'Database (for a database key)'), db,
  h('p', null, go), msg);
  add(root, form);
  key.focus();
}

async function probe(key, db) {
  if (!key) throw new APIError(0, '', 'Enter a key.');
  try {
    await api('GET', '/admin/databases', { key, query: { limit: 1 } });
    return 'admin';
  } catch (err) {
    if (!(err instanceof APIError) || err.status !== 403) throw err;
  }
  if (!db) throw new APIError(403, 'FORBIDDEN', 'This is a database key: enter the name of its database too.');
  await api('GET', dbPath('/api/db', db, 'tables'), { key });
  try {
    await api('GET', dbPath('/api/db', db, 'checkpoints'), { key });
    return 'read-write';
  } catch (err) {
    if (err instanceof APIError && err.code === 'READ_ONLY_KEY') return 'read-only';
    throw err;
  }
}

addEventListener('hashchange', render);
render();
