// loadtest/k6/lib.js — what the k6 scenarios share: the run's files (tokens, work blocks, prepared showtimes), the
// custom metrics, the journeys (a browse, a hold, a purchase) and the JSON summary that loadtest/run.sh reads.
//
// Environment (k6 -e): BASE (the service), DIR (the run's directory: loadgen prepare's tokens.txt, blocks.txt,
// stampede-<n>.txt), SUMMARY (where handleSummary writes its JSON), QUICK (1: shorter runs). Without DIR (the
// `make test` guard: `k6 inspect`), the data are empty stand-ins.
import http from 'k6/http';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { Counter, Trend } from 'k6/metrics';

export const BASE = __ENV.BASE || 'http://127.0.0.1:18080';
export const DIR = __ENV.DIR || '';
export const QUICK = __ENV.QUICK === '1';

function lines(name) {
  if (!DIR) return [];
  return open(`${DIR}/${name}`).split('\n').filter((l) => l.length > 0);
}

// One access token per line (loadgen prepare): user n's token is line n.
export const tokens = new SharedArray('tokens', () => lines('tokens.txt'));
// One showtime id per line: the work blocks, 70 two-seat holds each (rows A-J, numbers 1-14).
export const blocks = new SharedArray('blocks', () => lines('blocks.txt'));

// A prepared 200-seat showtime: [id, seat labels].
export function preparedShowtime(n) {
  const [id, seats] = lines(`stampede-${n}.txt`);
  return { id, seats: seats ? seats.split(',') : [] };
}

// Demo data (boxoffice seed --demo): cities and ZIP codes a browse starts from.
export const CITIES = ['new york', 'Chicago', 'los angeles', 'Boston', 'san francisco', 'Houston', 'Seattle',
  'montreal', 'Dallas', 'Philadelphia'];
export const ZIPS = ['10036', '10003', '10023', '02116', '19103', '60601', '94103', '90012'];

export const status2xx = new Counter('status_2xx');
export const status304 = new Counter('status_304');
export const conflicts = new Counter('conflicts_409');
export const rateLimited = new Counter('rate_limited_429');
export const status4xx = new Counter('status_4xx_other');
export const serverErrors = new Counter('server_errors_5xx');
export const transportErrors = new Counter('transport_errors');
export const holdsWon = new Counter('holds_won');
export const holdsLost = new Counter('holds_lost');
export const paid = new Counter('payments_ok');
export const unpaid = new Counter('payments_failed');
export const journeys = new Counter('journeys');
export const holdLatency = new Trend('hold_duration', true);

// 2xx, 304 and 409 (a seat taken) are answers, not failures, for http_req_failed.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 304, 409));

export function count(res) {
  const s = res.status;
  if (s === 0) transportErrors.add(1);
  else if (s >= 500) serverErrors.add(1);
  else if (s === 429) rateLimited.add(1);
  else if (s === 409) conflicts.add(1);
  else if (s === 304) status304.add(1);
  else if (s >= 400) status4xx.add(1);
  else if (s >= 200 && s < 300) status2xx.add(1);
  return res;
}

export function get(path, name) {
  return count(http.get(`${BASE}${path}`, { tags: { name: name || path } }));
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function json(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

// The read journey: search theaters by city (70%) or ZIP (30%) -> a theater -> its movies with their showtimes ->
// the movie's showtimes there -> a showtime -> its seat map. Six requests; fewer when a list comes back empty.
export function browse() {
  journeys.add(1);
  const search = Math.random() < 0.7
    ? get(`/theaters?city=${encodeURIComponent(pick(CITIES))}`, '/theaters?city=')
    : get(`/theaters?zip=${pick(ZIPS)}`, '/theaters?zip=');
  const theaters = (json(search) || {}).items || [];
  if (theaters.length === 0) return;
  const theater = pick(theaters);
  get(`/theaters/${theater.id}`, '/theaters/{id}');
  const movies = (json(get(`/theaters/${theater.id}/movies`, '/theaters/{id}/movies')) || {}).items || [];
  if (movies.length === 0) return;
  const movie = pick(movies);
  const byTheater = (json(get(`/movies/${movie.id}/showtimes?theaterId=${theater.id}`,
    '/movies/{id}/showtimes')) || {}).items || [];
  const showtimes = byTheater.length > 0 ? byTheater[0].showtimes : movie.showtimes || [];
  if (!showtimes || showtimes.length === 0) return;
  const showtime = pick(showtimes);
  get(`/showtimes/${showtime.id}`, '/showtimes/{id}');
  get(`/showtimes/${showtime.id}/seats`, '/showtimes/{id}/seats');
}

function auth(token) {
  return { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
}

// POST /bookings; a 201 is logged as `ACK <id> <seats>` for the invariant checks. Returns the booking id or null.
export function hold(token, showtimeId, seats) {
  const res = count(http.post(`${BASE}/bookings`, JSON.stringify({ showtimeId, seatIds: seats }),
    { headers: auth(token), tags: { name: 'POST /bookings' } }));
  holdLatency.add(res.timings.duration);
  if (res.status === 201) {
    const id = (json(res) || {}).id;
    holdsWon.add(1);
    console.log(`ACK ${id} ${seats.join(',')}`);
    return id;
  }
  holdsLost.add(1);
  return null;
}

export function finalize(token, bookingId) {
  const res = count(http.put(`${BASE}/bookings/${bookingId}/finalize`,
    JSON.stringify({ payment: { token: 'tok_visa' } }),
    { headers: auth(token), tags: { name: 'PUT /bookings/{id}/finalize' } }));
  if (res.status === 200) paid.add(1);
  else unpaid.add(1);
  return res.status === 200;
}

// The uncontended hold of this iteration: request g of the scenario holds pair g mod 70 (row p / 7, numbers
// 2 (p mod 7) + 1 and + 2) of block FIRST + g / 70, for user g mod #tokens, as loadtest/holds.lua does; no seat is
// asked for twice and no user holds more than two seats of a showtime, so every answer should be a 201.
export function uncontended(first) {
  const g = exec.scenario.iterationInTest;
  const p = g % 70;
  const row = String.fromCharCode(65 + Math.floor(p / 7));
  const s1 = 2 * (p % 7) + 1;
  return {
    token: tokens[g % tokens.length],
    showtimeId: blocks[first + Math.floor(g / 70)],
    seats: [`${row}${s1}`, `${row}${s1 + 1}`],
  };
}

// The thresholds every scenario has: no 5xx, no transport error, failures under 1%.
export function thresholds(extra) {
  return Object.assign({
    server_errors_5xx: ['count==0'],
    transport_errors: ['count==0'],
    http_req_failed: ['rate<0.01'],
  }, extra);
}

export const summaryTrendStats = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

function metricValue(data, name, stat) {
  const m = data.metrics[name];
  return m && m.values[stat] !== undefined ? m.values[stat] : 0;
}

// The JSON run.sh reads: requests/s, latency percentiles (ms), answers by status, the custom counters and each
// threshold's verdict.
export function summary(data) {
  const seconds = data.state.testRunDurationMs / 1000;
  const counters = {};
  for (const name of ['status_2xx', 'status_304', 'conflicts_409', 'rate_limited_429', 'status_4xx_other',
    'server_errors_5xx', 'transport_errors', 'holds_won', 'holds_lost', 'payments_ok', 'payments_failed',
    'journeys', 'buyers_without_seat', 'iterations']) {
    counters[name] = metricValue(data, name, 'count');
  }
  const thresholdResults = {};
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [expr, verdict] of Object.entries(metric.thresholds || {})) {
      thresholdResults[`${name}: ${expr}`] = verdict.ok;
    }
  }
  const d = (stat) => metricValue(data, 'http_req_duration', stat);
  const out = {
    tool: 'k6',
    requests: metricValue(data, 'http_reqs', 'count'),
    seconds,
    rps: metricValue(data, 'http_reqs', 'count') / seconds,
    p50_ms: d('med'), p90_ms: d('p(90)'), p95_ms: d('p(95)'), p99_ms: d('p(99)'), max_ms: d('max'),
    hold_ms: {
      p50: metricValue(data, 'hold_duration', 'med'), p99: metricValue(data, 'hold_duration', 'p(99)'),
      max: metricValue(data, 'hold_duration', 'max'),
    },
    failedRate: metricValue(data, 'http_req_failed', 'rate'),
    counters,
    soldOutAfterMs: metricValue(data, 'sale_at_ms', 'max') || null,
    thresholds: thresholdResults,
    thresholdsOk: Object.values(thresholdResults).every((ok) => ok),
  };
  const text = `${__ENV.SCENARIO || 'k6'}: ${out.requests} requests, ${out.rps.toFixed(1)}/s, p99 ` +
    `${out.p99_ms.toFixed(2)} ms, thresholds ${out.thresholdsOk ? 'ok' : 'FAILED'}\n`;
  const files = { stdout: text };
  if (__ENV.SUMMARY) files[__ENV.SUMMARY] = JSON.stringify(out);
  return files;
}
