// onsale.js — the on-sale stampede in k6: VUS buyers (one iteration each, all started together) want one seat each
// of one 200-seat showtime (prepared showtime SHOWTIME, default 4). A buyer reads the seat map, asks for a random
// free seat, and after a 409 reads the map again and tries another free seat, until it has one or the map shows none
// left. Custom metrics: holds won / lost (a lost hold is a refused attempt), conflicts (409), rate-limited (429),
// buyers without a seat, and `sale_at_ms` (when each sale was acknowledged, from the start: its max is the sold-out
// time).
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import {
  get, hold, preparedShowtime, summary, summaryTrendStats, thresholds, tokens, QUICK,
} from './lib.js';

const showtime = preparedShowtime(Number(__ENV.SHOWTIME || 4));
const saleAt = new Trend('sale_at_ms', true);
const withoutSeat = new Counter('buyers_without_seat');
const MAX_ATTEMPTS = 50;

export const options = {
  scenarios: {
    onsale: {
      executor: 'per-vu-iterations',
      vus: Number(__ENV.VUS || (QUICK ? 300 : 600)),
      iterations: 1,
      maxDuration: '60s',
    },
  },
  summaryTrendStats,
  thresholds: thresholds({
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
    sale_at_ms: ['max<2000'],
    holds_won: [`count==${showtime.seats.length || 200}`],
  }),
};

function freeSeats() {
  const res = get(`/showtimes/${showtime.id}/seats`, '/showtimes/{id}/seats');
  if (res.status !== 200) return [];
  const free = [];
  for (const row of res.json().rows || []) {
    for (const seat of row.seats || []) {
      if (seat.available) free.push(seat.label);
    }
  }
  return free;
}

export default function () {
  const token = tokens[exec.vu.idInTest % tokens.length];
  const start = exec.scenario.startTime;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const free = freeSeats();
    if (free.length === 0) break;
    const seat = free[Math.floor(Math.random() * free.length)];
    const id = hold(token, showtime.id, [seat]);
    if (id) {
      saleAt.add(Date.now() - start);
      return;
    }
  }
  withoutSeat.add(1);
}

export function handleSummary(data) {
  return summary(data);
}
