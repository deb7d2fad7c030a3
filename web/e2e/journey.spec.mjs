// The whole journey with a mouse: home, a city found by its suggestion (typed without its accent), a theater, a
// movie, the seat map, a hold that asks to register first (the API's validation messages shown by their fields),
// payment, the confirmation, my bookings, cancellation with refund. Every screen is screenshot and scanned by axe.
import { PASSWORD, expect, seat, step, test } from './helpers.mjs';

test('a moviegoer finds a showtime, registers, holds, pays and cancels', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Find a movie near you');
  await step(page, '01-home');

  // Suggestions as you type, accent- and case-insensitive.
  await page.getByLabel('City or ZIP code').pressSequentially('MONTRE');
  const option = page.getByRole('option', { name: /Montréal/ });
  await expect(option).toBeVisible();
  await step(page, '02-suggestions');
  await option.click();
  await expect(page.getByRole('heading', { name: 'Theaters near Montréal' })).toBeVisible();
  await step(page, '03-theaters');

  // A theater, tomorrow.
  await page.locator('.cards .card h3 a').first().click();
  await expect(page.locator('.days')).toBeVisible();
  await page.getByRole('link', { name: 'Tomorrow' }).click();
  await expect(page.locator('.days a[aria-current="date"]')).toHaveText('Tomorrow');
  await expect(page.locator('.times a').first()).toBeVisible();
  await step(page, '04-theater');

  // The movie: where and when it plays near the chosen city.
  const title = await page.locator('.cards .card h3 a').first().textContent();
  await page.locator('.cards .card h3 a').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(title);
  await expect(page.getByRole('heading', { name: /Showtimes in Montréal/ })).toBeVisible();
  await step(page, '05-movie');

  // Its seat map: a showtime of tomorrow.
  await page.locator('.bydays .times a').first().click();
  await expect(page.getByRole('heading', { name: 'Pick your seats' })).toBeVisible();
  await expect(page.locator('.legend')).toContainText('Premium');
  await expect(page.locator('.legend')).toContainText('Wheelchair space');
  const free = page.locator('.seats button.standard:not(.taken)');
  const [a, b] = [await free.nth(0).getAttribute('data-label'), await free.nth(1).getAttribute('data-label')];
  await seat(page, a).click();
  await seat(page, b).click();
  await expect(seat(page, a)).toHaveAttribute('aria-pressed', 'true');
  await expect(seat(page, a)).toHaveAttribute('aria-label', /^Row [A-Z]+, seat \d+, standard, [A-Z]*\$\d+\.\d\d, selected$/);
  await expect(page.locator('.checkout .total')).toContainText(`2 seats (${a}, ${b})`);
  await step(page, '06-seatmap');

  // Holding needs an account: register, with the API's messages by the fields first.
  await page.getByRole('button', { name: 'Hold these seats' }).click();
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Name').fill('Ada Lovelace');
  await page.getByLabel('Email').fill('not-an-email');
  await page.getByLabel('Phone number').fill('12');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('#email-error')).not.toBeEmpty();
  await expect(page.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#password-error')).not.toBeEmpty();
  await expect(page.getByRole('alert')).toHaveText('Please correct: Email, Phone number, Password.');
  await step(page, '07-register-errors');
  const email = `journey-${Date.now()}@example.com`;
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Phone number').fill('+15145550100');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();

  // Back on the map with the selection kept; hold.
  await expect(page.getByRole('heading', { name: 'Pick your seats' })).toBeVisible();
  await expect(seat(page, a)).toHaveAttribute('aria-pressed', 'true');
  await page.getByRole('button', { name: 'Hold these seats' }).click();
  await expect(page.getByRole('heading', { name: 'Pay for your seats' })).toBeVisible();
  await expect(page.getByRole('timer')).toContainText(/Seats held for \d+:\d\d/);
  await expect(page.locator('.hint')).toContainText('tok_visa');
  await step(page, '08-pay');

  await page.getByLabel('Card token').fill('tok_visa');
  await page.getByRole('button', { name: /^Pay / }).click();
  await expect(page.getByRole('heading', { name: 'You’re going to the movies!' })).toBeVisible();
  await expect(page.locator('#booking-status')).toHaveText('Paid');
  await expect(page.locator('.seatlist')).toContainText(a);
  // One QR code a seat, from the API's SVG through a data: URL the CSP allows: each image actually rendered.
  const qr = page.locator('.tickets img.ticket-qr');
  await expect(qr).toHaveCount(await page.locator('.seatlist li').count());
  await expect(qr.first()).toHaveAttribute('src', /^data:image\/svg\+xml;base64,/);
  expect(await qr.evaluateAll((imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0))).toBe(true);
  const calendar = page.getByRole('link', { name: 'Add to calendar' });
  await expect(calendar).toHaveAttribute('download', /\.ics$/);
  await step(page, '09-confirmation');

  // My bookings, then cancel with refund.
  await page.getByRole('link', { name: 'My bookings', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'My bookings' })).toBeVisible();
  await expect(page.locator('.cards')).toContainText('Paid');
  await expect(page.locator('.cards .ticket-qr').first()).toBeVisible();
  await step(page, '10-my-bookings');
  await page.locator('.cards a').first().click();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Cancel and refund' }).click();
  await expect(page.getByRole('heading', { name: 'Booking canceled' })).toBeVisible();
  await expect(page.locator('#booking-status')).toHaveText('Canceled');
  await step(page, '11-canceled');
});
