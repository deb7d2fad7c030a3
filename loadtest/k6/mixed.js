// mixed.js — the seed's read/write mix: each iteration is 30 reads (five browse journeys of six requests) and one
// uncontended two-seat hold (work blocks from FIRST), as fast as VUS closed-loop users go for DURATION. Its
// iterations/s is the capacity that soak.js runs at half of.
import { browse, hold, summary, summaryTrendStats, thresholds, uncontended, QUICK } from './lib.js';

const FIRST = Number(__ENV.FIRST || 0);

export const options = {
  scenarios: {
    mixed: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 32),
      duration: __ENV.DURATION || (QUICK ? '15s' : '60s'),
    },
  },
  summaryTrendStats,
  thresholds: thresholds({
    http_req_duration: ['p(95)<100', 'p(99)<250'],
    holds_lost: ['count==0'],
  }),
};

export function mixedIteration(first) {
  for (let i = 0; i < 5; i++) browse();
  const { token, showtimeId, seats } = uncontended(first);
  hold(token, showtimeId, seats);
}

export default function () {
  mixedIteration(FIRST);
}

export function handleSummary(data) {
  return summary(data);
}
