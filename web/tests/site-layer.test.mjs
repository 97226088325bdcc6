// The site layer `sam build` makes for the site function on AWS (web/Makefile, build-SiteLayer):
// it holds every file the page and its service worker ask for, at the paths they ask for, and
// nothing of the tests, the npm tree or the build.
//
//   node --test tests/site-layer.test.mjs      (needs make, and npm for Leaflet)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
let artifacts;
let site;

before(() => {
  artifacts = mkdtempSync(join(tmpdir(), 'cityfix-site-layer-'));
  execFileSync('make', ['-s', '-C', WEB, 'build-SiteLayer', `ARTIFACTS_DIR=${artifacts}`], { stdio: 'pipe' });
  site = join(artifacts, 'site');
});

after(() => rmSync(artifacts, { recursive: true, force: true }));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [relative(site, path)];
  });
}

// The layer path a site URL path is served from (the site function serves `/` as index.html).
function inLayer(urlPath) {
  return join(site, urlPath === '/' ? 'index.html' : urlPath.replace(/^\//, ''));
}

test('every file the service worker keeps for offline use is in the layer', () => {
  const worker = readFileSync(join(site, 'sw.js'), 'utf8');
  const shell = worker.match(/const SHELL = \[([\s\S]*?)\];/);
  assert.ok(shell, 'sw.js lists its SHELL');
  const paths = [...shell[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
  assert.ok(paths.length > 10, `SHELL lists ${paths.length} files`);
  for (const path of paths) assert.ok(existsSync(inLayer(path)), `${path} is in the layer`);
});

test('every file the page and the modules load is in the layer', () => {
  const page = readFileSync(join(site, 'index.html'), 'utf8');
  const named = [...page.matchAll(/(?:src|href)="([^"#:]+)"/g)].map((m) => posix.join('/', m[1]));
  assert.ok(named.some((p) => p === '/js/main.js'), 'the page loads js/main.js');
  for (const path of named) assert.ok(existsSync(inLayer(path)), `${path} (from index.html) is in the layer`);
  for (const module of files(join(site, 'js')).filter((f) => f.endsWith('.js'))) {
    const text = readFileSync(join(site, module), 'utf8');
    for (const [, spec] of text.matchAll(/(?:import|from)\s*\(?\s*'([^']+)'/g)) {
      const path = spec.startsWith('/') ? spec : posix.join('/', posix.dirname(module), spec);
      assert.ok(existsSync(inLayer(path)), `${spec} (imported by ${module}) is in the layer`);
    }
  }
});

test('nothing of the tests, the npm tree or the build is in the layer', () => {
  const all = files(site);
  for (const file of all) {
    assert.ok(!/^(tests|node_modules)\//.test(file), `${file} is not the site's`);
    assert.ok(!['package.json', 'package-lock.json', 'Makefile'].includes(file), `${file} is not the site's`);
    assert.ok(!file.split('/').some((part) => part.startsWith('.')), `${file} is hidden`);
    assert.ok(!file.startsWith('vendor/') || file.startsWith('vendor/leaflet/'), `${file}: only Leaflet is vendored`);
  }
  assert.ok(all.includes('vendor/leaflet/leaflet.js'), 'Leaflet is in the layer');
});
