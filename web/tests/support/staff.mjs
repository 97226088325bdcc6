// What the staff application's browser tests share: the demo sign-ins a runner wrote to its data
// folder, and the checks every page must pass. (Not a test file: `node --test tests/` runs only
// the `*.test.mjs` files.)

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** The demo sign-ins the runner wrote to its data folder `data`: role → { username, password }. */
export function demoLogins(data) {
  const lines = readFileSync(join(data, 'demo-staff.txt'), 'utf8').trim().split('\n');
  const accounts = JSON.parse(readFileSync(join(data, 'staff-accounts.json'), 'utf8'));
  const byRole = {};
  for (const line of lines) {
    const [username, password] = line.split(' ');
    const account = accounts.find((a) => a.username === username);
    byRole[account.role] = { username, password };
  }
  return byRole;
}

/** axe-core on the page (no serious or critical violation) and no horizontal scroll at 1280 and 768. */
export async function checkPageIsUsable(page, name) {
  // Evaluated over the DevTools protocol, so the page's Content-Security-Policy stays as it is.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `${name}: axe`);
  for (const width of [1280, 768]) {
    await page.setViewportSize({ width, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}
