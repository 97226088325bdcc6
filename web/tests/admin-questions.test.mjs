// Real-browser test of the staff application's residents' questions (information requests)
// against a running cityfix server:
//
//   CITYFIX_URL=http://127.0.0.1:3000 CITYFIX_DATA=<its data folder> node --test tests/
//
// A resident asks a question no answer meets; a call-taker finds it among the unanswered ones
// (without the resident's address), answers it by e-mail, and it leaves the list; an admin then
// gets it as an answers.toml entry. Every page passes axe-core with no serious or critical
// violation and has no horizontal scroll at 1280 and 768 px.

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

before(async () => {
  assert.ok(BASE, 'set CITYFIX_URL');
  assert.ok(DATA, 'set CITYFIX_DATA to the server data folder');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});

test('a call-taker answers a resident\'s question by e-mail and an admin saves it as an answer', { timeout: 90_000 }, async () => {
  const question = `Can I hold a block party on my street? (${RUN})`;
  const asked = await fetch(`${BASE}/api/v1/questions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ question, email: `party-${RUN}@example.org`, language: 'en' }),
  });
  assert.equal(asked.status, 201);

  const page = await newPage();
  await signIn(page, demoLogins().agent, '/admin/information-requests');
  await page.waitForURL(/\/admin\/information-requests$/);
  await checkPage(page, 'information requests');
  const row = page.locator('tr', { hasText: question });
  await row.waitFor();
  assert.ok(!(await page.content()).includes(`party-${RUN}@example.org`), 'no address for a call-taker');
  await row.getByRole('link').first().click();
  await page.getByRole('heading', { name: /^Question / }).waitFor();
  await checkPage(page, 'information request');
  await page.getByLabel('Your answer').fill('Yes: ask for a block party permit at the town clerk\'s office, two weeks ahead.');
  await page.getByRole('button', { name: 'Send the answer' }).click();
  await page.getByRole('heading', { name: /^Answered by / }).waitFor();
  await checkPage(page, 'information request answered');
  await page.getByRole('link', { name: 'All unanswered questions' }).click();
  await page.waitForURL(/\/admin\/information-requests$/);
  assert.equal(await page.locator('tr', { hasText: question }).count(), 0, 'answered questions leave the list');
  await page.context().close();

  const admin = await newPage();
  await signIn(admin, demoLogins().admin, '/admin/queue');
  await admin.waitForURL(/\/admin\/queue/);
  const id = (await asked.json()).tracking_number;
  await admin.goto(`${BASE}/admin/information-requests/${id}`);
  await admin.getByRole('button', { name: 'Save as an answer' }).click();
  const entry = admin.getByLabel('The entry for answers.toml');
  await entry.waitFor();
  const toml = await entry.inputValue();
  assert.match(toml, /^\[\[answer\]\]/);
  assert.ok(toml.includes('block party permit'), toml);
  await checkPage(admin, 'answers entry');
  await admin.context().close();
});
