// The databases page (admin key): the list with each database's size,
// status, lease and times, a search by name prefix, paging, and create,
// prune and delete.

import { api, dbPath } from './api.js';
import { h, replace, add, bytes, when, flash, errorBox, secretBox, confirmTyped, busy } from './ui.js';

const PAGE = 50;

// TTLs offered at creation, in seconds ('' = no lease).
export const TTLS = [['', 'no lease'], ['3600', '1 hour'], ['86400', '1 day'], ['604800', '7 days'], ['2592000', '30 days']];

export async function databasesPage(root) {
  const search = h('input', { id: 'db-search', type: 'search', placeholder: 'Name starts with…', autocomplete: 'off' });
  const list = h('div', { id: 'db-list' });
  const pager = h('div', { class: 'row' });
  const created = h('div');
  let after = [];  // the cursors of the pages before this one
  let cursor = ''; // this page's

  async function load() {
    const query = { limit: PAGE };
    if (search.value) query.prefix = search.value;
    if (cursor) query.after = cursor;
    const { data, headers } = await api('GET', '/admin/databases', { query, full: true });
    const next = headers.get('X-Next-Cursor');
    const rows = data.map(d => row(d));
    replace(list, data.length ? h('table', null,
      h('thead', null, h('tr', null, ['Name', 'Status', 'Size', 'Expires', 'Created', 'Last used', ''].map(c => h('th', null, c)))),
      h('tbody', null, rows.map(r => r.tr)))
      : h('p', { class: 'muted' }, search.value ? 'No database starts with that.' : 'No database yet: create one above.'));
    replace(pager,
      after.length ? h('button', { id: 'db-prev', onclick: () => { cursor = after.pop(); load(); } }, '← Previous') : null,
      next ? h('button', { id: 'db-next', onclick: () => { after.push(cursor); cursor = next; load(); } }, 'Next →') : null);
    // Sizes and last use come from each database's details, a few at a time.
    await pool(rows, 6, r => r.details());
  }

  function row(d) {
    const size = h('td', { class: 'num' }, '…'), used = h('td', null, '…');
    const expires = h('td', null, d.expires_at ? when(d.expires_at) : h('span', { class: 'muted' }, 'never'));
    const prune = h('button', { class: 'prune', title: 'Remove the instance; the data stays' }, 'Prune');
    const del = h('button', { class: 'danger delete' }, 'Delete');
    prune.onclick = () => busy(prune, async () => {
      await api('POST', dbPath('/admin/databases/prune', d.name));
      flash(`Pruned ${d.name}: its data stays; spawn it again to list it.`);
      load();
    });
    del.onclick = async () => {
      if (!await confirmTyped(`Delete the database ${d.name}, its data, checkpoints and keys, for good?`, d.name)) return;
      await busy(del, async () => {
        await api('DELETE', dbPath('/admin/databases', d.name));
        flash(`Deleted ${d.name}.`);
        load();
      });
    };
    const tr = h('tr', { 'data-db': d.name },
      h('td', null, h('a', { href: dbPath('#/db', d.name) }, d.name)),
      h('td', null, h('span', { class: 'badge ' + d.status }, d.status), d.damaged ? h('span', { class: 'badge damaged', title: d.damage }, 'damaged') : null),
      size, expires, h('td', null, when(d.created_at)), used,
      h('td', null, h('div', { class: 'row' }, prune, del)));
    return {
      tr, details: async () => {
        try {
          const x = await api('GET', dbPath('/admin/databases', d.name));
          replace(size, bytes(x.size_bytes));
          size.title = `${x.tables} tables; file ${x.file_bytes} B, log ${x.wal_bytes} B`;
          replace(used, when(x.last_used_at));
        } catch (err) { replace(size, '?'); replace(used, '?'); size.title = err.message; }
      },
    };
  }

  // Create: a name and a lease.
  const name = h('input', { id: 'db-create-name', placeholder: 'name', required: true, autocomplete: 'off' });
  const ttl = h('select', { id: 'db-create-ttl' }, TTLS.map(([v, l]) => h('option', { value: v }, l)));
  const go = h('button', { id: 'db-create-go', class: 'primary', type: 'submit' }, 'Create');
  const form = h('form', {
    class: 'row', onsubmit: e => {
      e.preventDefault();
      busy(go, async () => {
        const body = ttl.value ? { ttl: Number(ttl.value) } : undefined;
        const r = await api('POST', dbPath('/admin/databases/spawn', name.value.trim()), { body });
        replace(created, r.api_key
          ? secretBox(`Created ${r.db_name}: its read-write key`, r.api_key)
          : h('p', { class: 'muted' }, `${r.db_name} exists already (no new key: mint one on its Keys tab).`));
        name.value = '';
        load();
      });
    },
  }, name, h('label', null, 'lease ', ttl), go);

  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { after = []; cursor = ''; load().catch(err => replace(list, errorBox(err))); }, 250);
  });

  add(root,
    h('div', { class: 'row spread' }, h('h1', null, 'Databases'), search),
    h('div', { class: 'card' }, h('h3', null, 'New database'), form, created),
    list, pager);
  await load();
}

// pool runs fn on each item, at most n at once.
export async function pool(items, n, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}
