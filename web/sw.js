// The resident page's service worker: the page and what it needs are kept so it opens without a
// connection (fresh from the network whenever there is one), and background sync wakes an open
// page to send a report kept offline. Reports themselves never pass through here.

const CACHE = 'cityfix-site-v2';
const SHELL = [
  '/',
  '/style.css',
  '/favicon.svg',
  '/manifest.webmanifest',
  '/vendor/leaflet/leaflet.js',
  '/vendor/leaflet/leaflet.css',
  '/i18n/en.json',
  '/i18n/es.json',
  '/js/main.js',
  '/js/actions.js',
  '/js/answers.js',
  '/js/assets.js',
  '/js/around.js',
  '/js/api.js',
  '/js/city.js',
  '/js/confidential.js',
  '/js/dom.js',
  '/js/draft.js',
  '/js/geometry.js',
  '/js/i18n.js',
  '/js/labels.js',
  '/js/location.js',
  '/js/nearby.js',
  '/js/report.js',
  '/js/services.js',
  '/js/track.js',
  '/js/uploads.js',
];
// Reads the form needs to open offline, kept from the last time they were fetched.
const KEPT_READS = ['/api/v1/city', '/api/v1/services'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  if (KEPT_READS.includes(url.pathname)) return true;
  return !/^\/(api|open311|admin|staff|outbox)(\/|$)/.test(url.pathname);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || !isShell(url)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok) cache.put(url.pathname === '/index.html' ? '/' : request, response.clone());
      return response;
    } catch (err) {
      const kept = await cache.match(url.pathname === '/index.html' ? '/' : request, { ignoreSearch: true });
      if (kept) return kept;
      throw err;
    }
  })());
});

self.addEventListener('sync', (event) => {
  if (event.tag !== 'send-draft') return;
  event.waitUntil(self.clients.matchAll({ type: 'window' }).then((clients) => {
    for (const client of clients) client.postMessage('send-draft');
  }));
});
