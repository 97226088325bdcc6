// Real-browser test of the asset picker at a phone's 360 px, in English and Spanish: reporting a
// streetlight, the poles nearest the place are offered as choices (and as dots on the map, hidden
// from screen readers), the one chosen is sent as asset_id and the report is about that pole; a
// service without an asset layer offers none. axe-core on the screen with the choices.
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
// Downtown, between poles of the demo city's streetlight layer.
const HERE = { lat: '41.7637', long: '-72.6851' };

let browser;
const pageErrors = [];

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL to the base URL of a running cityfix server');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
});

after(async () => {
  await browser?.close();
  assert.deepEqual(pageErrors, [], 'no script error on any page');
});

async function newPage(locale) {
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 360, height: 780 }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(`${BASE}/#/report`);
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

async function choosePlace(page, serviceCode) {
  const radio = page.locator(`#service-list input[type=radio][value="${serviceCode}"]`);
  await radio.waitFor({ state: 'attached' });
  await radio.check();
  const details = page.locator('#coordinates');
  if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
  await page.locator('#lat').fill(HERE.lat);
  await page.locator('#long').fill(HERE.long);
}

async function nearestPoles() {
  const answer = await fetch(`${BASE}/api/v1/services/streetlight_out/assets?lat=${HERE.lat}&long=${HERE.long}&radius=150`);
  assert.equal(answer.status, 200);
  const { assets } = await answer.json();
  assert.ok(assets.length >= 2, 'the demo layer has poles here');
  return assets;
}

for (const [locale, legend, none] of [['en-US', 'Which one is it?', 'Not sure, or none of these'], ['es-US', '¿Cuál es?', 'No estoy seguro, o ninguno de estos']]) {
  test(`a resident picks the pole a streetlight report is about (${locale})`, { timeout: 60_000 }, async () => {
    const poles = await nearestPoles();
    const page = await newPage(locale);
    await choosePlace(page, 'streetlight_out');
    const picker = page.getByRole('group', { name: legend });
    await picker.waitFor({ state: 'visible' });
    const offered = await page.locator('#asset-choices input[name=asset_id]').evaluateAll((inputs) => inputs.map((i) => i.value));
    assert.deepEqual(offered.slice(0, 2), poles.slice(0, 2).map((p) => p.id), 'the nearest poles first');
    assert.equal(offered.at(-1), '', 'and "not sure" last');
    assert.ok(await page.getByLabel(none).isChecked(), 'nothing is chosen for the resident');
    const dots = await page.locator('#map path.leaflet-interactive').count();
    assert.equal(dots, offered.length - 1, 'each pole is a dot on the map');
    assert.equal(await page.locator('#map').getAttribute('aria-hidden'), 'true', 'the map is hidden from screen readers');
    await checkScreen(page, `asset choices (${locale})`);

    // The second pole, chosen by its label (the keyboard and screen-reader way).
    await page.getByLabel(poles[1].label, { exact: false }).first().check();
    const created = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/requests' && r.request().method() === 'POST');
    await page.locator('#report-form button[type=submit]').click();
    const response = await created;
    assert.equal(response.status(), 201, JSON.stringify(await response.json().catch(() => null)));
    assert.equal(response.request().postDataJSON().asset_id, poles[1].id, 'the report names the chosen pole');
    const id = (await response.json()).service_request_id;
    const view = await (await fetch(`${BASE}/api/v1/requests/${id}`)).json();
    assert.equal(view.asset_id, poles[1].id, 'the report is about that pole');
    await page.context().close();
  });
}

test('a service without an asset layer offers no poles', { timeout: 30_000 }, async () => {
  const page = await newPage('en-US');
  await choosePlace(page, 'streetlight_out');
  await page.locator('#asset-picker').waitFor({ state: 'visible' });
  await choosePlace(page, 'pothole');
  await page.locator('#asset-picker').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#map path.leaflet-interactive').count(), 0, 'no dots left on the map');
  await page.context().close();
});
