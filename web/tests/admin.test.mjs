// Real-browser test of the staff application at /admin against a running cityfix server.
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_DATA=<its data folder> node --test tests/
//
// A crew member signs in, finds a new report in the department's queue, triages it, closes it with
// a photo of the fix, and the resident then sees the closing note and the photo on the report's
// page. A crew member assigns ticked requests from the queue at once. A call-taker files a report
// by phone and reads its number out, and for another caller finds the open report nearby they mean
// and adds them to it instead. A supervisor hides a report and edits its description, and
// the resident's page and Open311 follow. Every page passes axe-core
// with no serious or critical violation and has no horizontal scroll at 1280 and 768 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { checkPageIsUsable, demoLogins as demoLoginsIn } from './support/staff.mjs';


const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const DATA = process.env.CITYFIX_DATA || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 15_000;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
// A 2×2 JPEG the server's checker takes.
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/'
  + '2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAACAAIDASIAAhEBAxEB/8QAFQAB'
  + 'AQAAAAAAAAAAAAAAAAAAAAX/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABQb/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIR'
  + 'AxEAPwCcAGUD/9k=',
  'base64',
);

let browser;
const pageErrors = [];
const checkedPages = new Set();

/** The demo sign-ins the runner wrote to its data folder: role → { username, password }. */
function demoLogins() {
  return demoLoginsIn(DATA);
}

async function newPage() {
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

/** axe-core on the page (no serious or critical violation) and no horizontal scroll at 1280 and 768. */
async function checkPage(page, name) {
  await checkPageIsUsable(page, name);
  checkedPages.add(name);
}

async function signIn(page, login, next = '/admin') {
  await page.goto(`${BASE}${next}`);
  await page.waitForURL(/\/admin\/sign-in/);
  await checkPage(page, 'sign-in');
  await page.getByLabel('User name').fill(login.username);
  await page.getByLabel('Password').fill(login.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function api(path, options = {}) {
  const answer = await fetch(`${BASE}${path}`, options);
  return { status: answer.status, body: await answer.json().catch(() => null) };
}

/** A pothole reported over the web API, once routed to Public Works. */
async function routedReport(description) {
  const body = {
    // In Barry Square, on a city street (not a state road) no other browser test reports near.
    service_code: 'pothole', lat: 41.7480, long: -72.6850,
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

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL');
  assert.ok(DATA, 'set CITYFIX_DATA to the server data folder');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});

test('a crew member triages a new report and closes it with a photo the resident then sees', async () => {
  const description = `Pothole for the staff test ${RUN} <b>not bold</b>`;
  const id = await routedReport(description);
  const login = demoLogins().staff;
  const page = await newPage();
  await signIn(page, login);
  await page.waitForURL(/\/admin\/queue/);
  await checkPage(page, 'queue');
  await page.getByRole('link', { name: id }).click();
  await page.waitForURL(new RegExp(`/admin/requests/${id}`));
  await checkPage(page, 'request');
  assert.ok(await page.getByText('<b>not bold</b>').count() > 0, 'resident text shows as text');

  const statusForm = page.locator('form[action$="/transition"]');
  await statusForm.getByLabel('New status').selectOption('in_progress');
  await statusForm.getByLabel('Note', { exact: true }).fill('A crew is on the way.');
  await statusForm.getByRole('button', { name: 'Change status' }).click();
  await page.getByText('The status was changed.').waitFor();

  const closing = page.locator('form[action$="/transition"]');
  await closing.getByLabel('New status').selectOption('closed');
  await closing.getByLabel('Resolution (when closing)').selectOption('fixed');
  await closing.getByLabel('Note', { exact: true }).fill(`Patched today ${RUN}.`);
  await closing.locator('input[type=file]').setInputFiles({ name: 'fix.jpg', mimeType: 'image/jpeg', buffer: JPEG });
  await closing.getByText('Photo ready').waitFor({ timeout: 30_000 });
  await closing.getByRole('button', { name: 'Change status' }).click();
  await page.waitForLoadState();
  const refused = await page.locator('.problem').allTextContents();
  assert.deepEqual(refused, [], 'the close is not refused');
  await page.getByText('The status was changed.').waitFor();
  assert.ok(await page.locator('.badge', { hasText: 'closed' }).count() > 0);

  // The resident's view: the report's page shows the closing note and the photo of the fix.
  const resident = await newPage();
  await resident.goto(`${BASE}/#/requests/${id}`);
  await resident.locator('#r-timeline').getByText(`Patched today ${RUN}.`).waitFor();
  const photo = resident.locator('img.timeline-photo').first();
  await photo.waitFor();
  const loaded = await photo.evaluate((img) => img.complete && img.naturalWidth > 0);
  assert.ok(loaded, 'the photo of the fix loads');
  await resident.context().close();
  await page.context().close();
});

test('a crew member assigns ticked requests from the queue and sees the result of each', async () => {
  const id = await routedReport(`Pothole for the bulk assign test ${RUN}`);
  const page = await newPage();
  await signIn(page, demoLogins().staff, '/admin/queue?sort=newest');
  await page.waitForURL(/\/admin\/queue/);
  await page.getByRole('checkbox', { name: `Tick ${id}` }).check();
  const assignee = page.getByLabel('Assign the ticked requests to');
  const first = await assignee.locator('option').nth(1).getAttribute('value');
  await assignee.selectOption(first);
  await page.getByRole('button', { name: 'Assign', exact: true }).click();
  await page.getByRole('heading', { name: 'Assigned 1 of 1' }).waitFor();
  await checkPage(page, 'assigned');
  await page.getByRole('link', { name: 'Back to the queue' }).click();
  await page.waitForURL(/\/admin\/queue\?.*sort=newest/);
  await page.context().close();
});

test('a call-taker files a report by phone and the number is read out', async () => {
  const page = await newPage();
  await signIn(page, demoLogins().agent, '/admin/intake');
  await page.waitForURL(/\/admin\/intake/);
  await checkPage(page, 'intake');
  await page.getByLabel('Service').selectOption('pothole');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel(/how big/i).selectOption('large');
  await page.getByLabel('Address').fill('550 Main St');
  await page.getByLabel('What the caller says').fill(`Caller reports a pothole ${RUN}`);
  await page.getByLabel('Phone').fill('860-555-0142');
  await page.getByRole('button', { name: 'File the report' }).click();
  await page.getByText('Read the number to the caller').waitFor();
  const id = (await page.locator('.tracking').textContent()).trim();
  assert.match(id, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  const spoken = await page.locator('.phonetic').textContent();
  assert.ok(spoken.split(/,| — /).length === 8, spoken);
  await checkPage(page, 'intake filed');
  const read = await api(`/api/v1/requests/${id}`);
  assert.equal(read.status, 200);
  assert.ok(!JSON.stringify(read.body).includes('860-555-0142'), 'the caller’s phone is not public');
  await page.context().close();
});

test('a call-taker finds the open report a caller means and adds them to it instead of filing', async () => {
  // A pothole a few metres from 114 Woodland Street, reported on the web.
  const body = {
    service_code: 'pothole', lat: 41.77215, long: -72.70010, description: `Pothole by the hydrant ${RUN}`,
    attributes: { pothole_size: 'small', position_in_road: 'travel_lane' },
  };
  const created = await api('/api/v1/requests', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const id = created.body.service_request_id ?? created.body.request?.service_request_id;
  assert.ok(id, JSON.stringify(created.body));
  const page = await newPage();
  await signIn(page, demoLogins().agent, '/admin/intake?service_code=pothole');
  await page.waitForURL(/\/admin\/intake/);
  await page.getByLabel('Address').fill('114 Woodland Street');
  await page.getByLabel('Phone').fill('860-555-0177');
  await page.getByRole('button', { name: 'Look for open reports nearby' }).click();
  const follow = page.getByRole('button', { name: `Add the caller as a follower of ${id} instead` });
  await follow.waitFor();
  assert.ok(await page.getByText(`Pothole by the hydrant ${RUN}`).count() > 0, 'the report is described');
  assert.equal(await page.getByLabel('Phone').inputValue(), '860-555-0177', 'what was typed is kept');
  await checkPage(page, 'intake nearby');
  await follow.click();
  await page.getByText(`Added to: ${id}`).waitFor();
  const spoken = await page.locator('.phonetic').textContent();
  assert.ok(spoken.split(/,| — /).length === 8, spoken);
  assert.ok(await page.getByText('The caller follows it').count() > 0);
  await checkPage(page, 'intake followed');
  const read = await api(`/api/v1/requests/${id}`);
  assert.ok(!JSON.stringify(read.body).includes('555-0177'), 'the caller’s phone is not public');
  await page.context().close();
});

test('a supervisor hides a report and edits its description, and the public view follows', async () => {
  const id = await routedReport(`Pothole for the moderation test ${RUN}, Jo Bloggs did it`);
  const page = await newPage();
  await signIn(page, demoLogins().supervisor, `/admin/requests/${id}`);
  await page.waitForURL(new RegExp(`/admin/requests/${id}`));
  const hide = page.locator('form[action$="/visibility"]');
  await hide.getByLabel('Reason (staff only)').fill('names a neighbour');
  await hide.getByRole('button', { name: 'Hide it' }).click();
  await page.getByText('What the public sees of the request was changed.').waitFor();
  await page.locator('#hidden-mark').waitFor();
  await checkPage(page, 'request moderated');

  // The resident's page and Open311 no longer have it.
  const resident = await newPage();
  await resident.goto(`${BASE}/#/requests/${id}`);
  await resident.getByText('No report with that tracking number.').waitFor();
  assert.equal((await api(`/open311/v2/requests/${id}.json`)).status, 404);
  const listed = await api('/open311/v2/requests.json?page_size=100');
  assert.ok(!JSON.stringify(listed.body).includes(id), 'not in the Open311 list');

  // Edited and shown again: the public reads the edited words, staff the reporter's too.
  const edit = page.locator('form[action$="/description"]').first();
  await edit.getByLabel('What the public reads').fill(`Pothole for the moderation test ${RUN}`);
  await edit.getByLabel('Reason (staff only)').fill('a name');
  await edit.getByRole('button', { name: 'Save the description' }).click();
  await page.getByText('The public description was changed.').waitFor();
  await page.locator('#original-description', { hasText: 'Jo Bloggs' }).waitFor();
  const show = page.locator('form[action$="/visibility"]');
  await show.getByLabel('Reason (staff only)').fill('reviewed');
  await show.getByRole('button', { name: 'Show it' }).click();
  await page.getByText('What the public sees of the request was changed.').waitFor();
  assert.equal(await page.locator('#hidden-mark').count(), 0);

  await resident.goto(`${BASE}/#/requests/${id}`);
  await resident.reload();
  await resident.locator('#r-description', { hasText: `moderation test ${RUN}` }).waitFor();
  assert.ok(!(await resident.locator('#r-description').textContent()).includes('Bloggs'));
  await resident.context().close();
  await page.context().close();
});

test('a supervisor sees the backlogs page and an admin the audit log', async () => {
  const logins = demoLogins();
  const page = await newPage();
  await signIn(page, logins.supervisor, '/admin/backlogs');
  await page.waitForURL(/\/admin\/backlogs/);
  await checkPage(page, 'backlogs');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/admin\/sign-in/);
  await signIn(page, logins.admin, '/admin/audit');
  await page.waitForURL(/\/admin\/audit/);
  await checkPage(page, 'audit');
  await page.context().close();
  for (const name of ['sign-in', 'queue', 'request', 'intake', 'backlogs', 'audit']) {
    assert.ok(checkedPages.has(name), `${name} was checked with axe`);
  }
});
