// Real-browser test of the staff queue's map (/admin/queue/map) against a running cityfix server:
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_DATA=<its data folder> node --test tests/admin-queue-map.test.mjs
//
// Two reports go to Public Works; the demo crew member signs in, opens the queue as a map and finds
// a mark for each request of the filtered queue (as many as the list under it), each titled with its
// number and service; following a mark opens its request. Without JavaScript the map is the same
// plain shapes and marks, and a mark is reached with the keyboard; with it, the city folder's tiles
// are laid under the shapes (served here by the test, so no network is needed). The map page
// passes axe-core with no serious or critical violation and has no horizontal scroll at 1280 and
// 768 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { checkPageIsUsable, demoLogins as demoLoginsIn } from './support/staff.mjs';


const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const DATA = process.env.CITYFIX_DATA || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 15_000;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
// A 1×1 PNG standing in for every map tile.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

let browser;
const pageErrors = [];

/** The demo sign-ins the runner wrote to its data folder: role → { username, password }. */
function demoLogins() {
  return demoLoginsIn(DATA);
}

async function newPage(options = {}, { tilesFail = false } = {}) {
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 }, ...options });
  // The city's tiles, answered here (or refused): the test needs no network, and counts what was
  // asked for.
  const tiles = [];
  await context.route(/^https:\/\/tile\.openstreetmap\.org\//, (route) => {
    tiles.push(route.request().url());
    if (tilesFail) return route.abort('internetdisconnected');
    return route.fulfill({ status: 200, contentType: 'image/png', body: PNG });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return { page, tiles };
}

/** axe-core on the page (no serious or critical violation) and no horizontal scroll at 1280 and 768. */
async function checkPage(page, name) {
  await checkPageIsUsable(page, name);
}

async function signIn(page, login, next) {
  await page.goto(`${BASE}${next}`);
  await page.waitForURL(/\/admin\/sign-in/);
  await page.getByLabel('User name').fill(login.username);
  await page.getByLabel('Password').fill(login.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === new URL(`${BASE}${next}`).pathname);
}

/** Follows the map's "Next page" links until `ids` are all marked (other tests share the server). */
async function pageMarking(page, ids) {
  for (let i = 0; i < 20; i += 1) {
    const found = await Promise.all(ids.map((id) => page.locator(`svg.queue-map a.mark[href="/admin/requests/${id}"]`).count()));
    if (found.every((n) => n > 0)) return;
    const next = page.locator('a[rel="next"]');
    assert.ok(await next.count() > 0, `${ids} are on no page of the map`);
    await next.click();
    await page.waitForLoadState();
  }
}

async function api(path, options = {}) {
  const answer = await fetch(`${BASE}${path}`, options);
  return { status: answer.status, body: await answer.json().catch(() => null) };
}

/** A pothole reported over the web API at the point, once routed. */
async function routedPothole(lat, long, description) {
  const body = { service_code: 'pothole', lat, long, description, attributes: { pothole_size: 'small', position_in_road: 'travel_lane' } };
  const created = await api('/api/v1/requests', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.ok(created.status === 201 || created.status === 202, JSON.stringify(created.body));
  const id = created.body.service_request_id ?? created.body.request?.service_request_id;
  for (let i = 0; i < 100; i += 1) {
    const read = await api(`/api/v1/requests/${id}`);
    if (read.body?.status && read.body.status !== 'submitted') return id;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${id} was not routed`);
}

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL');
  assert.ok(DATA, 'set CITYFIX_DATA to the server data folder');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});

test('the queue as a map marks each request of the filter, on tiles when the city has them', async () => {
  // On Garden Street and on Franklin Avenue: city streets, far apart (never one report's duplicate).
  const north = await routedPothole(41.777486, -72.687426, `Map test north ${RUN}`);
  const south = await routedPothole(41.742300, -72.678085, `Map test south ${RUN}`);
  const { page, tiles } = await newPage();
  await signIn(page, demoLogins().staff, '/admin/queue/map?service=pothole');
  const map = page.locator('svg.queue-map');
  await map.waitFor();
  await pageMarking(page, [north, south]);

  // A mark for each request of the filtered page, as many as the list under the map holds.
  const marks = map.locator('a.mark');
  const listed = await page.locator('ol.map-list li a').count();
  assert.ok(listed >= 2, `the two potholes are listed (${listed})`);
  assert.equal(await marks.count(), listed, 'every listed request has its mark');
  for (const id of [north, south]) {
    const mark = map.locator(`a.mark[href="/admin/requests/${id}"]`);
    assert.equal(await mark.count(), 1, `${id} is marked once`);
    assert.equal(await mark.locator('title').textContent(), `${id} · Pothole`);
  }
  // North is drawn above south.
  const [northBox, southBox] = [await map.locator(`a.mark[href="/admin/requests/${north}"] circle`).boundingBox(), await map.locator(`a.mark[href="/admin/requests/${south}"] circle`).boundingBox()];
  assert.ok(northBox.y < southBox.y, 'north is up');
  // The city's shapes, and the tiles laid under them by the script.
  assert.ok(await map.locator('g.layer.shaded path').count() > 5, 'the neighbourhoods are drawn');
  assert.equal(await map.locator('g.layer.boundary path').count(), 1, 'the city limits');
  await page.waitForFunction(() => document.querySelectorAll('svg.queue-map g.tiles image.loaded').length > 0);
  assert.ok(await map.evaluate((svg) => svg.classList.contains('with-tiles')));
  assert.ok(tiles.length > 0 && tiles.every((url) => /\/\d+\/\d+\/\d+\.png$/.test(url)), `tiles asked for: ${tiles.slice(0, 3)}`);
  assert.ok(await page.locator('.map-credit').isVisible(), 'the tiles are credited');
  await checkPage(page, 'queue map');

  // Another service's filter leaves the potholes off.
  await page.getByLabel('Service').selectOption('graffiti');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/service=graffiti/);
  assert.ok(page.url().includes('/admin/queue/map'), 'the filter stays on the map');
  assert.equal(await page.locator(`svg.queue-map a.mark[href="/admin/requests/${north}"]`).count(), 0);

  // Following a mark opens its request.
  await page.goBack();
  await page.locator(`svg.queue-map a.mark[href="/admin/requests/${north}"]`).click();
  await page.waitForURL(new RegExp(`/admin/requests/${north}$`));
  await page.getByText(`Map test north ${RUN}`).first().waitFor();
});

test('without JavaScript the map is the plain shapes and marks, and a mark opens from the keyboard', async () => {
  const id = await routedPothole(41.749962, -72.697039, `Map test plain ${RUN}`);
  const { page, tiles } = await newPage({ javaScriptEnabled: false });
  await signIn(page, demoLogins().staff, '/admin/queue/map');
  const map = page.locator('svg.queue-map');
  await map.waitFor();
  await pageMarking(page, [id]);
  assert.equal(await map.locator('g.tiles image').count(), 0, 'no tiles without the script');
  assert.equal(tiles.length, 0);
  assert.ok(await map.locator('g.layer.shaded path').count() > 5);
  const mark = map.locator(`a.mark[href="/admin/requests/${id}"]`);
  assert.equal(await mark.count(), 1);
  await mark.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/admin/requests/${id}$`));
});

test('tiles that do not load leave the plain shapes, with no broken images over them', async () => {
  const { page, tiles } = await newPage({}, { tilesFail: true });
  await signIn(page, demoLogins().staff, '/admin/queue/map');
  const map = page.locator('svg.queue-map');
  await map.waitFor();
  // Every tile was asked for and refused; each refused one is taken away.
  await page.waitForFunction(() => document.querySelectorAll('svg.queue-map g.tiles image').length === 0);
  assert.ok(tiles.length > 0, 'the script asked for tiles');
  assert.equal(await map.evaluate((svg) => svg.classList.contains('with-tiles')), false);
  assert.equal(await page.locator('.map-credit').isVisible(), false, 'no credit for tiles not shown');
  assert.ok(await map.locator('g.layer.shaded path').count() > 5, 'the shapes stay');
});
