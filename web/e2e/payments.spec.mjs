// Payment outcomes other than success: a declined card keeps the hold (and a second card then pays), a provider
// that does not answer leaves the booking pending with the promise of a mail, and a hold that runs out (on the
// server whose holds last a few seconds) says so and gives the seats back.
import { SHORT_HOLD_URL, customer, expect, findShowtime, loggedIn, seat, step, test } from './helpers.mjs';

async function holdThroughUi(page, showtime, labels) {
  await page.goto(`/#/showtimes/${showtime.id}`);
  for (const l of labels) await seat(page, l).click();
  await page.getByRole('button', { name: 'Hold these seats' }).click();
  await expect(page.getByRole('heading', { name: 'Pay for your seats' })).toBeVisible();
}

async function pay(page, token) {
  await page.getByLabel('Card token').fill(token);
  await page.getByRole('button', { name: /^Pay / }).click();
}

test('a declined card keeps the hold with a clear message; another card then pays', async ({ page, request, baseURL }) => {
  const { showtime, seats } = await findShowtime(request, baseURL, { city: 'Seattle', n: 2 });
  await loggedIn(page, (await customer(request, baseURL)).token);
  await holdThroughUi(page, showtime, seats);
  await pay(page, 'tok_chargeDeclined');
  await expect(page.getByRole('alert')).toContainText('Your card was declined. Your seats are still held');
  await expect(page.getByRole('timer')).toBeVisible();
  await step(page, '30-declined');
  await pay(page, 'tok_visa');
  await expect(page.locator('#booking-status')).toHaveText('Paid');
});

test('a payment without an answer is pending, and the page says the outcome will be mailed', async ({ page, request, baseURL }) => {
  const { showtime, seats } = await findShowtime(request, baseURL, { city: 'Seattle', skip: 1 });
  await loggedIn(page, (await customer(request, baseURL)).token);
  await holdThroughUi(page, showtime, seats);
  await pay(page, 'tok_timeout');
  await expect(page.getByRole('status').filter({ hasText: 'pending' })).toContainText('We will mail you the outcome');
  await expect(page.locator('#booking-status')).toHaveText('Payment being confirmed');
  await step(page, '31-pending');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Payment being confirmed' })).toBeVisible();
});

test('a hold that expires says so and the seats are free again', async ({ page, request }) => {
  const base = SHORT_HOLD_URL;
  const { showtime, seats } = await findShowtime(request, base, { city: 'Denver' });
  await loggedIn(page, (await customer(request, base)).token);
  await page.goto(`${base}/#/showtimes/${showtime.id}`);
  await seat(page, seats[0]).click();
  await page.getByRole('button', { name: 'Hold these seats' }).click();
  await expect(page.getByRole('timer')).toContainText(/Seats held for 0:0\d/);
  // The countdown reaches zero on its own (the hold lasts a few seconds on this server).
  await expect(page.getByRole('alert')).toContainText('Your hold expired', { timeout: 15_000 });
  await step(page, '32-expired');
  await page.getByRole('link', { name: 'Pick seats again' }).click();
  await expect(seat(page, seats[0])).not.toHaveClass(/taken/);
  await expect(seat(page, seats[0])).toHaveAttribute('aria-label', /, available$/);
});
