// Real-browser test of the open-data page (`/open-data/`), the data dictionary anyone reads before
// downloading: axe-core finds nothing serious or critical at a phone's 360 px and a laptop's
// 1280 px, nothing scrolls sideways, every column of the CSV has its row in the table, and the
// page's own download links answer with the CSV and GeoJSON they promise.
//
//   CITYFIX_URL=http://127.0.0.1:3000 node --test tests/open-data.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let browser;
const pageErrors = [];

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL to the base URL of a running cityfix server');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  if (browser) await browser.close();
  assert.deepEqual(pageErrors, [], 'no script errors on the page');
});

for (const width of [360, 1280]) {
  test(`the open-data page at ${width} px: no serious axe finding, nothing sideways, every column described`, async () => {
    const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
    const answer = await page.goto(`${BASE}/open-data/`);
    assert.equal(answer.status(), 200);
    assert.match(await page.locator('h1').textContent(), /Open data/);
    // the page's stylesheet is applied (an inline <style> was refused by the CSP and the table
    // had no borders)
    const border = await page.locator('table tbody th').first().evaluate((cell) => getComputedStyle(cell).borderTopStyle);
    assert.equal(border, 'solid', 'the dictionary stylesheet is applied');

    await page.evaluate(AXE);
    const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], 'axe');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `scrolls sideways by ${overflow}px at ${width}px`);

    // every column the CSV header names has a row in the dictionary, in the same order
    const csvLink = await page.locator('a', { hasText: 'CSV' }).first().getAttribute('href');
    const csv = await fetch(new URL(csvLink, BASE));
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type'), /^text\/csv/);
    const header = (await csv.text()).split('\n')[0].trim().split(',');
    const described = await page.locator('table tbody tr th, table tbody tr td:first-child').allTextContents();
    assert.deepEqual(described.map((c) => c.trim()), header);

    const geoLink = await page.locator('a', { hasText: 'GeoJSON' }).first().getAttribute('href');
    const geo = await fetch(new URL(geoLink, BASE));
    assert.equal(geo.status, 200);
    assert.match(geo.headers.get('content-type'), /^application\/geo\+json/);
    assert.equal((await geo.json()).type, 'FeatureCollection');
    await context.close();
  });
}
