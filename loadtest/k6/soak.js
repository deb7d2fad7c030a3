// soak.js — the mixed workload (mixed.js: 30 reads and one hold an iteration) at a constant RATE of iterations per
// second, about half the capacity mixed.js measured earlier in the same run, for DURATION (5 min; quick: 20 s).
// Nothing may fail, and at half load the latency limits are tighter than mixed.js's.
import { summary, summaryTrendStats, thresholds, QUICK } from './lib.js';
import { mixedIteration } from './mixed.js';

const FIRST = Number(__ENV.FIRST || 0);
const RATE = Number(__ENV.RATE || 10);

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      // k6 wants a whole number: iterations per 10 s.
      rate: Math.max(1, Math.round(RATE * 10)),
      timeUnit: '10s',
      duration: __ENV.DURATION || (QUICK ? '20s' : '300s'),
      preAllocatedVUs: Math.max(8, Math.ceil(RATE)),
      maxVUs: Math.max(64, 4 * Math.ceil(RATE)),
    },
  },
  summaryTrendStats,
  thresholds: thresholds({
    http_req_duration: ['p(95)<50', 'p(99)<150'],
    holds_lost: ['count==0'],
    dropped_iterations: ['count<=1'],
  }),
};

export default function () {
  mixedIteration(FIRST);
}

export function handleSummary(data) {
  return summary(data);
}
