import { Exact } from './api.js';

// isNumber: a value to align right.
export const isNumber = v => typeof v === 'number' || v instanceof Exact;

// DOM helpers. Every value reaches the page as text: h() appends strings
// as text nodes and sets attributes one by one; nothing here (or in any
// other module of the console) writes HTML from a string.

// h builds an element: h('a', {href: '#/x', onclick: f}, 'text', child, …).
// Attributes: on* are listeners, class is the class name, value and
// checked are properties, true is a bare attribute, null/false nothing.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value' || k === 'checked') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

// add appends children (nested arrays allowed): nodes as they are,
// anything else as text.
export function add(el, ...children) {
  for (const c of [children].flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// svg builds an SVG element the same way.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs ?? {})) if (v != null) el.setAttribute(k, String(v));
  return add(el, children);
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// value renders one SQL value as a node: NULL in grey, a blob as its
// size, a number as is, a string as text.
export function value(v) {
  if (v === null || v === undefined) return h('span', { class: 'null' }, 'NULL');
  if (v instanceof Exact) return v.source;
  if (typeof v === 'object') {
    if (typeof v.$blob === 'string') return h('span', { class: 'null' }, `BLOB (${Math.floor(v.$blob.length * 3 / 4)} bytes)`);
    return JSON.stringify(v);
  }
  return String(v);
}

// table renders rows (objects) under columns as a table.
export function table(columns, rows, { head } = {}) {
  return h('table', null,
    h('thead', null, h('tr', null, head ?? columns.map(c => h('th', null, c)))),
    h('tbody', null, rows.map(r => h('tr', null, columns.map(c =>
      h('td', { class: isNumber(r[c]) ? 'num' : null }, value(r[c])))))));
}

export function bytes(n) {
  if (n == null) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}

// when renders a time: relative, with the exact time as its title.
export function when(t) {
  if (!t) return h('span', { class: 'muted' }, '—');
  const d = new Date(t), s = (d - Date.now()) / 1000, a = Math.abs(s);
  const [n, unit] = a < 60 ? [a, 'second'] : a < 3600 ? [a / 60, 'minute'] : a < 86400 ? [a / 3600, 'hour'] : [a / 86400, 'day'];
  const rel = new Intl.RelativeTimeFormat('en', { numeric: 'auto' }).format(Math.round(n) * Math.sign(s || 1), unit);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, rel);
}

export function duration(sec) {
  const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = Math.floor(sec % 60);
  return (d ? d + 'd ' : '') + (d || hh ? hh + 'h ' : '') + (d || hh || m ? m + 'm ' : '') + s + 's';
}

// flash shows a short message at the bottom right for a few seconds.
export function flash(msg, bad) {
  const box = document.getElementById('flash');
  const el = h('div', { class: bad ? 'bad' : null }, msg);
  box.append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 3500);
}

// errorBox is an error answer as a box: the API's detail (SQLite's
// message for an SQL error) and its code.
export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, err.message, err.code ? h('span', { class: 'muted' }, '  (' + err.code + ')') : null);
}

// copyButton copies text to the clipboard.
export function copyButton(text, label = 'Copy') {
  const b = h('button', {
    type: 'button', onclick: async () => {
      try { await navigator.clipboard.writeText(text); b.textContent = 'Copied'; }
      catch { b.textContent = 'Select and copy by hand'; }
      setTimeout(() => { b.textContent = label; }, 2000);
    },
  }, label);
  return b;
}

// secretBox shows a new key once, with a copy button.
export function secretBox(title, key) {
  return h('div', { class: 'secret', 'data-secret': '' },
    h('div', null, h('strong', null, title), ' — shown this once; the gateway keeps only its hash.'),
    h('div', { class: 'row' }, h('code', { id: 'key-secret' }, key), copyButton(key)));
}

// confirmTyped asks the user to type word to confirm; resolves to true
// when confirmed.
export function confirmTyped(message, word, action = 'Delete') {
  return new Promise(resolve => {
    const input = h('input', { id: 'confirm-input', autocomplete: 'off', spellcheck: 'false' });
    const ok = h('button', { id: 'confirm-ok', class: 'danger primary', disabled: true, type: 'submit', value: 'ok' }, action);
    const dlg = h('dialog', null, h('form', { method: 'dialog' },
      h('p', null, message),
      h('p', null, 'Type ', h('strong', null, word), ' to confirm.'),
      h('p', null, input),
      h('div', { class: 'row' }, ok, h('button', { type: 'button', onclick: () => dlg.close('') }, 'Cancel'))));
    input.addEventListener('input', () => { ok.disabled = input.value !== word; });
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok' && input.value === word); });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

// busy disables a button while an async action runs and reports its error.
export async function busy(button, fn) {
  button.disabled = true;
  try { return await fn(); }
  catch (err) { flash(err.message, true); }
  finally { button.disabled = false; }
}
