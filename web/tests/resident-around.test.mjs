// Real-browser tests of the nearby page (#/nearby) at a phone's 360 px, in English and Spanish:
// public reports around the phone's location (given to the browser) within the chosen distance,
// filtered by type and status, and those in a neighbourhood chosen from the city's; each links
// to its own page. The map is hidden from screen readers; axe-core on every screen.
//
//   CITYFIX_URL=http://127.0.0.1:3000 node --test tests/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10_000;
const WIDTH = 360;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
// In the south of the city, where no other browser test reports.
const HERE = { lat: 41.7395, long: -72.6755 };

let browser;
const pageErrors = [];
const reports = {};

async function newPage(locale = 'en-US') {
  const context = await browser.newContext({
    reducedMotion: 'reduce', viewport: { width: WIDTH, height: 780 }, locale,
    geolocation: { latitude: HERE.lat, longitude: HERE.long }, permissions: ['geolocation'],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

async function checkScreen(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `${name}: axe`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px`);
}

async function api(path, options = {}) {
  const answer = await fetch(`${BASE}${path}`, options);
  return { status: answer.status, body: await answer.json().catch(() => null) };
}

async function file(body) {
  const created = await api('/api/v1/requests', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.service_request_id;
  for (let i = 0; i < 100; i += 1) {
    const read = await api(`/api/v1/requests/${id}`);
    if (read.body?.status && read.body.status !== 'submitted') return read.body;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${id} was not routed`);
}

/** The ids the list shows, after "Show reports". */
async function show(page) {
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/open311/v2/requests.json');
  await page.locator('#around-show').click();
  assert.equal((await answered).status(), 200);
  await page.waitForFunction(() => !document.getElementById('around-status').textContent.endsWith('…'));
  return page.locator('#around-list li').evaluateAll((items) => items.map((li) => li.dataset.requestId));
}

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL to the base URL of a running cityfix server');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
  // Two reports 60 m from here, one 1.5 km away.
  reports.pothole = await file({
    service_code: 'pothole', lat: HERE.lat + 0.0005, long: HERE.long,
    attributes: { pothole_size: 'small' }, description: `Pothole for the nearby test ${RUN}`,
  });
  reports.light = await file({
    service_code: 'streetlight_out', lat: HERE.lat, long: HERE.long + 0.0007,
    description: `Light for the nearby test ${RUN}`,
  });
  reports.far = await file({
    service_code: 'pothole', lat: HERE.lat + 0.0135, long: HERE.long,
    attributes: { pothole_size: 'small' }, description: `Far pothole for the nearby test ${RUN}`,
  });
});

after(async () => {
  if (browser) await browser.close();
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});

test('reports around me, by distance, type and status, each with its own page', { timeout: 60_000 }, async () => {
  const page = await newPage('en-US');
  await page.goto(`${BASE}/`);
  await page.locator('#nav-around').click();
  await page.locator('#around-heading').waitFor();
  assert.equal(await page.locator('#nav-around').getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('#around-map').getAttribute('aria-hidden'), 'true');
  await checkScreen(page, 'nearby, before a search');

  await page.locator('#around-radius').selectOption('250');
  let ids = await show(page);
  assert.ok(ids.includes(reports.pothole.service_request_id) && ids.includes(reports.light.service_request_id), 'both near reports');
  assert.ok(!ids.includes(reports.far.service_request_id), 'not the one 1.5 km away');
  assert.match(await page.locator('#around-status').textContent(), /reports? found/);
  assert.match(await page.locator(`#around-list li[data-request-id="${reports.pothole.service_request_id}"]`).textContent(), /\d+ m/);
  await checkScreen(page, 'nearby, around me');

  await page.locator('#around-radius').selectOption('2000');
  ids = await show(page);
  assert.ok(ids.includes(reports.far.service_request_id), 'within 2 km it is there');

  await page.locator('#around-service').selectOption('streetlight_out');
  ids = await show(page);
  assert.ok(ids.includes(reports.light.service_request_id) && !ids.includes(reports.pothole.service_request_id), 'only streetlights');
  await page.locator('#around-state').selectOption('closed');
  ids = await show(page);
  assert.ok(!ids.includes(reports.light.service_request_id), 'an open one is not among the closed');

  await page.locator('#around-state').selectOption('');
  ids = await show(page);
  await page.locator(`#around-list li[data-request-id="${reports.light.service_request_id}"] a`).click();
  await page.waitForURL(new RegExp(`#/requests/${reports.light.service_request_id}$`));
  await page.locator('#track-result').waitFor();
  assert.match(await page.locator('#r-description').textContent(), /Light for the nearby test/);
  await page.context().close();
});

test('in Spanish: the reports of a neighbourhood', { timeout: 60_000 }, async () => {
  const area = reports.pothole.neighbourhood;
  assert.ok(area, 'the report was placed in a neighbourhood');
  const page = await newPage('es-ES');
  await page.goto(`${BASE}/#/nearby`);
  await page.locator('#around-heading').waitFor();
  assert.equal(await page.locator('#around-heading').textContent(), 'Reportes cercanos');
  await page.locator('#around-where-area').check();
  assert.ok(await page.locator('#around-area').isVisible() && await page.locator('#around-radius').isHidden());
  await page.locator('#around-area').selectOption(area);
  const ids = await show(page);
  assert.ok(ids.includes(reports.pothole.service_request_id), `the pothole is in ${area}`);
  const city = (await api('/api/v1/city')).body;
  const shape = city.map.neighbourhoods.features.find((f) => f.properties.name === area);
  assert.ok(shape, 'the neighbourhood is one of the city\'s');
  // Every report listed is in the neighbourhood's shape (its number says so in the API).
  for (const id of ids.slice(0, 10)) {
    const read = await api(`/api/v1/requests/${id}`);
    assert.equal(read.body.neighbourhood, area, `${id} is in ${area}`);
  }
  assert.match(await page.locator('#around-status').textContent(), /reportes? |Se encontr/);
  await checkScreen(page, 'nearby, a neighbourhood (es)');
  await page.context().close();
});
