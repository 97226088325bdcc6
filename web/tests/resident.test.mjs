// Real-browser test of the resident page against a running cityfix server.
//
//   CITYFIX_URL=http://127.0.0.1:3000 node --test tests/
//
// Drives headless Chromium through the page like a resident would: report a
// pothole, track it until it is routed, send an invalid location, and check
// that contact details never show up on the public tracking page. Then: the
// "Already reported nearby" panel before sending, a report linked to an
// earlier one, a pothole on a state road referred to the state, reports
// given only as a street address, a photo sent with a report and shown on it
// once checked, and a file of a kind the City does not take.
//
// All tests share one server with a fresh data folder. Duplicates are linked
// within 50 m for the same service while the earlier report is open, so each
// test uses its own place or service: the Downtown pothole of the first test
// stays open and is the "earlier report" of the nearby and duplicate tests;
// the state-road pothole is 2 km away; the address tests use sidewalk_damage;
// the photo test reports graffiti in Asylum Hill, the refused-file test a
// blocked storm drain in Frog Hollow.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = Number(process.env.WAIT || 10_000); // upper bound for any single wait
const TRACKING_RE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A point in Downtown Hartford.
const LAT = '41.7658';
const LONG = '-72.6734';
// About 20 m north of it.
const NEAR_LAT = '41.76598';
// On US-44 Albany Avenue, a state road: potholes there are for the state DOT.
const STATE_ROAD = { lat: '41.7825', long: '-72.6915' };
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const EMAIL = `resident.${RUN}@example.org`;
const DESCRIPTION = `Deep pothole in the right lane near the corner (browser test ${RUN}).`;
// In Asylum Hill and Frog Hollow, away from every other test's place.
const PHOTO_PLACE = { lat: '41.77325', long: '-72.69383' };
const REFUSED_FILE_PLACE = { lat: '41.75929', long: '-72.69141' };
// A real 2×2 JPEG (SOI, APP0 JFIF, tables, one scan, EOI): the server's
// checker takes it and the browser can show it.
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/'
  + '2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAACAAIDASIAAhEBAxEB/8QAFQAB'
  + 'AQAAAAAAAAAAAAAAAAAAAAX/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABQb/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIR'
  + 'AxEAPwCcAGUD/9k=',
  'base64',
);

let browser;
const pageErrors = [];
const foreignRequests = [];
const shared = { trackingNumber: null };

async function newPage() {
  // A phone's width: every screen is used at 360 px.
  const page = await browser.newPage({ reducedMotion: 'reduce', viewport: { width: 360, height: 780 }, locale: 'en-US' });
  page.setDefaultTimeout(WAIT);
  page.setDefaultNavigationTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    // Map tiles come from the city's tile server (unreachable here); nothing else may come from elsewhere.
    if (url.origin !== new URL(BASE).origin && url.protocol !== 'data:' && !isTile(url)) foreignRequests.push(r.url());
  });
  return page;
}

const isTile = (url) => /^\/\d+\/\d+\/\d+\.png$/.test(url.pathname);
const isCreate = (req) => req.method() === 'POST' && new URL(req.url()).pathname === '/api/v1/requests';
const isCreateResponse = (res) => isCreate(res.request());
const isMediaAsk = (req) => req.method() === 'POST' && /^\/api\/v1\/requests\/[^/]+\/media$/.test(new URL(req.url()).pathname);
const isNearby = (req) => req.method() === 'GET' && new URL(req.url()).pathname === '/api/v1/requests/nearby';
const nearbyFor = (serviceCode) => (res) =>
  isNearby(res.request()) && new URL(res.url()).searchParams.get('service_code') === serviceCode;

/** Opens the report form and chooses "pothole", filling every required attribute it renders. */
async function startPotholeReport(page) {
  return startReport(page, 'pothole');
}

/** Opens the report form and chooses a service, filling every required attribute it renders. */
async function startReport(page, serviceCode) {
  await page.goto(`${BASE}/`);
  // The service list is filled from GET /api/v1/services.
  await chooseService(page, serviceCode);

  const required = page.locator('#attributes [data-required="true"]');
  const count = await required.count();
  for (let i = 0; i < count; i++) {
    const field = required.nth(i);
    const datatype = await field.getAttribute('data-datatype');
    switch (datatype) {
      case 'singlevaluelist': {
        const select = field.locator('select');
        const first = await select.locator('option:not([value=""])').first().getAttribute('value');
        await select.selectOption(first);
        break;
      }
      case 'multivaluelist':
        await field.locator('input[type=checkbox]').first().check();
        break;
      case 'number':
        await field.locator('input').fill('1');
        break;
      case 'datetime':
        await field.locator('input').fill('2026-01-15T09:30');
        break;
      case 'text':
        await field.locator('textarea').fill('Test detail');
        break;
      default:
        await field.locator('input').fill('Test detail');
    }
  }
  return count;
}

/** Picks a service from the searchable list, as a resident would: by its radio button. */
async function chooseService(page, serviceCode) {
  const radio = page.locator(`#service-list input[type=radio][value="${serviceCode}"]`);
  await radio.waitFor({ state: 'attached' });
  await radio.check();
}

/** Types the point in the coordinate fields (behind "Enter latitude and longitude instead"). */
async function typePoint(page, lat, long) {
  const details = page.locator('#coordinates');
  if (!(await details.evaluate((d) => d.open))) await page.getByText('Enter latitude and longitude instead').click();
  await page.getByLabel('Latitude').fill(lat);
  await page.getByLabel('Longitude').fill(long);
}

/** Clicks "Send report", expects 201 and the tracking number; returns { id, body, created }. */
async function sendAndGetTrackingNumber(page) {
  const responsePromise = page.waitForResponse(isCreateResponse);
  await page.getByRole('button', { name: 'Send report' }).click();
  const response = await responsePromise;
  const created = await response.json().catch(() => null);
  assert.equal(response.status(), 201, `POST /api/v1/requests answered ${response.status()}: ${JSON.stringify(created)}`);
  const trackingEl = page.locator('#tracking-number');
  await trackingEl.waitFor({ state: 'visible' });
  const id = (await trackingEl.innerText()).trim();
  assert.match(id, TRACKING_RE);
  assert.equal(id, created.service_request_id);
  return { id, body: response.request().postDataJSON(), created };
}

/** GET /api/v1/requests/{id} from the test itself until `done(view)`; returns the last view. */
async function pollRequest(id, done, timeout = 2 * WAIT) {
  const deadline = Date.now() + timeout;
  let view = null;
  while (Date.now() < deadline) {
    const response = await fetch(`${BASE}/api/v1/requests/${encodeURIComponent(id)}`, { headers: { Accept: 'application/json' } });
    if (response.ok) {
      view = await response.json();
      if (done(view)) return view;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return view;
}

/** Text of a track-view detail row ('' when the row is hidden). */
async function detail(page, id) {
  const dd = page.locator(`#${id}`);
  if (await dd.locator('xpath=..').isHidden()) return '';
  return (await dd.innerText()).trim();
}

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL to the base URL of a running cityfix server, e.g. http://127.0.0.1:3000');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
});

after(async () => {
  if (browser) await browser.close();
});

test('no message key is shown in place of its text, in English or in Spanish', { timeout: 60_000 }, async () => {
  for (const lang of ['en', 'es']) {
    const page = await newPage();
    await page.goto(BASE);
    await page.evaluate((l) => localStorage.setItem('cityfix.language', l), lang);
    await page.reload();
    await page.locator('#service-list input[type=radio]').first().waitFor();
    const shown = await page.evaluate(async () => {
      const keys = Object.keys(await (await fetch('/i18n/en.json')).json());
      const texts = [...document.querySelectorAll('body *')]
        .filter((node) => node.children.length === 0 && node.offsetParent !== null)
        .map((node) => node.textContent.trim());
      return texts.filter((text) => keys.includes(text));
    });
    assert.deepEqual(shown, [], `${lang}: keys shown as text`);
    assert.match(await page.locator('#description-count').textContent(), lang === 'en' ? /0 of 4000 characters/ : /0 de 4000 caracteres/);
    await page.close();
  }
});

test('a resident reports a pothole and gets a tracking number', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await startPotholeReport(page);

  // The service's own attributes were rendered, labelled and in order.
  const services = await page.evaluate(async () => (await (await fetch('/api/v1/services')).json()).services);
  const pothole = services.find((s) => s.service_code === 'pothole');
  assert.ok(pothole, 'the server offers a "pothole" service');
  const expectedCodes = pothole.attributes
    .filter((a) => a.variable !== false)
    .sort((a, b) => a.order - b.order)
    .map((a) => a.code);
  const renderedCodes = await page.locator('#attributes [data-attribute-code]')
    .evaluateAll((nodes) => nodes.map((n) => n.dataset.attributeCode));
  assert.deepEqual(renderedCodes, expectedCodes, 'every variable attribute is rendered, sorted by order');
  for (const a of pothole.attributes.filter((x) => x.variable !== false && x.description)) {
    const named = a.datatype === 'multivaluelist'
      ? page.getByRole('group', { name: a.description })
      : page.getByLabel(a.description);
    assert.ok(await named.count() >= 1, `the "${a.code}" question is labelled with its description`);
  }

  await typePoint(page, LAT, LONG);
  await page.getByLabel('Describe the problem').fill(DESCRIPTION);
  await page.getByLabel('Email').fill(EMAIL);
  await assert.doesNotReject(
    page.getByText(`${DESCRIPTION.length} of 4000 characters used`).waitFor(),
    'the description counter follows the text',
  );

  const creates = [];
  page.on('request', (r) => { if (isCreate(r)) creates.push(r); });
  const responsePromise = page.waitForResponse(isCreateResponse);
  // A double click must still send one report.
  await page.getByRole('button', { name: 'Send report' }).dblclick();
  const response = await responsePromise;
  assert.equal(response.status(), 201, `POST /api/v1/requests answered ${response.status()}`);

  const sent = response.request();
  const key = sent.headers()['idempotency-key'];
  assert.match(key || '', UUID_RE, 'the report carries an Idempotency-Key');
  const body = sent.postDataJSON();
  assert.equal(body.service_code, 'pothole');
  assert.equal(body.lat, Number(LAT));
  assert.equal(body.long, Number(LONG));
  assert.equal(body.description, DESCRIPTION);
  assert.equal(body.email, EMAIL);
  assert.ok(!('phone' in body) && !('first_name' in body) && !('address_string' in body), 'empty optional fields are omitted');

  const trackingEl = page.locator('#tracking-number');
  await trackingEl.waitFor({ state: 'visible' });
  const trackingNumber = (await trackingEl.innerText()).trim();
  assert.match(trackingNumber, TRACKING_RE);
  shared.trackingNumber = trackingNumber;
  assert.equal(trackingNumber, (await response.json()).service_request_id);
  const successText = await page.locator('#report-success').innerText();
  assert.match(successText, new RegExp(`Your tracking number is\\s+${trackingNumber}`));

  // "Track this report" goes straight to the new report, which the page
  // re-checks until it has been routed (submitted -> open).
  await page.getByRole('link', { name: 'Track this report' }).click();
  await page.locator('#r-id').filter({ hasText: trackingNumber }).waitFor();
  await page.locator('#r-status').filter({ hasText: /^open$/i }).waitFor();

  // Only one report went out for the double click.
  assert.equal(creates.length, 1, 'a double click sends the report once');

  // The server treats a retry with the same key as the same report.
  const replay = await page.evaluate(async ({ key, body }) => {
    const r = await fetch('/api/v1/requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
      body: JSON.stringify(body),
    });
    return { status: r.status, id: (await r.json()).service_request_id };
  }, { key, body });
  assert.equal(replay.status, 200, 'a retry with the same Idempotency-Key answers 200');
  assert.equal(replay.id, trackingNumber, 'a retry with the same Idempotency-Key returns the same report');

  await page.close();
});

test('the resident tracks the report until it is routed, without seeing contact details', { timeout: 60_000 }, async () => {
  const id = shared.trackingNumber;
  assert.ok(id, 'needs the tracking number from the previous test');
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await page.getByRole('link', { name: 'Track a report' }).click();
  await page.getByLabel('Tracking number').fill(id.toLowerCase());

  const apiBodies = [];
  page.on('response', async (r) => {
    if (new URL(r.url()).pathname === `/api/v1/requests/${id}`) apiBodies.push(await r.text().catch(() => ''));
  });
  await page.getByRole('button', { name: 'Find report' }).click();

  await page.waitForFunction(
    () => document.getElementById('r-status')?.textContent.trim().toLowerCase() === 'open',
    null, { timeout: WAIT },
  );
  await page.waitForFunction(() => {
    const dd = document.getElementById('r-agency');
    return dd && !dd.closest('[hidden]') && dd.textContent.trim() && dd.textContent.trim() !== 'Not yet assigned';
  }, null, { timeout: WAIT });

  assert.equal(new URL(page.url()).hash, `#/requests/${id}`, 'the track view has a shareable address');
  assert.equal((await page.locator('#r-id').innerText()).trim(), id);
  assert.equal((await page.locator('#r-service').innerText()).trim(), 'Pothole');
  assert.equal((await page.locator('#r-description').innerText()).trim(), DESCRIPTION);
  const agency = (await page.locator('#r-agency').innerText()).trim();
  assert.match(agency, /\w{3,}/, 'a department name is shown');
  const location = await page.locator('#r-location').innerText();
  assert.match(location, /41\.765/, 'the location is shown');
  const timeline = await page.locator('#r-timeline li').allInnerTexts();
  assert.ok(timeline.length >= 2, `the timeline shows submission and routing, got ${JSON.stringify(timeline)}`);

  // Contact details are private: not on the page, not in what the API sent it.
  const shown = await page.evaluate(() => document.body.innerText);
  assert.ok(!shown.includes(EMAIL), 'the e-mail address is not displayed');
  assert.ok(!(await page.content()).includes(EMAIL), 'the e-mail address is not in the page');
  assert.ok(apiBodies.length > 0, 'the page fetched the report');
  for (const body of apiBodies) assert.ok(!body.includes(EMAIL), 'the public API does not return the e-mail address');

  // A deep link opens the same report in a fresh page.
  const deep = await newPage();
  await deep.goto(`${BASE}/#/requests/${encodeURIComponent(id)}`);
  await deep.locator('#r-id').filter({ hasText: id }).waitFor();
  await deep.locator('#r-status').filter({ hasText: /^open$/i }).waitFor();
  assert.ok(await deep.locator('#track-view').isVisible(), 'the track view is shown for a deep link');
  assert.ok(!(await deep.evaluate(() => document.body.innerText)).includes(EMAIL));

  // Unknown numbers are reported as such.
  await deep.getByLabel('Tracking number').fill('0000-0000');
  await deep.getByRole('button', { name: 'Find report' }).click();
  await deep.getByText('No report with that tracking number').waitFor();
  assert.ok(await deep.locator('#track-result').isHidden(), 'no report is shown for an unknown number');

  await deep.close();
  await page.close();
});

test('an impossible latitude is refused with a message at the latitude field', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await startPotholeReport(page);
  await typePoint(page, '95', LONG);
  await page.getByLabel('Describe the problem').fill(DESCRIPTION);

  const responsePromise = page.waitForResponse(isCreateResponse);
  await page.getByRole('button', { name: 'Send report' }).click();
  const response = await responsePromise;
  assert.ok(response.status() >= 400 && response.status() < 500, `the server refused it (status ${response.status()})`);
  const apiError = (await response.json()).error;

  assert.match(apiError.message, /\blat(itude)?\b/i, `the API's message names lat: "${apiError.message}"`);
  // The API's own message is shown: next to the latitude field when the
  // error names that field, otherwise at the top of the form.
  const where = apiError.field === 'lat'
    ? page.locator('[data-field="lat"] .field-error')
    : page.locator('#report-summary');
  await where.filter({ hasText: apiError.message }).waitFor();
  assert.ok(await where.isVisible(), 'the error message is visible');
  if (apiError.field === 'lat') {
    assert.equal(await page.getByLabel('Latitude').getAttribute('aria-invalid'), 'true');
  }
  assert.ok(await page.locator('#report-summary').isVisible(), 'a summary is shown at the top');
  await page.getByRole('button', { name: 'Send report' }).waitFor({ state: 'visible' });
  assert.ok(await page.getByRole('button', { name: 'Send report' }).isEnabled(), 'the form can be sent again');

  assert.ok(await page.locator('#report-success').isHidden(), 'no success panel');
  assert.equal((await page.locator('#tracking-number').innerText()).trim(), '');
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(!/tracking number is/i.test(text), 'no tracking number is announced');
  assert.ok(!/\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/.test(text.replace(/7K3M-9QZ2/g, '')), 'no tracking number appears');
  await page.close();
});

test('before sending, an open report of the same problem nearby is shown, and only for that service', { timeout: 60_000 }, async () => {
  const first = shared.trackingNumber;
  assert.ok(first, 'needs the Downtown pothole of the first test');
  const page = await newPage();
  const nearbyRequests = [];
  page.on('request', (r) => { if (isNearby(r)) nearbyRequests.push(new URL(r.url())); });

  await startPotholeReport(page);
  const panel = page.locator('#nearby');
  assert.ok(await panel.isHidden(), 'no panel before a place is given');

  const potholeAnswer = page.waitForResponse(nearbyFor('pothole'));
  await typePoint(page, NEAR_LAT, LONG);
  const answered = await potholeAnswer;
  assert.equal(answered.status(), 200);
  await page.getByRole('heading', { name: 'Already reported nearby' }).waitFor({ state: 'visible' });

  // One debounced look-up with the chosen service, the point and a 50 m circle.
  assert.equal(nearbyRequests.length, 1, `one nearby look-up, got ${nearbyRequests.map(String)}`);
  const params = nearbyRequests[0].searchParams;
  assert.equal(params.get('service_code'), 'pothole');
  assert.equal(Number(params.get('lat')), Number(NEAR_LAT));
  assert.equal(Number(params.get('long')), Number(LONG));
  assert.equal(params.get('radius'), '50');

  // The first report is listed, with a way to track it.
  const item = panel.locator(`li[data-request-id="${first}"]`);
  await item.waitFor();
  const text = await item.innerText();
  assert.match(text, /Pothole/);
  assert.match(text, /about (19|20|21) m away/, `the distance is shown in metres: ${text}`);
  assert.ok(text.includes(DESCRIPTION), `the description is shown: ${text}`);
  assert.match(text, /reported \w{3} \d{1,2}, \d{4}/, `the report date is shown: ${text}`);
  const link = panel.getByRole('link', { name: new RegExp(first) });
  assert.equal(await link.getAttribute('href'), `#/requests/${first}`);
  assert.match(await panel.innerText(), /Sending your report anyway is fine/);
  assert.ok(await page.getByRole('button', { name: 'Send report' }).isEnabled(), 'sending stays possible');
  const panelBeforeButton = await page.evaluate(() =>
    Boolean(document.getElementById('nearby').compareDocumentPosition(document.getElementById('submit-report'))
      & Node.DOCUMENT_POSITION_FOLLOWING));
  assert.ok(panelBeforeButton, 'the panel is above the Send button');

  // A different problem at the same place: nothing is reported nearby.
  const streetlightAnswer = page.waitForResponse(nearbyFor('streetlight_out'));
  await chooseService(page, 'streetlight_out');
  const none = await streetlightAnswer;
  assert.deepEqual((await none.json()).requests, [], 'no streetlight is reported there');
  await page.waitForTimeout(300); // let the page handle the answer
  assert.ok(await panel.isHidden(), 'the panel disappears for a different service');
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes('Already reported nearby'));

  // And back to pothole: the panel comes back.
  await chooseService(page, 'pothole');
  await panel.locator(`li[data-request-id="${first}"]`).waitFor({ state: 'visible' });

  // The link opens the earlier report.
  await link.click();
  await page.locator('#r-id').filter({ hasText: first }).waitFor();
  await page.close();
});

test('a report sent anyway is linked to the earlier one, which the track view links to', { timeout: 60_000 }, async () => {
  const first = shared.trackingNumber;
  assert.ok(first, 'needs the Downtown pothole of the first test');
  const page = await newPage();
  await startPotholeReport(page);
  await typePoint(page, NEAR_LAT, LONG);
  await page.locator(`#nearby li[data-request-id="${first}"]`).waitFor({ state: 'visible' });
  const { id } = await sendAndGetTrackingNumber(page);
  assert.notEqual(id, first);

  await page.getByRole('link', { name: 'Track this report' }).click();
  await page.locator('#r-id').filter({ hasText: id }).waitFor();
  await page.locator('#r-status').filter({ hasText: /^closed$/i }).waitFor({ timeout: WAIT });
  assert.match(await page.locator('.status-line').innerText(), /Linked to an earlier report of the same problem/);
  const sameAs = page.locator('#r-duplicate');
  await sameAs.waitFor({ state: 'visible' });
  assert.match(await sameAs.innerText(), new RegExp(`Same problem as ${first}`));
  const link = sameAs.getByRole('link', { name: first });
  assert.equal(await link.getAttribute('href'), `#/requests/${first}`);
  await page.locator('#r-timeline li[data-kind="duplicate"]').waitFor();
  assert.match(await page.locator('#r-timeline li[data-kind="duplicate"]').innerText(), /Linked to an earlier report/);

  await link.click();
  await page.locator('#r-id').filter({ hasText: first }).waitFor();
  await page.locator('#r-status').filter({ hasText: /^open$/i }).waitFor();
  assert.ok(await page.locator('#r-duplicate').isHidden(), 'the earlier report is not a duplicate');
  await page.close();
});

test('a pothole on a state road is referred, and the resident is told whom to call', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await startPotholeReport(page);
  const answer = page.waitForResponse(nearbyFor('pothole'));
  await typePoint(page, STATE_ROAD.lat, STATE_ROAD.long);
  await page.getByLabel('Describe the problem').fill(`Pothole on Albany Avenue (browser test ${RUN}).`);
  assert.deepEqual((await (await answer).json()).requests, [], 'nothing is reported there yet');
  const { id } = await sendAndGetTrackingNumber(page);

  await page.getByRole('link', { name: 'Track this report' }).click();
  await page.locator('#r-id').filter({ hasText: id }).waitFor();
  // The page re-checks the new report until it has been routed.
  await page.locator('#r-status').filter({ hasText: /^closed$/i }).waitFor({ timeout: WAIT });
  assert.match(await page.locator('.status-line').innerText(), /Referred to another agency/);

  const notes = page.locator('#r-notes-wrap');
  await notes.waitFor({ state: 'visible' });
  const notesText = await notes.innerText();
  assert.ok(notesText.includes('Connecticut Department of Transportation'), `the note names the agency: ${notesText}`);
  assert.ok(notesText.includes('(860) 555-0190'), `the note gives its phone number: ${notesText}`);
  assert.ok(await notes.evaluate((n) => n.classList.contains('prominent')), 'the note stands out');
  const shown = await page.evaluate(() => document.body.innerText);
  assert.ok(shown.includes('Connecticut Department of Transportation') && shown.includes('(860) 555-0190'));

  assert.equal(await detail(page, 'r-agency'), 'Connecticut Department of Transportation');
  assert.equal(await detail(page, 'r-neighbourhood'), 'Upper Albany');
  assert.equal(await detail(page, 'r-district'), 'North District');
  const referred = page.locator('#r-timeline li[data-kind="referred"]');
  await referred.waitFor();
  assert.match(await referred.innerText(), /Referred to another agency/);
  await page.close();
});

test('a report given only as a street address is placed by the City', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await startReport(page, 'sidewalk_damage');

  // Without a place the form asks for one, and sends nothing.
  let posted = 0;
  page.on('request', (r) => { if (isCreate(r)) posted++; });
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.locator('[data-field="address_string"] .field-error').filter({ hasText: /Say where the problem is/ }).waitFor();
  assert.equal(posted, 0, 'the form checks for a place before sending');

  await page.getByLabel('Address or landmark').fill('550 Main Street');
  await page.getByLabel('Describe the problem').fill(`Heaved slab (browser test ${RUN}).`);
  const { id, body, created } = await sendAndGetTrackingNumber(page);
  assert.equal(body.address_string, '550 Main Street');
  assert.ok(!('lat' in body) && !('long' in body), 'no point is sent');
  assert.ok(Number.isFinite(created.lat) && Number.isFinite(created.long), 'the server answers with the point it found');

  await page.getByRole('link', { name: 'Track this report' }).click();
  await page.locator('#r-id').filter({ hasText: id }).waitFor();
  await page.locator('#r-status').filter({ hasText: /^open$/i }).waitFor({ timeout: WAIT });
  assert.equal(await detail(page, 'r-neighbourhood'), 'Downtown');
  const location = await detail(page, 'r-location');
  assert.ok(location.includes(created.lat.toFixed(5)) && location.includes(created.long.toFixed(5)),
    `the found point is shown: ${location}`);
  assert.match(location, /550 Main Street/);
  await page.close();
});

test('an address the City does not know is refused at the address field', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await startReport(page, 'sidewalk_damage');
  await page.getByLabel('Address or landmark').fill('1 Nowhere Lane');

  const responsePromise = page.waitForResponse(isCreateResponse);
  await page.getByRole('button', { name: 'Send report' }).click();
  const response = await responsePromise;
  const apiError = (await response.json()).error;
  assert.equal(response.status(), 400);
  assert.equal(apiError.code, 'unknown_address', `the server does not know the address: ${JSON.stringify(apiError)}`);

  const fieldError = page.locator('[data-field="address_string"] .field-error');
  await fieldError.filter({ hasText: /Nowhere Lane/ }).waitFor();
  assert.ok(await fieldError.isVisible(), 'the message is next to the address field');
  const plain = (t) => t.replace(/[`“”"]/g, '').trim();
  assert.equal(plain(await fieldError.innerText()), plain(apiError.message), 'the API message is shown');
  assert.equal(await page.getByLabel('Address or landmark').getAttribute('aria-invalid'), 'true');
  assert.ok(await page.locator('#report-success').isHidden(), 'no success panel');
  assert.equal((await page.locator('#tracking-number').innerText()).trim(), '');
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(!/tracking number is/i.test(text), 'no tracking number is announced');
  assert.ok(!/\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/.test(text.replace(/7K3M-9QZ2/g, '')), 'no tracking number appears');
  await page.close();
});

test('a photo sent with a report is uploaded, checked and shown on the report', { timeout: 60_000 }, async () => {
  const page = await newPage();
  // Chromium does not hand file uploads' bodies to the test: note what the page appends instead.
  await page.addInitScript(() => {
    const append = FormData.prototype.append;
    window.formNames = [];
    FormData.prototype.append = function recordName(name, ...rest) {
      window.formNames.push(name);
      return append.call(this, name, ...rest);
    };
  });
  await startReport(page, 'graffiti');
  await typePoint(page, PHOTO_PLACE.lat, PHOTO_PLACE.long);
  await page.getByLabel('Describe the problem').fill(`Tags on the wall by the bus stop (browser test ${RUN}).`);

  const photo = page.getByLabel('Photo or video');
  assert.equal(await photo.getAttribute('type'), 'file');
  assert.equal(await photo.getAttribute('accept'), 'image/jpeg,image/png,image/webp,video/mp4,video/quicktime');
  assert.equal(await photo.getAttribute('multiple'), '', 'several files can be chosen');
  await photo.setInputFiles({ name: 'graffiti.jpg', mimeType: 'image/jpeg', buffer: JPEG });
  await page.locator('#media-chosen li').filter({ hasText: 'graffiti.jpg' }).waitFor();
  assert.ok(await page.locator('[data-field="media"] .field-error').isHidden(), 'a JPEG is accepted');

  const asks = [];
  const responses = [];
  page.on('request', (r) => { if (isMediaAsk(r)) asks.push(r); });
  page.on('response', (r) => responses.push(r));
  const { id, created } = await sendAndGetTrackingNumber(page);
  assert.equal(typeof created.token, 'string', 'the first answer carries the reporter\'s token');
  assert.ok(created.token.length > 0);

  // The confirmation follows the file, and the report is received either way.
  const item = page.locator('#upload-list li').filter({ hasText: 'graffiti.jpg' });
  await item.filter({ hasText: 'Photo uploaded — it will show on your report once checked' }).waitFor();
  assert.equal(await item.getAttribute('data-state'), 'uploaded');
  await page.locator('#upload-status').filter({ hasText: 'Your file was uploaded' }).waitFor();
  assert.match(await page.locator('#report-success').innerText(), new RegExp(`Your tracking number is\\s+${id}`));

  // One form was asked for, with the token, the type and the size of the file ...
  assert.equal(asks.length, 1, 'one upload form per file');
  assert.equal(new URL(asks[0].url()).pathname, `/api/v1/requests/${id}/media`);
  assert.deepEqual(asks[0].postDataJSON(), { token: created.token, content_type: 'image/jpeg', size: JPEG.length });
  const askResponse = await asks[0].response();
  assert.equal(askResponse.status(), 201);
  const { upload } = await askResponse.json();
  assert.equal(upload.method, 'POST');
  assert.equal(upload.file_field, 'file');

  // ... and the file was posted with it: the form's fields in order, the file last.
  const posted = responses.find((r) => r.request().method() === 'POST' && r.url() === upload.url);
  assert.ok(posted, `the file was posted to ${upload.url}`);
  assert.ok(posted.status() >= 200 && posted.status() < 300, `the upload answered ${posted.status()}`);
  assert.match(posted.request().headers()['content-type'] || '', /^multipart\/form-data; boundary=/);
  assert.deepEqual(await page.evaluate(() => window.formNames), [...Object.keys(upload.fields), 'file'],
    'the form\'s fields in the order given, then the file');

  // The token is proof for this page only: never shown, never stored.
  assert.ok(!(await page.content()).includes(created.token), 'the token is not in the page');
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(created.token), 'the token is not stored');

  // The server checks the photo, then the public view shows it.
  const view = await pollRequest(id, (r) => Boolean(r.media_url) && r.timeline.some((e) => e.kind === 'media'));
  assert.ok(view && view.media_url, `the report shows a media_url: ${JSON.stringify(view)}`);
  const added = view.timeline.find((e) => e.kind === 'media');
  assert.ok(added, `the timeline has a media entry: ${JSON.stringify(view.timeline)}`);
  assert.equal(added.note, 'Photo added');
  assert.ok(!('token' in view), 'the public view has no token');
  assert.match(new URL(view.media_url).pathname, new RegExp(`^/api/v1/media/${id}/[^/]+\\.jpg$`));
  const file = await fetch(view.media_url); // follows the redirect to the stored file
  assert.equal(file.status, 200);
  assert.match(file.headers.get('content-type') || '', /^image\/jpeg/);
  const bytes = Buffer.from(await file.arrayBuffer());
  assert.ok(bytes.length > 0, 'the stored photo has bytes');
  assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], 'the stored file is a JPEG');

  // The track view shows the photo and the timeline entry.
  await page.getByRole('link', { name: 'Track this report' }).click();
  await page.locator('#r-id').filter({ hasText: id }).waitFor();
  const img = page.getByRole('img', { name: 'Photo of the reported problem' });
  await img.waitFor({ state: 'visible' });
  await page.waitForFunction(() => {
    const i = document.querySelector('#r-media img');
    return i && i.complete && i.naturalWidth > 0;
  }, null, { timeout: WAIT });
  assert.equal(await img.evaluate((i) => i.naturalWidth), 2, 'the photo is shown');
  assert.equal(new URL(await img.evaluate((i) => i.src)).pathname, new URL(view.media_url).pathname);
  const entry = page.locator('#r-timeline li[data-kind="media"]');
  await entry.waitFor();
  assert.match(await entry.innerText(), /Photo added/);
  assert.ok(!(await page.content()).includes(created.token), 'the token is not in the track view');
  await page.close();
});

test('a file of a kind the City does not take is refused at the field, and nothing is uploaded', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await startReport(page, 'blocked_storm_drain');
  await typePoint(page, REFUSED_FILE_PLACE.lat, REFUSED_FILE_PLACE.long);
  await page.getByLabel('Describe the problem').fill(`Drain full of leaves (browser test ${RUN}).`);

  let creates = 0;
  let asks = 0;
  let uploads = 0;
  page.on('request', (r) => {
    if (isCreate(r)) creates++;
    if (isMediaAsk(r)) asks++;
    if (new URL(r.url()).pathname.includes('/upload')) uploads++;
  });

  const photo = page.getByLabel('Photo or video');
  const fieldError = page.locator('[data-field="media"] .field-error');
  await photo.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo\n') });
  await fieldError.filter({ hasText: '“notes.txt” is not a photo or video the City can take' }).waitFor();
  assert.match(await fieldError.innerText(), /JPEG, PNG or WebP photos and MP4 or MOV videos/);
  assert.equal(await photo.getAttribute('aria-invalid'), 'true');

  // Sending is stopped with the same message, and nothing leaves the page.
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.locator('#report-summary').filter({ hasText: 'notes.txt' }).waitFor();
  assert.ok(await fieldError.isVisible(), 'the message stays next to the field');
  assert.ok(await page.locator('#report-success').isHidden(), 'no success panel');

  // More than five photos are refused too.
  await photo.setInputFiles(Array.from({ length: 6 }, (_, i) => ({ name: `photo-${i + 1}.jpg`, mimeType: 'image/jpeg', buffer: JPEG })));
  await fieldError.filter({ hasText: /at most 5 photos and videos/ }).waitFor();
  await page.getByRole('button', { name: 'Send report' }).click();
  await page.locator('#report-summary').filter({ hasText: /at most 5/ }).waitFor();
  assert.equal(creates, 0, 'no report was sent');

  // Without the files the report goes, and there is nothing to upload.
  await photo.setInputFiles([]);
  await fieldError.waitFor({ state: 'hidden' });
  assert.equal(await photo.getAttribute('aria-invalid'), null);
  const { id } = await sendAndGetTrackingNumber(page);
  assert.match(id, TRACKING_RE);
  await page.waitForTimeout(300); // any upload would have started by now
  assert.ok(await page.locator('#uploads').isHidden(), 'no upload list');
  assert.equal(asks, 0, 'no upload form was asked for');
  assert.equal(uploads, 0, 'no file was posted');
  await page.close();
});

test('the page raised no script errors and loaded nothing from elsewhere', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreignRequests, []);
});
