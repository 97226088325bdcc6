// Real-browser tests of questions and answers at a phone's 360 px, in English and Spanish: an
// answer found despite a typo and read whole, words that describe a problem leading to the
// report form with the service chosen, "my question is not answered" refused without an e-mail
// and then sent as an information request with its own number, the page switched to Spanish on
// an answer, and axe-core on every screen.
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
const TRACKING_RE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

let browser;
const pageErrors = [];

async function newPage(locale = 'en-US') {
  const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: WIDTH, height: 780 }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

/** axe-core finds nothing serious or critical, and nothing scrolls sideways at 360 px. */
async function checkScreen(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `${name}: axe`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at ${WIDTH}px`);
}

async function search(page, words) {
  await page.locator('#answers-input').fill(words);
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/answers');
  await page.locator('#answers-find').click();
  await answered;
  // the page has shown what came back ("Searching…" is gone)
  await page.waitForFunction(() => !document.getElementById('answers-status').textContent.endsWith('…'));
}

const isQuestion = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/questions';

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
  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});

test('a resident finds the answer to a question with a typo and reads where to go and what it costs', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/#/answers`);
  await page.locator('#answers-list li').first().waitFor();
  assert.equal(await page.locator('#nav-answers').getAttribute('aria-current'), 'page');
  assert.ok((await page.locator('#answers-list li').count()) >= 15, 'every answer is listed before a search');
  await checkScreen(page, 'answers, all');

  await search(page, 'birht certficate');
  const first = page.locator('#answers-list .answer-link').first();
  assert.equal(await first.innerText(), 'How do I get a birth certificate?');
  await first.click();
  await page.locator('#answer').waitFor({ state: 'visible' });
  assert.match(page.url(), /#\/answers\/birth-certificate$/);
  assert.equal(await page.locator('#answer-question').innerText(), 'How do I get a birth certificate?');
  const details = await page.locator('#answer-details').innerText();
  assert.match(details, /What to bring/);
  assert.match(details, /What it costs\s+\$20/);
  assert.equal(await page.locator('#answer-links a').first().innerText(), 'Vital Records');
  await checkScreen(page, 'an answer');

  // the page switches to Spanish in place, on the same answer
  await page.locator('#language-select').selectOption('es');
  await page.locator('#answer-question').filter({ hasText: '¿Cómo obtengo un acta de nacimiento?' }).waitFor();
  assert.match(await page.locator('#answer-details').innerText(), /Cuánto cuesta/);
  await checkScreen(page, 'an answer, switched to Spanish');
  await page.locator('#language-select').selectOption('en');
  await page.locator('#answer-question').filter({ hasText: 'How do I get a birth certificate?' }).waitFor();

  await page.getByRole('link', { name: 'All questions' }).click();
  await page.locator('#answers-found').waitFor({ state: 'visible' });
  assert.ok(await page.locator('#answer').isHidden());
});

test('words that describe a problem offer the report form with the service chosen', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/#/answers`);
  await page.locator('#answers-list li').first().waitFor();
  await search(page, 'there is a huge pothole on my street');
  await page.locator('#answers-report').waitFor({ state: 'visible' });
  await checkScreen(page, 'answers offering a report');
  await page.getByRole('button', { name: 'Report: Pothole' }).click();
  await page.locator('#report-view').waitFor({ state: 'visible' });
  assert.ok(await page.locator('#service-list input[value="pothole"]').isChecked());

  // a question offers no report
  await page.goto(`${BASE}/#/answers`);
  await search(page, 'birth certificate');
  assert.ok(await page.locator('#answers-report').isHidden());
});

test('a question no answer meets is refused without an e-mail, then sent with its own number', { timeout: 60_000 }, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/#/answers`);
  await page.locator('#answers-list li').first().waitFor();
  const asked = `Where do I get a fishing licence for the river? (browser test ${RUN})`;
  await search(page, asked);
  assert.equal(await page.locator('#ask-question').inputValue(), asked, 'the search is the question to send');

  await page.locator('#ask-send').click();
  await page.locator('#ask-summary').waitFor({ state: 'visible' });
  assert.match(await page.locator('#ask-summary').innerText(), /Give the e-mail address the answer should go to/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'ask-email');
  assert.equal(await page.locator('#ask-email').getAttribute('aria-invalid'), 'true');
  await checkScreen(page, 'a question refused');

  const email = `asker.${RUN}@example.org`;
  await page.locator('#ask-email').fill(email);
  const [response] = await Promise.all([page.waitForResponse(isQuestion), page.locator('#ask-send').click()]);
  assert.equal(response.status(), 201);
  assert.ok(!(await response.text()).includes(email), 'the e-mail is not said back');
  await page.locator('#ask-done').waitFor({ state: 'visible' });
  assert.match(await page.locator('#ask-number').innerText(), TRACKING_RE);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'ask-done-heading');
  await checkScreen(page, 'a question sent');
});

test('en español: la respuesta, el reporte y la pregunta sin respuesta', { timeout: 60_000 }, async () => {
  const page = await newPage('es-MX');
  await page.goto(`${BASE}/#/answers`);
  await page.locator('#answers-list li').first().waitFor();
  assert.equal(await page.locator('#nav-answers').innerText(), 'Preguntas');
  assert.match(await page.title(), /^Preguntas y respuestas — /);
  await checkScreen(page, 'respuestas, todas');

  await search(page, 'partida de nacimiento');
  await page.locator('#answers-list .answer-link').first().click();
  await page.locator('#answer-question').filter({ hasText: '¿Cómo obtengo un acta de nacimiento?' }).waitFor();
  assert.match(await page.locator('#answer-details').innerText(), /Qué llevar/);
  assert.equal(await page.locator('#answer-links a').first().innerText(), 'Registros Vitales');
  await checkScreen(page, 'una respuesta');

  await page.goto(`${BASE}/#/answers`);
  await search(page, 'hay un bache enorme en mi calle');
  await page.getByRole('button', { name: 'Reportar: Bache' }).waitFor();
  await checkScreen(page, 'respuestas que ofrecen un reporte');

  await page.locator('#ask-question').fill(`¿Dónde saco una licencia de pesca? (prueba ${RUN})`);
  await page.locator('#ask-email').fill('sin-arroba');
  await page.locator('#ask-send').click();
  await page.locator('#ask-summary').filter({ hasText: 'Escriba un correo electrónico como nombre@ejemplo.org.' }).waitFor();
  await checkScreen(page, 'una pregunta rechazada');
  await page.locator('#ask-email').fill(`vecina.${RUN}@example.org`);
  const [response] = await Promise.all([page.waitForResponse(isQuestion), page.locator('#ask-send').click()]);
  assert.equal(response.status(), 201);
  assert.equal(JSON.parse(response.request().postData()).language, 'es');
  await page.locator('#ask-done').filter({ hasText: 'Su pregunta fue enviada' }).waitFor();
  await checkScreen(page, 'una pregunta enviada');
});
