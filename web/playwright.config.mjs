// Playwright for the web client's end-to-end suite (scripts/browser-test.sh starts the service and sets the
// BOXOFFICE_WEB_* variables). Debian's Chromium, never a downloaded browser.
import { defineConfig } from '@playwright/test';

const out = process.env.BOXOFFICE_WEB_OUT || '../var/web-e2e';

export default defineConfig({
  testDir: './e2e',
  outputDir: `${out}/test-results`,
  // Two cores: two browsers at a time, each test in its own context.
  workers: 2,
  timeout: 60_000,
  expect: { timeout: 8_000 },
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.BOXOFFICE_WEB_URL || 'http://127.0.0.1:18100',
    viewport: { width: 1280, height: 900 },
    locale: 'en-US',
    timezoneId: 'America/New_York',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      // Root in a container: no sandbox. The rest stop Chromium from calling hosts this machine cannot reach.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    },
  },
});
