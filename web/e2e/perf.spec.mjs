// The goals of the seat-map screen, measured (not asserted against a wall clock): bytes transferred on a first load
// in a fresh browser (nothing cached) and the time from navigation until the map is interactive, from the browser's
// own Performance API. Written to var/web-e2e/metrics.json; only the byte budget is asserted (it does not depend on
// the machine's speed).
import { expect, findShowtime, record, test } from './helpers.mjs';

test('the seat map of a 200-seat showtime: bytes on first load and time to interactive', async ({ browser, page, request, baseURL }) => {
  const { showtime, map } = await findShowtime(request, baseURL, { city: 'Boston', minSeats: 190 });
  // One visit from another browser first, so that the service's own caches (layouts, availability) are warm, as
  // they are in a running cinema; this page's browser cache stays empty.
  const other = await browser.newContext();
  const warm = await other.newPage();
  await warm.goto(`${baseURL}/#/showtimes/${showtime.id}`);
  await expect(warm.locator('html[data-ready]')).toBeAttached();
  await other.close();

  // Chromium's own counters of main-thread work (script, style, layout), less sensitive than wall time to a busy
  // machine.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  await page.goto(`/#/showtimes/${showtime.id}`);
  await expect(page.locator('html[data-ready]')).toBeAttached();
  const counters = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  await expect(page.locator('.seats button')).toHaveCount(map.totals.seats);
  const figures = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    const bytes = nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0);
    return {
      requests: 1 + resources.length,
      transferBytes: bytes,
      domInteractiveMs: Math.round(nav.domInteractive),
      domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
      seatMapInteractiveMs: Number(document.documentElement.dataset.ready),
      // When the last file of the page and the last API answer arrived: what the rest of the time went to.
      filesDoneMs: Math.round(Math.max(...resources.filter((r) => r.name.includes('/app/')).map((r) => r.responseEnd))),
      dataInHandMs: Math.round(performance.getEntriesByName('seatmap-data')[0].startTime),
      apiDoneMs: Math.round(Math.max(...resources.filter((r) => r.name.includes('/showtimes/')).map((r) => r.responseEnd))),
      files: resources.map((r) => `${new URL(r.name).pathname} ${r.transferSize}`),
    };
  });
  figures.seats = map.totals.seats;
  figures.mainThreadMs = {
    script: Math.round(counters.ScriptDuration * 1000),
    style: Math.round(counters.RecalcStyleDuration * 1000),
    layout: Math.round(counters.LayoutDuration * 1000),
    allTasks: Math.round(counters.TaskDuration * 1000),
  };
  record('seatMapFirstLoad', figures);
  console.log(`seat map (${figures.seats} seats): ${figures.transferBytes} bytes in ${figures.requests} requests; ` +
    `interactive ${figures.seatMapInteractiveMs} ms after navigation (files by ${figures.filesDoneMs} ms, API by ${figures.apiDoneMs} ms, data in hand at ${figures.dataInHandMs} ms; main thread busy ${figures.mainThreadMs.allTasks} ms)`);
  expect(figures.transferBytes).toBeLessThanOrEqual(150 * 1024);
});
