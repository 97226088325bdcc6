// Real-browser tests of what a resident does on a request's page at a phone's 360 px, in English
// and Spanish: "me too" and following while it is worked; once closed as fixed, "not fixed:
// reopen it" with a comment for its reporter (the page that sent it, which holds its token in
// memory and stores it nowhere), a note of who may reopen it for anyone else (and for the reporter
// after a reload), and nothing to do on a report closed otherwise. axe-core on every screen.
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_DATA=<its data folder> CITYFIX_BIN=…/cityfix node --test tests/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const DATA = process.env.CITYFIX_DATA || '';
const BIN = process.env.CITYFIX_BIN || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10_000;
const WIDTH = 360;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
// Where this run reports, apart from an earlier run's on the same server (not its duplicates).
// North of 41.7597 the fourth report's point is within I-84's buffer and is referred to the
// state, closed on arrival (`cityfix check-routing --lines config/hartford/lines/state-roads.geojson`).
const BASE_LAT = 41.7500 + Math.round(Math.random() * 90) * 0.0001;

let browser;
let staffToken;
// The token the server gave the last report sent from a page.
let lastToken;
const pageErrors = [];

async function newPage(locale = 'en-US') {
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: WIDTH, height: 780 }, locale });
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

async function until(what, check) {
  for (let i = 0; i < 100; i += 1) {
    const value = await check();
    if (value) return value;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A streetlight report sent by this page's own code (so this browser keeps its token), once routed. */
async function reportFromPage(page, n) {
  await page.goto(`${BASE}/#/report`);
  await page.locator('#service-list input[name="service_code"]').first().waitFor({ state: 'attached' });
  const body = {
    service_code: 'streetlight_out', lat: BASE_LAT + n * 0.0007, long: -72.6990,
    description: `Light out for the track test ${RUN}-${n}`,
  };
  const created = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/requests');
  const request = await page.evaluate(async (b) => {
    const report = await import('/js/report.js');
    return report.sendReport(b, [], crypto.randomUUID());
  }, body);
  lastToken = (await (await created).json()).token;
  const id = request.service_request_id;
  const routed = await until(`${id} routed`, async () => {
    const status = (await api(`/api/v1/requests/${id}`)).body?.status;
    return status !== 'submitted' && status;
  });
  assert.equal(routed, 'open', `${id} at ${body.lat}, ${body.long} should open in a department, not be referred or linked`);
  return id;
}

async function close(id, resolution) {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${staffToken}` };
  const answer = await api(`/staff/v1/requests/${id}/transitions`, {
    method: 'POST', headers, body: JSON.stringify({ to: 'closed', resolution, note: 'Done by the crew.' }),
  });
  assert.ok(answer.status < 300, JSON.stringify(answer.body));
  await until(`${id} closed`, async () => (await api(`/api/v1/requests/${id}`)).body?.status === 'closed');
}

/** The request's page, loaded afresh (a new query, so not the same page's hash change). */
async function open(page, id) {
  await page.goto(`${BASE}/?read=${Date.now()}#/requests/${id}`);
  await page.locator('#track-result').waitFor();
}

/** The request's page read again in the same page (which holds the token of what it sent). */
async function reread(page, id) {
  const read = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/requests/${id}`);
  await page.evaluate(() => { location.hash = '#/track'; });
  await page.evaluate((n) => { location.hash = `#/requests/${n}`; }, id);
  await read;
  await page.locator('#track-result').waitFor();
  await page.waitForFunction(() => !document.getElementById('track-status').textContent.endsWith('…'));
}

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL to the base URL of a running cityfix server');
  assert.ok(DATA && BIN, 'set CITYFIX_DATA and CITYFIX_BIN, to sign staff in');
  staffToken = execFileSync(BIN, ['token', '--data', DATA, '--role', 'supervisor', '--name', 'Track Test'], { encoding: 'utf8' }).trim();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
});

after(async () => {
  if (browser) await browser.close();
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});

test('on a report being worked: me too and follow; once fixed, its reporter reopens it with a comment', { timeout: 90_000 }, async () => {
  const page = await newPage('en-US');
  const id = await reportFromPage(page, 1);
  await reread(page, id);
  assert.ok(await page.locator('#r-actions').isVisible());
  assert.ok(await page.locator('#metoo-button').isVisible());
  assert.ok(await page.locator('#follow-button').isVisible());
  assert.ok(await page.locator('#reopen-block').isHidden(), 'nothing to reopen while it is worked');
  await checkScreen(page, 'request being worked, its actions');

  await page.locator('#metoo-button').click();
  await page.locator('#metoo-status', { hasText: 'Thank you' }).waitFor();
  await until('the supporter counted', async () => (await api(`/api/v1/requests/${id}`)).body?.supporters === 1);
  await reread(page, id);
  assert.equal(await page.locator('#r-supporters').textContent(), '1 other person said they see this problem too.');

  await page.locator('#follow-button').click();
  assert.equal(await page.locator('#follow-address').getAttribute('aria-invalid'), 'true');
  await page.locator('#follow-address').fill(`track-${RUN}@example.org`);
  const followed = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/followers'));
  await page.locator('#follow-button').click();
  assert.equal((await followed).status(), 202);
  await page.locator('#follow-status', { hasText: 'A message is on its way' }).waitFor();
  await checkScreen(page, 'request followed');

  await close(id, 'fixed');
  await reread(page, id);
  const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(lastToken && !kept.includes(lastToken), 'the token is held in memory, stored nowhere');
  assert.ok(await page.locator('#metoo-block').isHidden() && await page.locator('#follow-block').isHidden(), 'a closed report takes no me too or followers');
  assert.ok(await page.locator('#reopen-form-wrap').isVisible(), 'its reporter may reopen it');
  assert.match(await page.locator('#reopen-window').textContent(), /^Not fixed\? You can reopen this report until /);
  await checkScreen(page, 'fixed request, its reporter');

  await page.locator('#reopen-button').click();
  assert.equal(await page.locator('#reopen-comment').getAttribute('aria-invalid'), 'true');
  await page.locator('#reopen-comment').fill('The light is still out every night.');
  const reopened = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/reopen'));
  await page.locator('#reopen-button').click();
  assert.equal((await reopened).status(), 202);
  await page.locator('#reopen-status', { hasText: 'Reopened' }).waitFor();
  await until(`${id} reopened`, async () => (await api(`/api/v1/requests/${id}`)).body?.status === 'open');
  await page.locator('#r-status[data-status="open"]').waitFor();
  assert.ok(await page.locator('#reopen-block').isHidden());
  assert.ok(await page.locator('#metoo-button').isVisible(), 'worked again, it takes me too again');
  await page.context().close();
});

test('in Spanish: someone else sees who may reopen a fixed report, and nothing on one closed otherwise', { timeout: 90_000 }, async () => {
  const reporter = await newPage('en-US');
  const fixed = await reportFromPage(reporter, 2);
  const cancelled = await reportFromPage(reporter, 3);
  await reporter.context().close();
  await close(fixed, 'fixed');
  await close(cancelled, 'cancelled');

  const page = await newPage('es-ES');
  await open(page, fixed);
  assert.equal(await page.locator('#r-actions-heading').textContent(), 'Haga algo al respecto');
  assert.ok(await page.locator('#reopen-form-wrap').isHidden(), 'only its reporter reopens it');
  assert.match(await page.locator('#reopen-window').textContent(), /^¿No se arregló\? Quien lo reportó puede reabrirlo hasta el /);
  await checkScreen(page, 'fixed request, someone else (es)');

  await open(page, cancelled);
  assert.ok(await page.locator('#r-actions').isHidden(), 'nothing to do on a report closed as cancelled');
  await checkScreen(page, 'cancelled request (es)');
  await page.context().close();
});
