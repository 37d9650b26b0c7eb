// One database: its details (admin), and tabs for its schema, its rows,
// an SQL editor, its keys (admin), checkpoints and branches (keys that
// may write), and exports. What the key may not do is not offered: write
// controls (marked data-write) are built only for a key that may write.

import { api, session, dbPath } from './api.js';
import { h, replace, add, value, isNumber, bytes, when, flash, errorBox, secretBox, busy, confirmTyped } from './ui.js';
import { TTLS } from './databases.js';

export async function databasePage(root, name, tab, arg) {
  const tabs = [['rows', 'Rows'], ['schema', 'Schema'], ['sql', 'SQL'],
    ...(session.admin ? [['keys', 'Keys']] : []),
    ...(session.canWrite ? [['checkpoints', 'Checkpoints']] : []),
    ['export', 'Export']];
  if (!tabs.some(([t]) => t === tab)) tab = 'rows';
  const body = h('div', { id: 'tab-' + tab });
  // The details card (admin), drawn again after a tab changed the database.
  let info = session.admin ? await details(name) : null;
  const changed = async () => {
    if (info) try { const fresh = await details(name); info.replaceWith(fresh); info = fresh; } catch { /* keep the old card */ }
  };
  add(root,
    h('h1', null, session.admin ? h('a', { href: '#/databases' }, 'Databases') : null, session.admin ? ' / ' : null, name,
      session.role === 'read-only' ? h('span', { class: 'badge read-only' }, ' read-only') : null),
    info,
    h('nav', { class: 'tabs' }, tabs.map(([t, label]) =>
      h('a', { href: dbPath('#/db', name, t), id: 'tab-link-' + t, class: t === tab ? 'active' : null }, label))),
    body);
  const pages = { rows: rowsTab, schema: schemaTab, sql: sqlTab, keys: keysTab, checkpoints: checkpointsTab, export: exportTab };
  await pages[tab](body, name, arg, changed);
}

// details: what the admin route knows of the database, and its lease.
async function details(name) {
  const d = await api('GET', dbPath('/admin/databases', name));
  const ttl = h('select', { id: 'lease-ttl' }, TTLS.map(([v, l]) => h('option', { value: v }, l)));
  const set = h('button', { 'data-write': '' }, 'Set lease');
  set.onclick = () => busy(set, async () => {
    const r = await api('POST', dbPath('/admin/databases', name, 'lease'), { body: { ttl: ttl.value ? Number(ttl.value) : null } });
    flash(r.expires_at ? `${name} now expires ${new Date(r.expires_at).toLocaleString()}.` : `${name} has no lease now.`);
    location.reload();
  });
  const item = (k, v) => h('div', null, h('dt', null, k), h('dd', null, v));
  return h('div', { class: 'card row spread', id: 'db-details' },
    h('dl', { class: 'kv' },
      item('status', h('span', { class: 'badge ' + d.status }, d.status)),
      item('size', `${bytes(d.size_bytes)} (${d.tables} tables)`),
      item('created', when(d.created_at)), item('last used', when(d.last_used_at)),
      item('expires', d.expires_at ? when(d.expires_at) : 'never'),
      item('keys', `${d.keys.active} active of ${d.keys.total}`),
      d.damaged ? item('damaged', d.damage) : null),
    h('div', { class: 'row' }, 'lease from now:', ttl, set));
}

// --- Schema ---------------------------------------------------------------

async function schemaTab(body, name) {
  const [schema, counts] = await Promise.all([
    api('GET', dbPath('/api/db', name, 'schema')), api('GET', dbPath('/api/db', name, 'tables'))]);
  const rows = Object.fromEntries(counts.tables.map(t => [t.name, t.rows]));
  if (!schema.tables.length) add(body, h('p', { class: 'muted' }, 'No table yet. Create one in the SQL tab.'));
  for (const t of schema.tables) {
    const drop = session.canWrite ? h('button', { class: 'danger', 'data-write': '' }, 'Drop') : null;
    if (drop) drop.onclick = async () => {
      if (!await confirmTyped(`Drop the ${t.type} ${t.name} and its rows, indexes and triggers?`, t.name, 'Drop')) return;
      await busy(drop, async () => { await api('DELETE', dbPath('/api/db', name, 'tables', t.name)); flash(`Dropped ${t.name}.`); location.reload(); });
    };
    add(body, h('div', { class: 'card', 'data-table': t.name },
      h('div', { class: 'row spread' },
        h('h3', null, t.name, ' ', h('span', { class: 'muted' }, t.type, rows[t.name] != null ? ` · ${rows[t.name]} rows` : '')),
        h('div', { class: 'row' }, h('a', { href: dbPath('#/db', name, 'rows', t.name) }, 'Browse rows'), drop)),
      h('table', null,
        h('thead', null, h('tr', null, ['column', 'type', 'primary key', 'not null', 'default'].map(c => h('th', null, c)))),
        h('tbody', null, t.columns.map(c => h('tr', null,
          h('td', null, c.name), h('td', null, c.type ?? ''), h('td', null, c.pk ? String(c.pk) : ''),
          h('td', null, c.not_null ? 'yes' : ''), h('td', null, c.default ?? '', c.generated ? ' (generated)' : ''))))),
      t.indexes?.length ? [h('h3', null, 'Indexes'), h('ul', null, t.indexes.map(i =>
        h('li', null, i.name, ' (', i.columns.join(', '), ')', i.unique ? ' unique' : '')))] : null,
      t.foreign_keys?.length ? [h('h3', null, 'Foreign keys'), h('ul', null, t.foreign_keys.map(f =>
        h('li', null, f.columns.join(', '), ' → ', f.table, ' (', (f.to ?? []).join(', '), ')')))] : null,
      t.triggers?.length ? [h('h3', null, 'Triggers'), h('ul', null, t.triggers.map(g => h('li', null, g.name)))] : null));
  }
}

// --- Rows -----------------------------------------------------------------

const OPS = ['exact', 'not', 'gt', 'gte', 'lt', 'lte', 'contains', 'startswith', 'endswith', 'like', 'glob', 'in', 'isnull', 'notnull'];
const OP_LABEL = { exact: '=', not: '≠', gt: '>', gte: '≥', lt: '<', lte: '≤' };

async function rowsTab(body, name, table) {
  const { tables } = await api('GET', dbPath('/api/db', name, 'tables'));
  if (!tables.length) { add(body, h('p', { class: 'muted' }, 'No table yet. Create one in the SQL tab.')); return; }
  if (!tables.some(t => t.name === table)) table = tables[0].name;
  const pick = h('select', { id: 'rows-table', onchange: () => { location.hash = dbPath('#/db', name, 'rows', pick.value); } },
    tables.map(t => h('option', { value: t.name, selected: t.name === table }, t.name)));

  // The state: filters, one sort key, the page size, and the tokens of
  // the pages before this one (keyset pages: _next).
  let columns = [], filters = [], sort = null, tokens = [], token = null;
  const size = h('select', { id: 'rows-size' }, [10, 25, 50, 100, 500].map(n => h('option', { value: n, selected: n === 25 }, n)));
  const filterBox = h('div', { id: 'filters' });
  const grid = h('div', { class: 'grid', id: 'rows-grid' });
  const info = h('span', { id: 'rows-info', class: 'muted' });
  const prev = h('button', { id: 'rows-prev', disabled: true }, '← Previous');
  const next = h('button', { id: 'rows-next', disabled: true }, 'Next →');
  const msg = h('div');
  let nextToken = null;

  function query() {
    const q = new URLSearchParams();
    for (const f of filters) q.append(f.op === 'exact' ? f.col : `${f.col}__${f.op}`, f.val);
    if (sort) q.append(sort.desc ? '_sort_desc' : '_sort', sort.col);
    return q;
  }

  let seq = 0; // the latest load; an older one's answer is dropped
  async function load() {
    const mine = ++seq;
    const q = query();
    q.set('_size', size.value);
    q.set('_count', '1');
    q.set('_shape', 'arrays');
    if (token) q.set('_next', token);
    let r;
    try {
      r = await api('GET', dbPath('/api/db', name, 'tables', table, 'rows'), { query: q });
    } catch (err) { if (mine === seq) replace(msg, errorBox(err)); return; }
    if (mine !== seq) return;
    replace(msg);
    columns = r.columns;
    nextToken = r.next;
    const first = tokens.length * Number(size.value);
    replace(info, r.rows.length ? `rows ${first + 1}–${first + r.rows.length} of ${r.count}` : `no rows (of ${r.count})`);
    prev.disabled = !tokens.length;
    next.disabled = !nextToken;
    replace(grid, h('table', null,
      h('thead', null, h('tr', null, columns.map(c => h('th', {
        class: 'sortable', 'data-col': c, title: 'Sort by ' + c,
        onclick: () => {
          sort = sort?.col !== c ? { col: c, desc: false } : sort.desc ? null : { col: c, desc: true };
          restart();
        },
      }, c, sort?.col === c ? (sort.desc ? ' ▼' : ' ▲') : '')))),
      h('tbody', null, r.rows.map(row => h('tr', null, row.map(v =>
        h('td', { class: isNumber(v) ? 'num' : null }, value(v))))))));
    if (!filterBox.childElementCount) renderFilters();
  }
  const restart = () => { tokens = []; token = null; load(); };
  prev.onclick = () => { token = tokens.pop() ?? null; load(); };
  next.onclick = () => { tokens.push(token); token = nextToken; load(); };
  size.onchange = restart;

  function renderFilters() {
    replace(filterBox, filters.map((f, i) => {
      const col = h('select', { class: 'col', onchange: () => { f.col = col.value; } }, columns.map(c => h('option', { value: c, selected: c === f.col }, c)));
      const op = h('select', {
        class: 'op', onchange: () => {
          f.op = op.value;
          if ((f.op === 'isnull' || f.op === 'notnull') && !val.value) { val.value = f.val = '1'; }
        },
      }, OPS.map(o => h('option', { value: o, selected: o === f.op }, OP_LABEL[o] ?? o)));
      const val = h('input', { class: 'val', value: f.val, placeholder: 'value', oninput: () => { f.val = val.value; } });
      return h('div', { class: 'filter' }, col, op, val, h('button', { title: 'Remove', onclick: () => { filters.splice(i, 1); renderFilters(); restart(); } }, '×'));
    }),
    h('div', { class: 'row' },
      h('button', { id: 'filter-add', onclick: () => { filters.push({ col: columns[0], op: 'exact', val: '' }); renderFilters(); } }, '+ Filter'),
      filters.length ? h('button', { id: 'rows-apply', class: 'primary', onclick: restart }, 'Apply') : null,
      session.canWrite && filters.length ? deleteMatching() : null));
  }

  // A key that may write deletes the rows the filters match.
  function deleteMatching() {
    const b = h('button', { class: 'danger', id: 'rows-delete', 'data-write': '' }, 'Delete matching rows');
    b.onclick = async () => {
      if (!await confirmTyped(`Delete every row of ${table} that the filters match?`, 'delete', 'Delete rows')) return;
      await busy(b, async () => {
        const r = await api('DELETE', dbPath('/api/db', name, 'tables', table, 'rows'), { query: query() });
        flash(`Deleted ${r.rows_affected} rows.`);
        restart();
      });
    };
    return b;
  }

  add(body, h('div', { class: 'row spread' }, h('div', { class: 'row' }, 'Table', pick), h('label', null, 'Rows per page ', size)),
    h('div', { class: 'card' }, filterBox), msg, grid,
    h('div', { class: 'row' }, prev, next, info),
    session.canWrite ? insertForm(name, table, () => columns, restart) : null);
  await load();
}

// insertForm adds one row: a field per column; an empty field takes the
// column's default. Values go as text; SQLite's column affinity stores
// '42' as 42 in an INTEGER column.
function insertForm(name, table, columns, done) {
  const box = h('div', { class: 'card', 'data-write': '' });
  const open = h('button', { id: 'row-add', onclick: () => build() }, '+ Insert a row');
  function build() {
    const fields = columns().map(c => [c, h('input', { 'data-col': c, placeholder: c })]);
    const go = h('button', { class: 'primary', id: 'row-insert', type: 'submit' }, 'Insert');
    replace(box, h('form', {
      class: 'row', onsubmit: e => {
        e.preventDefault();
        busy(go, async () => {
          const row = Object.fromEntries(fields.filter(([, i]) => i.value !== '').map(([c, i]) => [c, i.value]));
          await api('POST', dbPath('/api/db', name, 'tables', table, 'rows'), { body: { rows: [row] } });
          flash('Row inserted.');
          fields.forEach(([, i]) => { i.value = ''; });
          done();
        });
      },
    }, fields.map(([c, i]) => h('label', null, c, ' ', i)), go));
  }
  return add(box, open);
}

// --- SQL ------------------------------------------------------------------

const MAX_ROWS = 1000;

async function sqlTab(body, name, _arg, changed) {
  const store = 'forge.sql.' + name;
  const history = () => JSON.parse(localStorage.getItem(store) ?? '[]');
  const text = h('textarea', { id: 'sql-text', rows: 8, spellcheck: 'false', placeholder: 'SELECT * FROM …   (Ctrl+Enter runs)' });
  text.value = history()[0] ?? '';
  const run = h('button', { id: 'sql-run', class: 'primary' }, 'Run');
  const out = h('div', { id: 'sql-result' });
  const list = h('ul', { class: 'history', id: 'sql-history' });

  function showHistory() {
    replace(list, history().map(s => h('li', { title: 'Put back in the editor', onclick: () => { text.value = s; text.focus(); } }, s)));
  }
  function remember(sql) {
    localStorage.setItem(store, JSON.stringify([sql, ...history().filter(s => s !== sql)].slice(0, 50)));
    showHistory();
  }

  async function exec() {
    const sql = text.value.trim();
    if (!sql) return;
    remember(sql);
    replace(out, h('p', { class: 'muted' }, 'Running…'));
    run.disabled = true;
    try {
      const r = await api('POST', dbPath('/api/db', name, 'query'), { body: { sql, max_rows: MAX_ROWS, shape: 'arrays' } });
      const ms = r.meta ? ` in ${r.meta.duration_ms} ms` : '';
      if (r.columns) {
        replace(out,
          h('p', { class: 'ok' }, `${r.rows.length} rows${ms}`, r.truncated ? ` (the first ${MAX_ROWS})` : ''),
          h('div', { class: 'grid' }, h('table', null,
            h('thead', null, h('tr', null, r.columns.map(c => h('th', null, c)))),
            h('tbody', null, r.rows.map(row => h('tr', null, row.map(v =>
              h('td', { class: isNumber(v) ? 'num' : null }, value(v)))))))));
      } else {
        replace(out, h('p', { class: 'ok' }, `${r.message} ${r.rows_affected} rows affected${ms}.`));
        changed();
      }
    } catch (err) {
      replace(out, h('div', { id: 'sql-error' }, errorBox(err)));
    } finally { run.disabled = false; }
  }
  run.onclick = exec;
  text.addEventListener('keydown', e => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); exec(); }
  });
  showHistory();
  add(body, h('div', { class: 'cols' },
    h('div', null, text,
      h('div', { class: 'row' }, run, h('span', { class: 'muted' }, 'Ctrl+Enter runs. One statement at a time.',
        session.role === 'read-only' ? ' This key is read-only: statements that write are refused.' : '')),
      out),
    h('div', { class: 'card' }, h('h3', null, 'History'), h('p', { class: 'muted' }, 'Kept in this browser, per database.'), list)));
  text.focus();
}

// --- Keys (admin) ---------------------------------------------------------

const EXPIRIES = [['', 'never'], ['3600', '1 hour'], ['86400', '1 day'], ['2592000', '30 days'], ['31536000', '1 year']];

async function keysTab(body, name, _arg, changed) {
  const list = h('div', { id: 'keys-list' });
  const minted = h('div');
  const scope = h('select', { id: 'key-scope' }, ['read-only', 'read-write'].map(s => h('option', { value: s }, s)));
  const expiry = h('select', { id: 'key-expiry' }, EXPIRIES.map(([v, l]) => h('option', { value: v }, l)));
  const mint = h('button', { id: 'key-mint', class: 'primary', type: 'submit' }, 'Mint a key');

  async function load() {
    const keys = await api('GET', dbPath('/admin/databases', name, 'keys'));
    replace(list, keys.length ? h('table', null,
      h('thead', null, h('tr', null, ['id', 'prefix', 'scope', 'created', 'expires', 'state', ''].map(c => h('th', null, c)))),
      h('tbody', null, keys.map(k => {
        const expired = k.expires_at && new Date(k.expires_at) < new Date();
        const state = k.revoked ? 'revoked' : expired ? 'expired' : 'active';
        return h('tr', { 'data-key-id': k.id },
          h('td', null, h('code', null, k.id)), h('td', null, h('code', null, k.prefix, '…')),
          h('td', null, h('span', { class: 'badge ' + k.scope }, k.scope)),
          h('td', null, when(k.created_at)), h('td', null, k.expires_at ? when(k.expires_at) : 'never'),
          h('td', { class: 'state' }, h('span', { class: 'badge ' + state }, state), k.revoked ? [' ', when(k.revoked_at)] : null),
          h('td', null, state === 'active' ? revoke(k) : null));
      })))
      : h('p', { class: 'muted' }, 'No key.'));
  }

  // revoke asks twice: the first click arms the button for a few seconds.
  function revoke(k) {
    const b = h('button', { class: 'danger revoke' }, 'Revoke');
    b.onclick = () => {
      if (!b.dataset.armed) {
        b.dataset.armed = '1';
        b.textContent = 'Confirm revoke';
        setTimeout(() => { delete b.dataset.armed; b.textContent = 'Revoke'; }, 4000);
        return;
      }
      busy(b, async () => {
        await api('DELETE', dbPath('/admin/databases', name, 'keys', k.id));
        flash(`Revoked ${k.prefix}…: it opens nothing from now on.`);
        await load();
        changed();
      });
    };
    return b;
  }

  add(body,
    h('form', {
      class: 'card row', onsubmit: e => {
        e.preventDefault();
        busy(mint, async () => {
          const req = { scope: scope.value };
          if (expiry.value) req.expires_in = Number(expiry.value);
          const k = await api('POST', dbPath('/admin/databases', name, 'keys'), { body: req });
          replace(minted, secretBox(`New ${k.scope} key ${k.prefix}…`, k.key));
          await load();
          changed();
        });
      },
    }, h('label', null, 'scope ', scope), h('label', null, 'expires ', expiry), mint),
    minted, list);
  await load();
}

// --- Checkpoints and branches (keys that may write) -------------------------

async function checkpointsTab(body, name) {
  const list = h('div', { id: 'checkpoints-list' });
  const cpName = h('input', { id: 'checkpoint-name', placeholder: 'name (optional)', autocomplete: 'off' });
  const create = h('button', { id: 'checkpoint-create', class: 'primary', type: 'submit' }, 'Take a checkpoint');
  const branchOut = h('div');

  async function load() {
    const { checkpoints } = await api('GET', dbPath('/api/db', name, 'checkpoints'));
    replace(list, checkpoints.length ? h('table', null,
      h('thead', null, h('tr', null, ['name', 'taken', 'size', '', ''].map(c => h('th', null, c)))),
      h('tbody', null, checkpoints.map(c => h('tr', { 'data-checkpoint': c.name },
        h('td', null, c.name, c.auto ? h('span', { class: 'badge' }, ' auto') : null),
        h('td', null, when(c.created_at)), h('td', { class: 'num' }, bytes(c.size_bytes)),
        h('td', null, h('div', { class: 'row' },
          twoStep('Restore', `Restored ${name} to ${c.name} (the state it replaced is an automatic checkpoint).`,
            () => api('POST', dbPath('/api/db', name, 'checkpoints', c.name, 'restore'))),
          twoStep('Delete', `Deleted the checkpoint ${c.name}.`,
            () => api('DELETE', dbPath('/api/db', name, 'checkpoints', c.name))))),
        h('td', null, session.admin ? branchButton(c.name) : null)))))
      : h('p', { class: 'muted' }, 'No checkpoint.'));
  }
  function twoStep(label, done, fn) {
    const b = h('button', { class: label === 'Delete' ? 'danger' : null, 'data-write': '' }, label);
    b.onclick = () => {
      if (!b.dataset.armed) {
        b.dataset.armed = '1';
        b.textContent = 'Confirm ' + label.toLowerCase();
        setTimeout(() => { delete b.dataset.armed; b.textContent = label; }, 4000);
        return;
      }
      busy(b, async () => { await fn(); flash(done); await load(); });
    };
    return b;
  }
  // A branch is a new database (spawn with "from"): the admin's.
  function branchButton(checkpoint) {
    return h('button', {
      type: 'button', class: 'branch', onclick: () => {
        const to = h('input', { id: 'branch-name', placeholder: 'new database name', autocomplete: 'off' });
        const go = h('button', { class: 'primary', type: 'submit' }, 'Create branch');
        replace(branchOut, h('form', {
          class: 'card row', onsubmit: e => {
            e.preventDefault();
            busy(go, async () => {
              const r = await api('POST', dbPath('/admin/databases/spawn', to.value.trim()), { body: { from: name, checkpoint } });
              replace(branchOut, h('div', null, h('p', null, 'Branch ', h('a', { href: dbPath('#/db', r.db_name) }, r.db_name),
                ' made from ', name, checkpoint ? ` at ${checkpoint}` : ' as it is now', '.'),
              r.api_key ? secretBox(`Its read-write key`, r.api_key) : null));
            });
          },
        }, 'Branch of ', name, checkpoint ? ` at ${checkpoint}` : ' now', ' as ', to, go));
        to.focus();
      },
    }, checkpoint ? 'Branch' : 'Branch now');
  }

  add(body,
    h('form', {
      class: 'card row', 'data-write': '', onsubmit: e => {
        e.preventDefault();
        busy(create, async () => {
          const c = await api('POST', dbPath('/api/db', name, 'checkpoints'), { body: cpName.value.trim() ? { name: cpName.value.trim() } : {} });
          flash(`Checkpoint ${c.name} taken.`);
          cpName.value = '';
          await load();
        });
      },
    }, cpName, create, session.admin ? branchButton(null) : null),
    branchOut, list);
  await load();
}

// --- Export ---------------------------------------------------------------

async function exportTab(body, name) {
  const download = (format, ext) => {
    const b = h('button', { id: 'export-' + format }, `Download ${name}${ext}`);
    b.onclick = () => busy(b, async () => {
      const res = await api('GET', dbPath('/api/db', name, 'export'), { query: { format }, raw: true });
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: name + ext });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    });
    return b;
  };
  add(body, h('div', { class: 'card' },
    h('p', null, 'A consistent copy of the database as of now, while its writers go on.'),
    h('div', { class: 'row' }, download('sqlite', '.db'), download('sql', '.sql'))));
}
