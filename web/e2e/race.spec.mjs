// Two people race for the same seat in two browser contexts: one gets the hold, the other is told which seat was
// just taken and sees it taken on the map (the map refreshes on the 409 without a reload).
import { customer, expect, findShowtime, loggedIn, seat, step, test, watch } from './helpers.mjs';

test('two browsers race for one seat: one wins, the other is told and sees the map updated', async ({ browser, request, baseURL }) => {
  const { showtime, seats: [label] } = await findShowtime(request, baseURL, { city: 'Chicago' });
  const pages = [];
  const problems = [];
  for (let i = 0; i < 2; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    problems.push(watch(page));
    await loggedIn(page, (await customer(request, baseURL)).token);
    await page.goto(`/#/showtimes/${showtime.id}`);
    await seat(page, label).click();
    await expect(seat(page, label)).toHaveAttribute('aria-pressed', 'true');
    pages.push(page);
  }

  // Both press Hold at the same moment.
  await Promise.all(pages.map((p) => p.getByRole('button', { name: 'Hold these seats' }).click()));

  // Exactly one moves on to payment; the other stays on the map and is told.
  const paying = (p) => p.getByRole('heading', { name: 'Pay for your seats' }).count();
  await expect.poll(async () => (await Promise.all(pages.map(paying))).reduce((a, b) => a + b)).toBe(1);
  const loser = (await paying(pages[0])) ? pages[1] : pages[0];
  await expect(loser.getByRole('heading', { name: 'Pick your seats' })).toBeVisible();
  await expect(loser.getByRole('alert')).toContainText(`${label} was just taken by someone else`);
  await expect(seat(loser, label)).toHaveClass(/taken/);
  await expect(seat(loser, label)).toHaveAttribute('aria-label', /, taken$/);
  await expect(seat(loser, label)).toHaveAttribute('aria-pressed', 'false');
  await expect(loser.getByRole('button', { name: 'Hold these seats' })).toBeDisabled();
  await step(loser, '20-race-lost');
  for (const list of problems) expect(list).toEqual([]);
});

test('the map shows a seat taken by someone else while the person looks at it (ETag polling)', async ({ page, request, baseURL }) => {
  const { showtime, seats: [label] } = await findShowtime(request, baseURL, { city: 'Chicago', skip: 1 });
  await page.goto(`/#/showtimes/${showtime.id}`);
  await seat(page, label).click();
  await expect(seat(page, label)).toHaveAttribute('aria-pressed', 'true');
  // Someone else holds it through the API.
  const other = await customer(request, baseURL);
  const held = await request.post(`${baseURL}/bookings`, {
    headers: { authorization: `Bearer ${other.token}` },
    data: { showtimeId: showtime.id, seatIds: [label] },
  });
  expect(held.status()).toBe(201);
  // The next poll (every 2 s) shows it, and says so.
  await expect(seat(page, label)).toHaveClass(/taken/, { timeout: 10_000 });
  await expect(page.getByRole('alert')).toContainText(`Seat ${label} was just taken by someone else`);
  await expect(page.locator('.checkout .total')).toHaveText('No seats selected yet.');
});

test('a double click holds once, and a hold whose answer was lost is retried with the same key and books once', async ({ page, request, baseURL }) => {
  const { showtime, seats: [label] } = await findShowtime(request, baseURL, { city: 'Chicago', skip: 2 });
  const { token } = await customer(request, baseURL);
  await loggedIn(page, token);
  // The first hold reaches the service, which books it, but its answer is lost on the way back.
  const keys = [];
  let lose = true;
  await page.route('**/bookings', async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    keys.push(route.request().headers()['idempotency-key']);
    if (!lose) return route.continue();
    lose = false;
    await route.fetch();
    return route.abort('connectionreset');
  });
  await page.goto(`/#/showtimes/${showtime.id}`);
  await seat(page, label).click();
  await page.getByRole('button', { name: 'Hold these seats' }).dblclick();
  await expect(page.getByRole('alert')).toContainText('could not be reached');
  expect(keys).toHaveLength(1);
  // The person tries again: same selection, same key, the service replays the first answer.
  await page.getByRole('button', { name: 'Hold these seats' }).click();
  await expect(page.getByRole('heading', { name: 'Pay for your seats' })).toBeVisible();
  expect(keys).toHaveLength(2);
  expect(keys[1]).toBe(keys[0]);
  const mine = await request.get(`${baseURL}/users/me/bookings`, { headers: { authorization: `Bearer ${token}` } });
  expect((await mine.json()).items).toHaveLength(1);
});
