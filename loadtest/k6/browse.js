// browse.js — the read journey, no think time: search theaters by city or ZIP -> a theater -> its movies ->
// a movie's showtimes there -> a showtime -> its seat map (k6/lib.js browse()). Closed loop of VUS virtual users
// for DURATION. Compare its figures only with the other k6 scenarios (k6 costs ~7x wrk's CPU per request).
import { browse, summary, summaryTrendStats, thresholds, QUICK } from './lib.js';

export const options = {
  scenarios: {
    browse: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 32),
      duration: __ENV.DURATION || (QUICK ? '15s' : '60s'),
    },
  },
  summaryTrendStats,
  thresholds: thresholds({
    http_req_duration: ['p(95)<100', 'p(99)<250'],
    'http_req_duration{name:/showtimes/{id}/seats}': ['p(99)<250'],
  }),
};

export default function () {
  browse();
}

export function handleSummary(data) {
  return summary(data);
}
