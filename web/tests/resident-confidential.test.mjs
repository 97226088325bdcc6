// Real-browser tests of confidential reports (misconduct) at a phone's 360 px: the form reached
// from the header, refused without what happened, sent anonymously in English and with an e-mail
// in Spanish, the key shown once and then reading the report on the follow page; and then every
// public output (the request's page and its read, Open311's read, lists and updates, nearby, the
// public form's services) checked for it. Only the ethics officer sees it in the staff
// application; the administrator gets 404. axe-core on every screen.
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_DATA=<its data folder> node --test tests/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BASE = (process.env.CITYFIX_URL || '').replace(/\/+$/, '');
const DATA = process.env.CITYFIX_DATA || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10_000;
const WIDTH = 360;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let browser;
const pageErrors = [];
// Filed by the tests: { id, mark } each, checked against the public outputs at the end.
const filed = [];

async function newPage(locale = 'en-US', width = WIDTH) {
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width, height: 780 }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

/** axe-core finds nothing serious or critical, and nothing scrolls sideways. */
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
  const text = await answer.text();
  return { status: answer.status, text };
}

/** Files one through the page; returns its key. */
async function fileOne(page, { mark, email, labels }) {
  await page.goto(`${BASE}/`);
  await page.locator('#nav-confidential').click();
  await page.locator('#confidential-heading').waitFor();
  assert.equal(await page.locator('#nav-confidential').getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('#confidential-heading').textContent(), labels.heading);
  await checkScreen(page, `confidential form (${labels.lang})`);

  // Nothing said: refused at the field, before anything is sent.
  await page.locator('#confidential-send').click();
  await page.locator('#confidential-summary').waitFor();
  assert.equal(await page.locator('#confidential-description').getAttribute('aria-invalid'), 'true');
  assert.ok(await page.evaluate(() => document.activeElement.id === 'confidential-description'));
  await checkScreen(page, `confidential form refused (${labels.lang})`);

  await page.locator('#confidential-description').fill(mark);
  await page.locator('#confidential-where').fill('Permits counter, City Hall, last Tuesday');
  if (email) await page.locator('#confidential-email').fill(email);
  const sent = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/requests');
  await page.locator('#confidential-send').click();
  const answer = await sent;
  assert.equal(answer.status(), 201);
  const body = JSON.parse(answer.request().postData());
  assert.equal(body.lat, undefined, 'no place is sent');
  assert.equal(body.description, mark);
  await page.locator('#confidential-done').waitFor();
  assert.ok(await page.evaluate(() => document.activeElement.id === 'confidential-done-heading'));
  const key = (await page.locator('#confidential-key').textContent()).trim();
  assert.match(key, UUID_RE);
  assert.equal(await page.locator('#confidential-done-contact').textContent(), email ? labels.contact : labels.anonymous);
  await checkScreen(page, `confidential sent (${labels.lang})`);
  return key;
}

/** Reads it on the follow page by its key alone; returns its tracking number. */
async function followByKey(page, key, { mark, labels }) {
  await page.locator('#confidential-done a[href="#/confidential/follow"]').click();
  await page.locator('#confidential-follow-heading').waitFor();
  // A wrong key finds nothing.
  await page.locator('#confidential-key-input').fill('00000000-0000-4000-8000-000000000000');
  await page.locator('#confidential-key-find').click();
  await page.locator('#confidential-follow-status.notice-error').waitFor();
  assert.equal(await page.locator('#confidential-follow-status').textContent(), labels.unknown);
  await page.locator('#confidential-key-input').fill(key);
  await page.locator('#confidential-key-find').click();
  await page.locator('#confidential-result').waitFor();
  assert.equal(await page.locator('#c-description').textContent(), mark);
  assert.ok((await page.locator('#c-timeline li').count()) >= 1);
  await checkScreen(page, `confidential followed (${labels.lang})`);
  const own = await api('/api/v1/requests/by-token', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: key }),
  });
  assert.equal(own.status, 200, own.text);
  return JSON.parse(own.text).service_request_id;
}

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL to the base URL of a running cityfix server');
  assert.ok(DATA, 'set CITYFIX_DATA to the server data folder');
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

test('an anonymous misconduct report in English: sent with no place and followed by its key alone', { timeout: 60_000 }, async () => {
  const page = await newPage('en-US');
  const mark = `The inspector asked for cash to pass the permit ${RUN}-en`;
  const labels = {
    lang: 'en', heading: 'Report misconduct',
    anonymous: 'You gave no contact, so the ethics office cannot write to you: check back with your key.',
    contact: '', unknown: 'No report has this key. Check it against the one you were given.',
  };
  const key = await fileOne(page, { mark, labels });
  const id = await followByKey(page, key, { mark, labels });
  filed.push({ id, mark });
  // The public form never offers the confidential service.
  await page.goto(`${BASE}/#/report`);
  await page.locator('#service-list input[name="service_code"]').first().waitFor({ state: 'attached' });
  assert.equal(await page.locator('#service-list input[value="ethics_concern"]').count(), 0);
  await page.context().close();
});

test('a misconduct report in Spanish with an e-mail, followed by its key', { timeout: 60_000 }, async () => {
  const page = await newPage('es-ES');
  const mark = `El inspector pidió dinero para aprobar el permiso ${RUN}-es`;
  const labels = {
    lang: 'es', heading: 'Denunciar una conducta indebida',
    anonymous: '',
    contact: 'La oficina de ética puede escribirle al contacto que dio. Sus mensajes enlazan con la página donde la clave muestra su denuncia.',
    unknown: 'Ninguna denuncia tiene esta clave. Compárela con la que recibió.',
  };
  const key = await fileOne(page, { mark, email: `denuncia-${RUN}@example.org`, labels });
  const id = await followByKey(page, key, { mark, labels });
  filed.push({ id, mark });
  await page.context().close();
});

test('neither report is in any public output', { timeout: 60_000 }, async () => {
  assert.equal(filed.length, 2, 'both reports were filed');
  const city = JSON.parse((await api('/api/v1/city')).text);
  const [lat, long] = Array.isArray(city.map.center) ? city.map.center : [city.map.center.lat, city.map.center.long];
  const near = `lat=${lat}&long=${long}&radius=1000`;
  const lists = [
    '/open311/v2/requests.json', '/open311/v2/requests.xml', '/open311/v2/requests.json?status=open',
    `/open311/v2/requests.json?${near}`, `/open311/v2/requests.json?service_request_id=${filed.map((f) => f.id).join(',')}`,
    '/open311/v2/requests.json?extensions=true', '/open311/v2/servicerequestupdates.json',
    `/api/v1/requests/nearby?${near}`,
  ];
  for (const path of lists) {
    const { text } = await api(path);
    for (const { id, mark } of filed) {
      assert.ok(!text.includes(id) && !text.includes(mark), `${path} shows ${id}`);
    }
  }
  const page = await newPage('en-US');
  for (const { id } of filed) {
    for (const path of [`/api/v1/requests/${id}`, `/open311/v2/requests/${id}.json`, `/open311/v2/requests/${id}.xml`]) {
      assert.equal((await api(path)).status, 404, path);
    }
    // Its public page says there is no such report, as for a number never given.
    await page.goto(`${BASE}/#/requests/${id}`);
    await page.locator('#track-status.notice-error').waitFor();
    assert.equal(await page.locator('#track-status').textContent(), 'No report with that tracking number.');
    assert.ok(await page.locator('#track-result').isHidden());
  }
  await checkScreen(page, 'a confidential number on the public page');
  await page.context().close();
});

/** The demo sign-ins the runner wrote to its data folder: role → { username, password }. */
function demoLogins() {
  const lines = readFileSync(join(DATA, 'demo-staff.txt'), 'utf8').trim().split('\n');
  const accounts = JSON.parse(readFileSync(join(DATA, 'staff-accounts.json'), 'utf8'));
  const byRole = {};
  for (const line of lines) {
    const [username, password] = line.split(' ');
    const account = accounts.find((a) => a.username === username);
    byRole[account.role] = { username, password };
  }
  return byRole;
}

async function signIn(page, login) {
  await page.goto(`${BASE}/admin`);
  await page.waitForURL(/\/admin\/sign-in/);
  await page.getByLabel('User name').fill(login.username);
  await page.getByLabel('Password').fill(login.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => !url.pathname.includes('sign-in'));
}

test('only the ethics officer sees them in the staff application', { timeout: 60_000 }, async () => {
  assert.equal(filed.length, 2, 'both reports were filed');
  const logins = demoLogins();
  const ethics = await newPage('en-US', 1280);
  await signIn(ethics, logins.ethics);
  for (const { id, mark } of filed) {
    const answer = await ethics.goto(`${BASE}/admin/requests/${id}`);
    assert.equal(answer.status(), 200, `ethics reads ${id}`);
    assert.ok(await ethics.getByText(mark).count() > 0);
  }
  await ethics.context().close();
  for (const role of ['admin', 'supervisor']) {
    const page = await newPage('en-US', 1280);
    await signIn(page, logins[role]);
    for (const { id, mark } of filed) {
      const answer = await page.goto(`${BASE}/admin/requests/${id}`);
      assert.equal(answer.status(), 404, `${role} gets 404 for ${id}`);
      assert.equal(await page.getByText(mark).count(), 0);
    }
    await page.context().close();
  }
});
