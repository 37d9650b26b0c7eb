// The status page (admin key): the gateway's version and uptime (GET
// /health), and its request rate, latency and open databases from its
// own Prometheus figures (GET /metrics), read every few seconds; the
// rates are the differences between two reads.

import { api } from './api.js';
import { h, svg, replace, add, duration } from './ui.js';

const EVERY = 2000; // ms between reads
const POINTS = 90;  // the chart's width in reads (3 minutes)

// parse reads the Prometheus text format into [{name, labels, value}].
export function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// figures sums what the page shows from one read of /metrics.
function figures(samples) {
  const f = { requests: 0, durSum: 0, durCount: 0, buckets: new Map(), gauges: {} };
  for (const s of samples) {
    switch (s.name) {
      case 'forge_http_requests_total': f.requests += s.value; break;
      case 'forge_http_request_duration_seconds_sum': f.durSum += s.value; break;
      case 'forge_http_request_duration_seconds_count': f.durCount += s.value; break;
      case 'forge_http_request_duration_seconds_bucket':
        f.buckets.set(s.labels.le, (f.buckets.get(s.labels.le) ?? 0) + s.value); break;
      default: f.gauges[s.name] = (f.gauges[s.name] ?? 0) + s.value;
    }
  }
  return f;
}

// quantile estimates the q-quantile (seconds) of the requests between two
// reads from the histogram's cumulative buckets: the upper bound of the
// first bucket that holds it.
function quantile(q, a, b) {
  const bounds = [...b.buckets.keys()].filter(le => le !== '+Inf').map(Number).sort((x, y) => x - y);
  const total = b.durCount - a.durCount;
  if (total <= 0) return null;
  for (const le of bounds) {
    const key = [...b.buckets.keys()].find(k => Number(k) === le);
    if ((b.buckets.get(key) - (a.buckets.get(key) ?? 0)) >= q * total) return le;
  }
  return Infinity;
}

export async function statusPage(root) {
  const stats = h('div', { class: 'stats', id: 'status-stats' });
  const chart = svg('svg', { class: 'chart', id: 'status-chart', viewBox: '0 0 600 180', preserveAspectRatio: 'none' });
  const checks = h('div', { id: 'status-checks' });
  const legend = h('p', { class: 'legend muted', id: 'status-legend' });
  add(root, h('h1', null, 'Status'), stats,
    h('h2', null, 'Requests'), legend,
    chart, h('h2', null, 'Health checks'), checks);

  const series = [];
  let last = null;
  async function tick() {
    const [health, text] = await Promise.all([
      api('GET', '/health').catch(e => ({ status: 'unavailable', detail: e.message })),
      api('GET', '/metrics')]);
    const f = figures(parse(text)), now = performance.now();
    let rate = null, avg = null, p95 = null;
    if (last) {
      const dt = (now - last.t) / 1000, n = f.durCount - last.f.durCount;
      rate = (f.requests - last.f.requests) / dt;
      avg = n > 0 ? (f.durSum - last.f.durSum) / n * 1000 : 0;
      p95 = quantile(0.95, last.f, f);
      series.push({ rate, avg });
      if (series.length > POINTS) series.shift();
    }
    last = { f, t: now };
    const stat = (label, v, id) => h('div', { class: 'stat', id }, h('div', { class: 'v' }, v), h('div', { class: 'l' }, label));
    const g = f.gauges;
    replace(stats,
      stat('version', health.version ?? '?', 'stat-version'),
      stat('uptime', health.uptime_s != null ? duration(health.uptime_s) : '?', 'stat-uptime'),
      stat('health', health.status, 'stat-health'),
      stat('requests/s', rate == null ? '…' : rate.toFixed(1), 'stat-rate'),
      stat('average latency', avg == null ? '…' : avg.toFixed(2) + ' ms', 'stat-latency'),
      stat('p95 latency (≤ bucket)', p95 == null ? '…' : p95 === Infinity ? '> 30 s' : (p95 * 1000).toFixed(1) + ' ms', 'stat-p95'),
      stat('requests since start', String(f.requests), 'stat-requests'),
      stat('databases open', String(g.forge_engine_open_databases ?? '?'), 'stat-open'),
      stat('in flight', String(g.forge_http_requests_in_flight ?? '?'), 'stat-inflight'),
      stat('transactions open', String(g.forge_transactions_open ?? '?'), 'stat-tx'),
      stat('memory (RSS)', g.process_resident_memory_bytes ? (g.process_resident_memory_bytes / 1048576).toFixed(0) + ' MiB' : '?', 'stat-rss'));
    replace(checks, health.checks ? h('ul', null, Object.entries(health.checks).map(([k, c]) =>
      h('li', null, h('strong', null, k), ': ', c.ok ? h('span', { class: 'ok' }, 'ok') : h('span', { class: 'error' }, c.error ?? 'failing')))) : health.detail ?? '');
    draw(chart, legend, series);
  }

  await tick();
  const timer = setInterval(() => {
    if (!root.isConnected) { clearInterval(timer); return; }
    tick().catch(() => {});
  }, EVERY);
}

// draw plots the request rate (solid) and the average latency (dashed),
// each scaled to its own maximum, which the legend gives (text in a
// stretched SVG would stretch with it).
function draw(chart, legend, series) {
  const W = 600, H = 180, pad = 10;
  const max = key => Math.max(...series.map(p => p[key]), key === 'rate' ? 1 : 0.1);
  const x = i => W - (series.length - 1 - i) * (W / (POINTS - 1));
  const line = (key, cls) => {
    const m = max(key);
    const pts = series.map((p, i) => `${x(i).toFixed(1)},${(H - pad - (p[key] / m) * (H - 2 * pad)).toFixed(1)}`).join(' ');
    return svg('polyline', { class: cls, points: pts });
  };
  replace(chart, svg('line', { class: 'axis', x1: 0, y1: H - pad, x2: W, y2: H - pad }),
    series.length > 1 ? [line('rate', 'rate'), line('avg', 'lat')] : null);
  replace(legend, h('span', { class: 'rate' }, `── requests/s (top: ${max('rate').toFixed(1)})`), '   ',
    h('span', { class: 'lat' }, `- - average latency (top: ${max('avg').toFixed(2)} ms)`),
    `   the last ${POINTS * EVERY / 1000 / 60} minutes, read every ${EVERY / 1000} s, this page's own reads included`);
}
