// Real-browser test of the staff application's metrics page against a running cityfix server:
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_DATA=<its data folder> node --test tests/admin-metrics.test.mjs
//
// A report is made and routed; the demo supervisor signs in, opens the metrics page from the
// navigation, finds the report counted, sees the charts drawn as SVG with their tables, narrows
// the page to one service with the keyboard alone, and downloads a CSV of the same figures. The
// page passes axe-core with no serious or critical violation and has no horizontal scroll at
// 1280 and 768 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { checkPageIsUsable, demoLogins as demoLoginsIn } from './support/staff.mjs';


const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const DATA = process.env.CITYFIX_DATA || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 15_000;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let browser;
const pageErrors = [];

/** The demo sign-ins the runner wrote to its data folder: role → { username, password }. */
function demoLogins() {
  return demoLoginsIn(DATA);
}

/** axe-core on the page (no serious or critical violation) and no horizontal scroll at 1280 and 768. */
async function checkPage(page, name) {
  await checkPageIsUsable(page, name);
}

async function api(path, options = {}) {
  const answer = await fetch(`${BASE}${path}`, options);
  return { status: answer.status, body: await answer.json().catch(() => null) };
}

/** A pothole reported over the web API, once routed. */
async function routedReport(description) {
  const body = {
    // Away from the points the other staff tests report at, so nothing of theirs is linked to it.
    service_code: 'pothole', lat: 41.7860, long: -72.6920,
    description, attributes: { pothole_size: 'large', position_in_road: 'travel_lane' },
  };
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

/** The number shown for "Made" in the page's totals. */
async function madeInAll(page) {
  const text = await page.locator('.totals div').filter({ hasText: 'Made' }).locator('dd').textContent();
  return Number(text.trim());
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

test('a supervisor reads the metrics as charts and tables, filters them by keyboard and downloads the CSV', async () => {
  await routedReport(`Pothole for the metrics test ${RUN}`);
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));

  const login = demoLogins().supervisor;
  await page.goto(`${BASE}/admin/queue`);
  await page.waitForURL(/\/admin\/sign-in/);
  await page.getByLabel('User name').fill(login.username);
  await page.getByLabel('Password').fill(login.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/admin\/queue/);

  // the navigation leads there
  await page.getByRole('navigation', { name: 'Staff pages' }).getByRole('link', { name: 'Metrics' }).click();
  await page.waitForURL(/\/admin\/metrics/);
  // notify counts the routing a moment after it: wait for it to show
  for (let i = 0; i < 50 && (await madeInAll(page)) < 1; i += 1) {
    await new Promise((done) => setTimeout(done, 200));
    await page.reload();
  }
  assert.ok((await madeInAll(page)) >= 1, 'the routed report is counted');

  // three charts, each an image with a name, and the tables they are drawn from
  const charts = page.locator('svg.chart[role="img"]');
  assert.equal(await charts.count(), 3);
  assert.ok(await charts.first().isVisible(), 'the volume chart is shown');
  assert.equal(await page.getByRole('img', { name: 'Requests made and closed per day' }).count(), 1);
  assert.ok(await page.locator('svg.chart rect').count() > 0, 'bars are drawn');
  const byService = page.getByRole('table', { name: 'By service' });
  assert.ok(await byService.getByRole('rowheader', { name: 'Pothole' }).count() === 1);
  await checkPage(page, 'metrics');

  // the day table opens from its summary with the keyboard
  await page.getByText('By day, as a table').focus();
  await page.keyboard.press('Enter');
  assert.ok(await page.getByRole('table', { name: 'By day' }).isVisible());

  // keyboard only: choose a service and send the form
  await page.getByLabel('Service', { exact: true }).focus();
  await page.getByLabel('Service', { exact: true }).selectOption('pothole');
  await page.getByRole('button', { name: 'Show' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/service=pothole/);
  assert.ok((await madeInAll(page)) >= 1);
  assert.equal(await page.getByRole('table', { name: 'By service' }).getByRole('row').count(), 2, 'a header and the one service');
  await checkPage(page, 'metrics, one service');

  // the CSV of the same filters
  const href = await page.getByRole('link', { name: 'Download the figures by day as CSV' }).getAttribute('href');
  assert.match(href, /^\/admin\/metrics\.csv\?table=days&.*service=pothole/);
  const csv = await page.request.get(`${BASE}${href}`);
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'], /^text\/csv/);
  const lines = (await csv.text()).trim().split('\n');
  assert.match(lines[0], /^day,opened,acknowledged,closed,reopened,/);
  const made = lines.slice(1).reduce((sum, line) => sum + Number(line.split(',')[1]), 0);
  assert.equal(made, await madeInAll(page), 'the CSV adds up to the page');

  // a bad filter is a 400 page that says why, with the form to put it right
  const bad = await page.goto(`${BASE}/admin/metrics?from=2026-12-31&to=2026-01-01`);
  assert.equal(bad.status(), 400);
  assert.ok(await page.getByRole('alert').getByText('comes after').isVisible());
  await checkPage(page, 'metrics, bad filter');
  await context.close();
});
