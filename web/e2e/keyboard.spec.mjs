// The whole booking with the keyboard only: no click, no fill. Tab moves between controls (a loop presses Tab until
// the wanted control has focus, as a person would), arrow keys choose a city and move between seats, Space selects.
import { PASSWORD, expect, step, test } from './helpers.mjs';

async function tabTo(page, matches, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(matches)) return;
  }
  throw new Error(`Tab never reached ${matches}`);
}

test('a booking made with the keyboard alone', async ({ page }) => {
  await page.goto('/');
  await tabTo(page, () => document.activeElement.id === 'where');
  await page.keyboard.type('portl');
  await expect(page.getByRole('option').first()).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: /Theaters near Portland/ })).toBeVisible();

  await tabTo(page, () => document.activeElement.closest('.card h3') !== null);
  await page.keyboard.press('Enter');
  await expect(page.locator('.days')).toBeVisible();
  await tabTo(page, () => document.activeElement.textContent === 'Tomorrow');
  await page.keyboard.press('Enter');
  await expect(page.locator('.days a[aria-current="date"]')).toHaveText('Tomorrow');
  await tabTo(page, () => document.activeElement.closest('.times') !== null);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Pick your seats' })).toBeVisible();

  // Into the map (one Tab stop), to a free seat, select two with Space and Enter.
  await tabTo(page, () => document.activeElement.classList.contains('seat'));
  const label = () => page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  for (let i = 0; i < 40 && !/standard, \$[\d.]+, available$/.test(await label()); i++) await page.keyboard.press('ArrowRight');
  const first = await page.evaluate(() => document.activeElement.dataset.label);
  await page.keyboard.press('Space');
  await page.keyboard.press('ArrowRight');
  for (let i = 0; i < 40 && !/, available$/.test(await label()); i++) await page.keyboard.press('ArrowRight');
  const second = await page.evaluate(() => document.activeElement.dataset.label);
  await page.keyboard.press('Enter');
  await expect(page.locator('.checkout .total')).toContainText(`2 seats (${first}, ${second})`);
  // One Tab leaves the map for the Hold button.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Hold these seats' })).toBeFocused();
  await page.keyboard.press('Enter');

  // Log in asks; go to registration, fill it in by typing.
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await tabTo(page, () => document.activeElement.textContent === 'Create an account');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Create an account' })).toBeVisible();
  await tabTo(page, () => document.activeElement.id === 'name');
  await page.keyboard.type('Grace Hopper');
  await page.keyboard.press('Tab');
  await page.keyboard.type(`keyboard-${Date.now()}@example.com`);
  await page.keyboard.press('Tab');
  await page.keyboard.type('+15035550100');
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');

  // Back at the map with the two seats; hold, pay.
  await expect(page.getByRole('heading', { name: 'Pick your seats' })).toBeVisible();
  await expect(page.locator('.checkout .total')).toContainText(`2 seats (${first}, ${second})`);
  await tabTo(page, () => document.activeElement.textContent === 'Hold these seats');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Pay for your seats' })).toBeVisible();
  await tabTo(page, () => document.activeElement.id === 'card');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('tok_visa');
  await page.keyboard.press('Enter');
  await expect(page.locator('#booking-status')).toHaveText('Paid');
  await step(page, '40-keyboard-paid');
});
