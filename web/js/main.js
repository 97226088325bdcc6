// The resident page: starts each part, routes #/report, #/track, #/requests/<id>, #/answers,
// #/answers/<id>, #/nearby, #/confidential and #/confidential/follow, and offers the city's
// languages.

import { initActions } from './actions.js';
import { initAnswers, renderAnswersAgain, showAnswer } from './answers.js';
import { initAround, renderAroundChoices, showAround } from './around.js';
import { city, loadCity, showCity } from './city.js';
import { initConfidential, renderConfidentialAgain, renderConfidentialServices, showConfidential } from './confidential.js';
import { $, el } from './dom.js';
import { initDraft, sendKeptDraft } from './draft.js';
import { language, languageName, onLanguageChange, pickLanguage, t, useLanguage } from './i18n.js';
import { initAssets, renderAssetsAgain } from './assets.js';
import { currentPoint, describeCurrentPlace, initLocation, initMap, onPlaceChange } from './location.js';
import { renderNearby, scheduleNearby } from './nearby.js';
import { initReport, updateCounter } from './report.js';
import { catalogue, chosenServiceCode, filterServices, initServices, loadServices, onServiceChange } from './services.js';
import { initTrack, loadRequest, renderLastRequest } from './track.js';

const VIEWS = ['report', 'track', 'around', 'answers', 'confidential'];

function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // keep it as typed
  }
}

function parseRoute(hash) {
  const h = (hash || '').replace(/^#/, '');
  const request = h.match(/^\/requests\/(.+)$/);
  if (request) return { view: 'track', id: decoded(request[1]) };
  const answer = h.match(/^\/answers\/(.+)$/);
  if (answer) return { view: 'answers', id: decoded(answer[1]) };
  if (h === '/track') return { view: 'track', id: null };
  if (h === '/answers') return { view: 'answers', id: null };
  if (h === '/nearby') return { view: 'around', id: null };
  if (h === '/confidential') return { view: 'confidential', id: null };
  if (h === '/confidential/follow') return { view: 'confidential', id: 'follow' };
  return { view: 'report', id: null };
}

function showView(view, { focus }) {
  for (const name of VIEWS) {
    $(`${name}-view`).hidden = name !== view;
    $(`nav-${name}`).toggleAttribute('aria-current', false);
  }
  $(`nav-${view}`).setAttribute('aria-current', 'page');
  document.title = t(`title.${view}`);
  if (view === 'around') showAround();
  if (focus) $(`${view}-heading`).focus();
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
  if (r.view === 'answers') showAnswer(r.id, { focus: !initial && Boolean(r.id) });
  if (r.view === 'confidential') showConfidential(r.id, { focus: !initial, fresh: true });
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
  initAssets();
  initTrack();
  // A reopening is applied by the status function in a moment: the page is read again then.
  initActions((id) => setTimeout(() => loadRequest(id), 1500));
  initDraft();
  initAnswers();
  initConfidential();
  initAround();
  onServiceChange(checkNearby);
  onPlaceChange(checkNearby);
  onLanguageChange(async () => {
    showCity();
    filterServices();
    renderNearby();
    describeCurrentPlace();
    renderAssetsAgain();
    renderLastRequest();
    updateCounter();
    renderAnswersAgain();
    renderConfidentialServices();
    renderConfidentialAgain();
    renderAroundChoices();
    showView(parseRoute(location.hash).view, { focus: false });
    // The catalogue again, in the new language (the chosen service stays chosen).
    if (catalogue.loaded) {
      await loadServices();
      renderConfidentialServices();
      renderAroundChoices();
      renderLastRequest();
    }
  });
  window.addEventListener('hashchange', () => route());

  const loaded = await loadCity();
  await useLanguage(pickLanguage(loaded.languages), loaded);
  // What was written before the messages came (language listeners run on later changes only).
  updateCounter();
  showCity();
  offerLanguages();
  initMap();
  describeCurrentPlace();
  renderAroundChoices();
  route({ initial: true });
  await loadServices();
  renderConfidentialServices();
  renderAroundChoices();
  renderLastRequest();
  sendKeptDraft();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(() => { /* the page works without it */ });
  }
}

start();
