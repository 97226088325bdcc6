// Real-browser tests of the resident page's city-wide parts, at a phone's 360 px: the map (a pin
// by tapping, the city's shapes drawn without tiles), the address search, a place outside the
// city, "this is it: follow it instead", the page in Spanish with dates in the city's time zone
// and the switch back to English, axe-core on every screen in both languages, an offline draft
// sent when the phone is back online, what the first screen downloads, and a second city folder
// (a second runner the test starts) giving another city's site, in a language added without code.
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_BIN=…/debug/cityfix node --test tests/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, '..');
const REPO = join(WEB, '..');

const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const BIN = process.env.CITYFIX_BIN || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10_000;
const WIDTH = 360;
const TRACKING_RE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
// What a phone may download for the first report screen, gzipped, map library included.
const FIRST_SCREEN_BUDGET = 250 * 1024;

// Places of their own, away from every other test's (same service within 50 m would be linked).
const SPANISH_PLACE = { lat: '41.7760', long: '-72.6950' };
const FOLLOW_PLACE = { lat: 41.7500, long: -72.7000 };
const OFFLINE_PLACE = { lat: '41.7900', long: '-72.6800' };
// East of the river: East Hartford, not the city.
const OUTSIDE = { lat: '41.7700', long: '-72.6200' };

let browser;
const pageErrors = [];
const checkedScreens = new Set();

async function newContext(options = {}) {
  return browser.newContext({ reducedMotion: 'reduce', viewport: { width: WIDTH, height: 780 }, locale: 'en-US', ...options });
}

async function newPage(options) {
  const context = await newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

/** axe-core finds nothing serious or critical, and nothing scrolls sideways at 360 px. */
async function checkScreen(page, name) {
  // Evaluated over the DevTools protocol, so the page's Content-Security-Policy stays as it is.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `${name}: axe`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at ${WIDTH}px`);
  checkedScreens.add(name);
}

async function chooseService(page, serviceCode) {
  const radio = page.locator(`#service-list input[type=radio][value="${serviceCode}"]`);
  await radio.waitFor({ state: 'attached' });
  await radio.check();
}

async function typePoint(page, lat, long, summary = 'Enter latitude and longitude instead') {
  if (!(await page.locator('#coordinates').evaluate((d) => d.open))) await page.getByText(summary).click();
  await page.locator('#lat').fill(lat);
  await page.locator('#long').fill(long);
}

const isCreateResponse = (res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/v1/requests';

async function cityOf(base) {
  return (await fetch(`${base}/api/v1/city`)).json();
}

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
  if (browser) await browser.close();
});

test('the page names the city it is served for, and nothing of the city is in its files', { timeout: 60_000 }, async () => {
  const city = await cityOf(BASE);
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await page.locator('.site-title').filter({ hasText: city.name }).waitFor();
  assert.equal(await page.title(), `Report a problem — ${city.short_name} 311`);
  assert.equal(await page.locator('#emergency').innerText(), city.emergency.en);
  // The page's own files (HTML, modules, messages) say nothing of this city.
  const files = ['/', '/js/main.js', '/js/location.js', '/js/report.js', '/i18n/en.json', '/i18n/es.json', '/manifest.webmanifest'];
  for (const file of files) {
    const text = await (await fetch(`${BASE}${file}`)).text();
    assert.ok(!text.includes(city.short_name), `${file} does not name ${city.short_name}`);
  }
  // Modules are served as JavaScript, the npm tree and the tests are not served at all.
  assert.match((await fetch(`${BASE}/js/main.js`)).headers.get('content-type'), /javascript/);
  assert.match((await fetch(`${BASE}/vendor/leaflet/leaflet.js`)).headers.get('content-type'), /javascript/);
  assert.equal((await fetch(`${BASE}/node_modules/axe-core/axe.min.js`)).status, 404);
  assert.equal((await fetch(`${BASE}/tests/run.sh`)).status, 404);
  await checkScreen(page, 'report (en)');
  await page.close();
});

test('a pin tapped on the map, with the city drawn from its own shapes, is where the report goes', { timeout: 60_000 }, async () => {
  const city = await cityOf(BASE);
  const names = city.map.neighbourhoods.features.map((f) => f.properties.name);
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await chooseService(page, 'fallen_tree');
  // No tile can load here: the boundary and every neighbourhood are drawn all the same.
  await page.locator('#map path.leaflet-interactive, #map path').first().waitFor();
  assert.equal(await page.locator('#map path').count(), names.length + city.map.boundary.features.length);
  assert.equal(await page.locator('#map').getAttribute('aria-hidden'), 'true', 'the map is hidden from screen readers');
  const focusable = await page.locator('#map').evaluate((map) =>
    [map, ...map.querySelectorAll('a, button, [tabindex]')].filter((n) => n.tabIndex >= 0).length);
  assert.equal(focusable, 0, 'nothing in the hidden map takes the focus');

  await page.locator('#map').click();
  const status = page.locator('#location-status');
  await status.filter({ hasText: /^Place chosen: / }).waitFor();
  const where = await status.innerText();
  const neighbourhood = names.find((n) => where.includes(`in ${n}.`));
  assert.ok(neighbourhood, `the place is said in words, with its neighbourhood: ${where}`);
  const lat = Number(await page.locator('#lat').inputValue());
  const long = Number(await page.locator('#long').inputValue());
  assert.ok(Math.abs(lat - city.map.center.lat) < 0.05 && Math.abs(long - city.map.center.long) < 0.05, `the pin is near the middle of the map: ${lat}, ${long}`);
  assert.ok(await page.locator('#outside-city').isHidden());

  await page.getByLabel('Describe the problem').fill(`Branch across the path (browser test ${RUN}).`);
  const created = page.waitForResponse(isCreateResponse);
  await page.getByRole('button', { name: 'Send report' }).click();
  const response = await created;
  assert.equal(response.status(), 201);
  const body = response.request().postDataJSON();
  assert.equal(body.lat, lat);
  assert.equal(body.long, long);

  // The confirmation: a large number, spelled out, a link to share, and what happens next.
  const id = (await page.locator('#tracking-number').innerText()).trim();
  assert.match(id, TRACKING_RE);
  assert.ok(await page.locator('#tracking-number').evaluate((n) => parseFloat(getComputedStyle(n).fontSize) >= 28), 'the number is large');
  assert.equal(await page.locator('#tracking-spelled').innerText(), `Read aloud: ${[...id].map((c) => (c === '-' ? 'dash' : c)).join(' ')}`);
  assert.equal(await page.getByLabel('Link to share or keep').inputValue(), `${BASE}/#/requests/${id}`);
  assert.match(await page.locator('#expected-line').innerText(), /expects to deal with it by|sets an expected date/);
  assert.equal(await page.locator('.next-steps li').count(), 3);
  await checkScreen(page, 'sent (en)');

  await page.getByRole('link', { name: 'Track this report' }).click();
  await page.locator('#r-status').filter({ hasText: /^Open$/ }).waitFor();
  assert.equal((await page.locator('#r-neighbourhood').innerText()).trim(), neighbourhood);
  await checkScreen(page, 'track (en)');
  await page.close();
});

test('the address search places the pin, and suggests the addresses the city knows for one it does not', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await page.getByLabel('Address or landmark').fill('550 main st');
  await page.getByRole('button', { name: 'Find', exact: true }).click();
  await page.locator('#location-status').filter({ hasText: 'Place chosen: 550 Main Street, in Downtown.' }).waitFor();
  assert.equal(await page.getByLabel('Address or landmark').inputValue(), '550 Main Street');
  assert.ok(Math.abs(Number(await page.locator('#lat').inputValue()) - 41.76) < 0.05);

  await page.getByLabel('Address or landmark').fill('551 Mian Street');
  await page.getByLabel('Address or landmark').press('Enter');
  await page.getByText('The City does not know that address. Did you mean one of these?').waitFor();
  const suggestion = page.locator('#address-suggestions button').first();
  const suggested = await suggestion.innerText();
  assert.match(suggested, /Main Street/);
  await suggestion.click();
  await page.locator('#location-status').filter({ hasText: `Place chosen: ${suggested}` }).waitFor();
  await page.close();
});

test('an address found before the city has arrived is said with its neighbourhood once it has', { timeout: 60_000 }, async () => {
  const page = await newPage();
  let letCityThrough;
  const cityHeld = new Promise((done) => { letCityThrough = done; });
  await page.route('**/api/v1/city', async (route) => {
    await cityHeld;
    await route.continue();
  });
  await page.goto(`${BASE}/`);
  await page.getByLabel('Address or landmark').fill('550 main st');
  await page.getByRole('button', { name: 'Find', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('lat').value !== '');
  letCityThrough();
  await page.locator('#location-status').filter({ hasText: 'Place chosen: 550 Main Street, in Downtown.' }).waitFor();
  await page.close();
});

test('the description suggests the type of problem, in English and in Spanish', { timeout: 60_000 }, async () => {
  for (const [locale, words, label] of [['en-US', 'Deep hole in the road by the school', 'Describe the problem'], ['es-ES', 'Hay un bache enorme en la calle', 'Describa el problema']]) {
    const page = await newPage({ locale });
    await page.goto(`${BASE}/`);
    await page.locator('#service-list input[value="pothole"]').waitFor({ state: 'attached' });
    const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/services/suggest');
    await page.getByLabel(label).fill(words);
    assert.equal((await asked).status(), 200);
    const suggestion = page.locator('#service-suggestions button[data-service-code="pothole"]');
    await suggestion.waitFor({ state: 'visible' });
    assert.equal(await page.locator('#service-suggestions button').first().getAttribute('data-service-code'), 'pothole', `${locale}: the pothole comes first`);
    await suggestion.click();
    assert.ok(await page.locator('#service-list input[value="pothole"]').isChecked(), `${locale}: the suggestion chooses the service`);
    await page.locator('#attributes [data-attribute-code="pothole_size"]').waitFor();
    await page.close();
  }
});

test('a pin outside the city says whom to contact before anything is sent', { timeout: 60_000 }, async () => {
  const city = await cityOf(BASE);
  const page = await newPage();
  let sent = 0;
  page.on('request', (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/requests') sent++; });
  await page.goto(`${BASE}/`);
  await chooseService(page, 'sidewalk_damage');
  await typePoint(page, OUTSIDE.lat, OUTSIDE.long);
  const warning = page.locator('#outside-city');
  await warning.waitFor({ state: 'visible' });
  const text = await warning.innerText();
  assert.ok(text.includes(`This place is outside ${city.name}`), text);
  assert.ok(text.includes(city.contact.phone), `the city's phone is given: ${text}`);
  assert.equal(sent, 0);
  await checkScreen(page, 'outside the city (en)');

  // Back inside, the warning goes.
  await typePoint(page, '41.7658', '-72.6734');
  await warning.waitFor({ state: 'hidden' });
  await page.close();
});

test('"this is it": a nearby report of the same service is followed instead of sending another', { timeout: 60_000 }, async () => {
  // given an open report of a dead animal
  const earlier = await (await fetch(`${BASE}/api/v1/requests`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ service_code: 'dead_animal', lat: FOLLOW_PLACE.lat, long: FOLLOW_PLACE.long, description: `Deer by the kerb (browser test ${RUN})` }),
  })).json();
  const id = earlier.service_request_id;
  assert.match(id, TRACKING_RE);

  const page = await newPage();
  await page.goto(`${BASE}/`);
  await chooseService(page, 'dead_animal');
  await typePoint(page, String(FOLLOW_PLACE.lat + 0.0001), String(FOLLOW_PLACE.long));
  const item = page.locator(`#nearby li[data-request-id="${id}"]`);
  await item.waitFor({ state: 'visible' });
  await checkScreen(page, 'nearby (en)');
  await item.getByRole('button', { name: 'This is it: follow it instead' }).click();
  const address = item.getByLabel('Your e-mail or phone, to hear when it changes');
  await address.fill(`follower.${RUN}@example.org`);
  const follow = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/v1/requests/${id}/followers`);
  await item.getByRole('button', { name: 'Follow this report' }).click();
  const answer = await follow;
  assert.equal(answer.status(), 202);
  assert.deepEqual(answer.request().postDataJSON(), { email: `follower.${RUN}@example.org`, language: 'en' });
  await item.getByText(`Done. A message is on its way to confirm you want news of ${id}`).waitFor();
  await page.close();
});

test('in Spanish from the browser: every screen, dates in the city\'s time zone, and back to English', { timeout: 90_000 }, async () => {
  const city = await cityOf(BASE);
  const page = await newPage({ locale: 'es-ES' });
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: 'Informar de un problema' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'es');
  assert.equal(await page.title(), `Informar de un problema — ${city.short_name} 311`);
  assert.equal(await page.locator('#emergency').innerText(), city.emergency.es);
  assert.equal(await page.getByLabel('Idioma').inputValue(), 'es');
  await checkScreen(page, 'report (es)');

  await chooseService(page, 'rodents');
  await typePoint(page, SPANISH_PLACE.lat, SPANISH_PLACE.long, 'Escribir la latitud y la longitud');
  await page.getByLabel('Describa el problema').fill(`Ratas junto a los contenedores (prueba ${RUN}).`);
  await page.getByLabel('Correo electrónico').fill(`vecina.${RUN}@example.org`);
  const created = page.waitForResponse(isCreateResponse);
  await page.getByRole('button', { name: 'Enviar reporte' }).click();
  const response = await created;
  assert.equal(response.status(), 201);
  assert.equal(response.request().postDataJSON().language, 'es', 'the City writes to the resident in Spanish');
  await page.getByText('Gracias: recibimos su reporte').waitFor();
  const id = (await page.locator('#tracking-number').innerText()).trim();
  assert.match(await page.locator('#tracking-spelled').innerText(), /^En voz alta: .* guion /);
  await checkScreen(page, 'sent (es)');

  await page.getByRole('link', { name: 'Seguir este reporte' }).click();
  await page.locator('#r-status').filter({ hasText: /^Abierto$/ }).waitFor();
  const requested = page.locator('#r-requested time');
  const at = await requested.getAttribute('datetime');
  const expected = new Intl.DateTimeFormat('es', {
    year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: city.timezone, timeZoneName: 'short',
  }).format(new Date(at));
  assert.equal(await requested.innerText(), expected, 'the date is in Spanish, on the city\'s clock');
  assert.match(await page.locator('#r-timeline').innerText(), /Reporte recibido/);
  await checkScreen(page, 'track (es)');

  // The switch: English now, and still English on the next visit.
  await page.getByLabel('Idioma').selectOption('en');
  await page.getByRole('heading', { level: 1, name: 'Track a report' }).waitFor();
  await page.locator('#r-status').filter({ hasText: /^Open$/ }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.reload();
  await page.locator('#r-id').filter({ hasText: id }).waitFor();
  assert.equal(await page.getByLabel('Language').inputValue(), 'en');
  await page.close();
});

test('offline, the report is kept on the phone and sent once it is back online', { timeout: 90_000 }, async () => {
  const context = await newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  await page.goto(`${BASE}/`);
  // Installable: a manifest, and a service worker that keeps the page.
  const manifest = await (await fetch(`${BASE}/manifest.webmanifest`)).json();
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.icons.length >= 1 && manifest.start_url);
  assert.ok(await page.evaluate(async () => Boolean((await navigator.serviceWorker.ready).active)), 'the service worker is active');

  await chooseService(page, 'overgrown_lot');
  await typePoint(page, OFFLINE_PLACE.lat, OFFLINE_PLACE.long);
  const description = `Weeds taller than the fence (offline browser test ${RUN}).`;
  await page.getByLabel('Describe the problem').fill(description);

  const answered = [];
  page.on('response', (r) => { if (isCreateResponse(r)) answered.push(r.status()); });
  await context.setOffline(true);
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.locator('#draft-notice').filter({ hasText: 'You are offline. Your report is kept on this device' }).waitFor();
  await checkScreen(page, 'kept offline (en)');
  assert.deepEqual(answered, [], 'nothing reached the City while offline');
  const kept = await page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('cityfix', 1);
    open.onsuccess = () => {
      const get = open.result.transaction('drafts').objectStore('drafts').get('report');
      get.onsuccess = () => resolve(get.result && get.result.body.description);
    };
  }));
  assert.equal(kept, description, 'the draft is kept on the device');

  await context.setOffline(false);
  const trackingEl = page.locator('#tracking-number');
  await trackingEl.waitFor({ state: 'visible', timeout: 2 * WAIT });
  const id = (await trackingEl.innerText()).trim();
  assert.match(id, TRACKING_RE);
  assert.deepEqual(answered, [201], 'sent once, when back online');
  const stored = await (await fetch(`${BASE}/api/v1/requests/${id}`)).json();
  assert.equal(stored.description, description);
  const left = await page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('cityfix', 1);
    open.onsuccess = () => {
      const get = open.result.transaction('drafts').objectStore('drafts').get('report');
      get.onsuccess = () => resolve(get.result === undefined);
    };
  }));
  assert.ok(left, 'the draft is gone once sent');
  await context.close();
});

test('the first report screen downloads less than 250 KB gzipped, map library included', { timeout: 60_000 }, async () => {
  const context = await newContext();
  const page = await context.newPage();
  const ours = [];
  page.on('response', (r) => { if (new URL(r.url()).origin === BASE) ours.push(r); });
  await page.goto(`${BASE}/`, { waitUntil: 'networkidle' });
  await page.locator('#service-list input[type=radio]').first().waitFor({ state: 'attached' });
  let total = 0;
  const sizes = [];
  for (const response of ours) {
    const body = await response.body().catch(() => Buffer.alloc(0));
    const gzipped = gzipSync(body).length;
    total += gzipped;
    sizes.push(`${new URL(response.url()).pathname} ${gzipped}`);
  }
  const paths = sizes.join('\n');
  assert.match(paths, /\/vendor\/leaflet\/leaflet\.js /, 'the map library is counted');
  assert.match(paths, /\/api\/v1\/city /, 'the city and its shapes are counted');
  console.log(`first report screen: ${ours.length} files, ${(total / 1024).toFixed(1)} KB gzipped\n${paths}`);
  assert.ok(total < FIRST_SCREEN_BUDGET, `the first screen downloads ${total} bytes gzipped:\n${paths}`);
  await context.close();
});

/** Starts a second runner on another city folder; resolves to { url, stop }. */
function startRunner(config) {
  const data = mkdtempSync(join(tmpdir(), 'cityfix-second-city-'));
  const child = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--data', data, '--config', config, '--web', WEB], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the second runner did not start:\n${log}`)), 30_000);
    const read = (chunk) => {
      log += chunk;
      const m = log.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[0],
          stop: () => new Promise((done) => {
            child.once('exit', () => { rmSync(data, { recursive: true, force: true }); done(); });
            child.kill('SIGTERM');
          }),
        });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the second runner exited (${code}):\n${log}`)); });
  });
}

test('a second city folder gives a second city\'s site, in a language the folder adds', { timeout: 90_000 }, async () => {
  assert.ok(BIN, 'set CITYFIX_BIN to the cityfix binary, to start a second runner');
  const runner = await startRunner(join(REPO, 'tests/cities/riverton'));
  try {
    const page = await newPage({ locale: 'fr-FR' });
    await page.goto(`${runner.url}/`);
    // French from the city folder's messages/fr.json; what it lacks falls back to English.
    await page.getByRole('heading', { level: 1, name: 'Signaler un problème' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'fr');
    assert.equal(await page.getByRole('link', { name: 'Suivre un signalement' }).count(), 1);
    assert.equal(await page.getByText('Search for the type of problem').count(), 1);
    await page.locator('.site-title').filter({ hasText: 'Town of Riverton' }).waitFor();
    assert.equal(await page.locator('#emergency').innerText(), 'Urgence ? Appelez le 911.');
    const offered = await page.locator('#language-select option').allInnerTexts();
    assert.deepEqual(offered, ['English', 'Français']);
    // Riverton's own catalogue and shapes, and nothing of the demo city.
    await page.locator('#service-list input[value="broken_bench"]').waitFor({ state: 'attached' });
    assert.equal(await page.locator('#service-list input[type=radio]').count(), 2);
    assert.deepEqual(await page.locator('#service-list legend').allInnerTexts(), ['Parks', 'Trees']);
    await page.locator('#map path').nth(2).waitFor();
    assert.equal(await page.locator('#map path').count(), 3, 'its boundary and two neighbourhoods');
    assert.ok(!(await page.evaluate(() => document.body.innerText)).includes('Hartford'));
    await checkScreen(page, 'second city (fr)');

    await page.getByLabel('Langue').selectOption('en');
    await page.getByRole('heading', { level: 1, name: 'Report a problem' }).waitFor();
    assert.equal(await page.title(), 'Report a problem — Riverton 311');
    await page.close();
  } finally {
    await runner.stop();
  }
});

test('every screen was checked, and none raised a script error', () => {
  for (const screen of ['report (en)', 'report (es)', 'sent (en)', 'sent (es)', 'track (en)', 'track (es)', 'nearby (en)', 'outside the city (en)', 'kept offline (en)', 'second city (fr)']) {
    assert.ok(checkedScreens.has(screen), `${screen} was checked with axe at ${WIDTH} px`);
  }
  assert.deepEqual(pageErrors, []);
});
