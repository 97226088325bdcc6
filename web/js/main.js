// The resident page: starts each part, routes #/report, #/track and #/requests/<id>, and
// offers the city's languages.

import { city, loadCity, showCity } from './city.js';
import { $, el } from './dom.js';
import { initDraft, sendKeptDraft } from './draft.js';
import { language, languageName, onLanguageChange, pickLanguage, t, useLanguage } from './i18n.js';
import { currentPoint, describeCurrentPlace, initLocation, initMap, onPlaceChange } from './location.js';
import { renderNearby, scheduleNearby } from './nearby.js';
import { initReport, updateCounter } from './report.js';
import { chosenServiceCode, filterServices, initServices, loadServices, onServiceChange } from './services.js';
import { initTrack, loadRequest, renderLastRequest } from './track.js';

function parseRoute(hash) {
  const h = (hash || '').replace(/^#/, '');
  const m = h.match(/^\/requests\/(.+)$/);
  if (m) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      /* keep it as typed */
    }
    return { view: 'track', id };
  }
  if (h === '/track') return { view: 'track', id: null };
  return { view: 'report', id: null };
}

function showView(view, { focus }) {
  const report = view === 'report';
  $('report-view').hidden = !report;
  $('track-view').hidden = report;
  $('nav-report').toggleAttribute('aria-current', false);
  $('nav-track').toggleAttribute('aria-current', false);
  $(report ? 'nav-report' : 'nav-track').setAttribute('aria-current', 'page');
  document.title = t(report ? 'title.report' : 'title.track');
  if (focus) $(report ? 'report-heading' : 'track-heading').focus();
}

function route({ initial = false } = {}) {
  // In-page anchors such as the skip link (#main) are not routes.
  if (!initial && !location.hash.startsWith('#/') && location.hash !== '') return;
  const r = parseRoute(location.hash);
  showView(r.view, { focus: !initial && !r.id });
  if (r.view === 'track' && r.id) {
    $('tracking-input').value = r.id;
    loadRequest(r.id, { focusResult: !initial });
  }
}

function offerLanguages() {
  const select = $('language-select');
  const offered = city().languages;
  select.replaceChildren(...offered.map((code) => el('option', { value: code, lang: code, text: languageName(code), selected: code === language() })));
  select.parentElement.hidden = offered.length < 2;
  select.addEventListener('change', () => useLanguage(select.value, city(), { remember: true }));
}

function checkNearby() {
  scheduleNearby(chosenServiceCode(), currentPoint());
}

async function start() {
  initServices();
  initLocation();
  initReport();
  initTrack();
  initDraft();
  onServiceChange(checkNearby);
  onPlaceChange(checkNearby);
  onLanguageChange(() => {
    showCity();
    filterServices();
    renderNearby();
    describeCurrentPlace();
    renderLastRequest();
    updateCounter();
    showView(parseRoute(location.hash).view, { focus: false });
  });
  window.addEventListener('hashchange', () => route());

  const loaded = await loadCity();
  await useLanguage(pickLanguage(loaded.languages), loaded);
  // What was written before the messages came (language listeners run on later changes only).
  updateCounter();
  showCity();
  offerLanguages();
  initMap();
  route({ initial: true });
  await loadServices();
  renderLastRequest();
  sendKeptDraft();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => { /* the page works without it */ });
  }
}

start();
