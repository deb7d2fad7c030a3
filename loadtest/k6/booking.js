// booking.js — uncontended purchases: a two-seat hold on a work block no other scenario uses (k6/lib.js
// uncontended(), from block FIRST), then PUT /bookings/{id}/finalize with the sandbox's `tok_visa`. Every hold
// should be a 201 and every payment a 200; each 201 is logged (`ACK <id> <seats>`) for the invariant checks.
import { finalize, hold, summary, summaryTrendStats, thresholds, uncontended, QUICK } from './lib.js';

const FIRST = Number(__ENV.FIRST || 0);

export const options = {
  scenarios: {
    booking: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 32),
      duration: __ENV.DURATION || (QUICK ? '15s' : '60s'),
    },
  },
  summaryTrendStats,
  thresholds: thresholds({
    http_req_duration: ['p(95)<250', 'p(99)<500'],
    holds_lost: ['count==0'],
    payments_failed: ['count==0'],
  }),
};

export default function () {
  const { token, showtimeId, seats } = uncontended(FIRST);
  const id = hold(token, showtimeId, seats);
  if (id) finalize(token, id);
}

export function handleSummary(data) {
  return summary(data);
}
