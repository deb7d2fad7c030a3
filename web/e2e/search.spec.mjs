// The other two ways in from the home page: a ZIP code, and "Near me" with the browser's geolocation. Both list
// theaters nearest first with their distance.
import { expect, step, test } from './helpers.mjs';

async function distances(page) {
  const texts = await page.locator('.cards .card .muted').allTextContents();
  return texts.map((t) => Number.parseFloat(t));
}

test('a ZIP code lists theaters nearest first with their distance', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('City or ZIP code').fill('10036');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('heading', { name: 'Theaters near ZIP 10036' })).toBeVisible();
  const km = await distances(page);
  expect(km.length).toBeGreaterThan(0);
  expect(km).toEqual([...km].sort((a, b) => a - b));
});

test.describe('near me', () => {
  // Times Square, granted by the browser without a prompt.
  test.use({ geolocation: { latitude: 40.758, longitude: -73.9855 }, permissions: ['geolocation'] });

  test('"Near me" uses the browser position and lists theaters nearest first', async ({ page }) => {
    await page.goto('/');
    await page.getByRole('button', { name: 'Near me' }).click();
    await expect(page.getByRole('heading', { name: 'Theaters near your position' })).toBeVisible();
    const km = await distances(page);
    expect(km.length).toBeGreaterThan(0);
    expect(km[0]).toBeLessThan(25);
    expect(km).toEqual([...km].sort((a, b) => a - b));
    await expect(page.locator('.cards .card').first()).toContainText('New York');
    await step(page, '12-near-me');
  });
});
