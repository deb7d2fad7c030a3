// Shared steps of the end-to-end suite: screenshots at both widths, the axe-core scan, accounts and showtimes made
// through the API (for the tests whose subject is not registration or search), and a page that fails on any
// script error or Content-Security-Policy violation.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test as base } from '@playwright/test';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const OUT = path.resolve(process.env.BOXOFFICE_WEB_OUT || '../var/web-e2e');
export const SHORT_HOLD_URL = process.env.BOXOFFICE_WEB_SHORT_HOLD_URL || 'http://127.0.0.1:18101';
export const PASSWORD = 'correct horse battery staple';

/** A test whose pages fail it on a script error (caught by the client or not) or a CSP violation. */
export const test = base.extend({
  page: async ({ page }, use) => {
    const problems = watch(page);
    await use(page);
    expect(problems, 'script errors or CSP violations').toEqual([]);
  },
});
export { expect };

/** Collects page errors and CSP reports of `page` (a second context's pages call it themselves). */
export function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to|^boxoffice:/i.test(m.text())) problems.push(m.text());
  });
  return problems;
}

/** Screenshots of the page as it is, 1280 px and 375 px wide (full page), into var/web-e2e/screens. */
export async function shot(page, name) {
  const dir = path.join(OUT, 'screens');
  fs.mkdirSync(dir, { recursive: true });
  const size = page.viewportSize();
  await page.screenshot({ path: path.join(dir, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.screenshot({ path: path.join(dir, `${name}-375.png`), fullPage: true });
  await page.setViewportSize(size);
}

/** Runs axe-core on the page; fails on any serious or critical violation (the report names each). */
export async function axe(page, name) {
  // Injected through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(`${AXE}\n;0`);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary, `axe on ${name}`).toEqual([]);
  return result.violations.length;
}

/** Screenshots and the accessibility scan of a screen. */
export async function step(page, name) {
  await shot(page, name);
  await axe(page, name);
}

let counter = 0;
/** A fresh customer, registered and logged in through the API: {email, token}. */
export async function customer(request, baseURL) {
  const email = `web-${process.pid}-${Date.now()}-${counter++}@example.com`;
  const created = await request.post(`${baseURL}/users`, {
    data: { name: 'Ada Lovelace', email, phoneNumber: '+12125550100', password: PASSWORD },
  });
  expect(created.status()).toBe(201);
  const token = await request.post(`${baseURL}/auth/token`, { data: { email, password: PASSWORD } });
  expect(token.status()).toBe(200);
  return { email, token: (await token.json()).accessToken };
}

/** Makes the page start logged in as `token` (sessionStorage, as the client keeps it). */
export async function loggedIn(page, token) {
  await page.addInitScript((t) => sessionStorage.setItem('boxoffice.token', t), token);
}

/**
 * A showtime tomorrow (local) in `city` whose map has at least `minSeats` seats, and `n` adjacent available seats of
 * kind `kind` in one row: {showtime, seats: [labels], map}. `skip` showtimes are passed over, so that tests running
 * at the same time do not pick the same one.
 */
export async function findShowtime(request, baseURL, { city = 'Boston', skip = 0, n = 1, kind = 'standard', minSeats = 0 } = {}) {
  const theaters = await (await request.get(`${baseURL}/theaters?city=${encodeURIComponent(city)}`)).json();
  const candidates = [];
  for (const t of theaters.items) {
    const date = tomorrow(t.timeZone);
    const movies = await (await request.get(`${baseURL}/theaters/${t.id}/movies?date=${date}`)).json();
    for (const m of movies.items) for (const s of m.showtimes) if (s.seatsTotal >= minSeats) candidates.push(s);
  }
  for (const s of candidates.slice(skip)) {
    const map = await (await request.get(`${baseURL}/showtimes/${s.id}/seats`)).json();
    for (const row of map.rows) {
      const free = row.seats.filter((x) => x.available && x.kind === kind);
      for (let i = 0; i + n <= free.length; i++) {
        const run = free.slice(i, i + n);
        if (run[n - 1].x - run[0].x === n - 1) return { showtime: s, seats: run.map((x) => x.label), map };
      }
    }
  }
  throw new Error(`no showtime in ${city} with ${n} free ${kind} seats`);
}

/** Tomorrow's date (YYYY-MM-DD) in `timeZone`. */
export function tomorrow(timeZone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.now() + 86400000));
}

/** The seat button of `label` on the seat map. */
export function seat(page, label) {
  return page.locator(`.seats button[data-label="${label}"]`);
}

/** Writes one figure into var/web-e2e/metrics.json (merged with the others). */
export function record(name, value) {
  const file = path.join(OUT, 'metrics.json');
  fs.mkdirSync(OUT, { recursive: true });
  const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  all[name] = value;
  fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
}
