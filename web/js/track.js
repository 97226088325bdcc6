// A request's public page by tracking number or link: status, department, expected date,
// place, details, photos and timeline, and what the resident may do about it (actions.js);
// re-checked while it is being routed or a photo checked.

import { api, API } from './api.js';
import { $, el, humanize, linkifiedText, trackHref } from './dom.js';
import { formatDate, formatDateTime, t } from './i18n.js';
import { resolutionLabel, statusLabel, timelineLabel } from './labels.js';
import { catalogue, sortedAttributes } from './services.js';
import { renderActions } from './actions.js';
import { mediaExpected } from './uploads.js';

const POLL_INTERVAL_MS = 1000;
const POLL_MAX = 8;

// The area layers a report can be placed in (areas: layer id -> area name), by their rows.
const AREA_ROWS = {
  neighbourhoods: 'r-neighbourhood',
  neighborhoods: 'r-neighbourhood',
  districts: 'r-district',
};

const trackState = { last: null, token: 0, timer: null };

export function normalizeTrackingNumber(value) {
  let id = String(value || '').trim().toUpperCase().replace(/\s+/g, '');
  if (/^[0-9A-Z]{8}$/.test(id)) id = `${id.slice(0, 4)}-${id.slice(4)}`;
  return id;
}

function onTrackSubmit(event) {
  event.preventDefault();
  const id = normalizeTrackingNumber($('tracking-input').value);
  const error = $('err-tracking');
  if (!id) {
    error.textContent = t('track.enter_number');
    $('tracking-input').setAttribute('aria-invalid', 'true');
    $('tracking-input').focus();
    return;
  }
  error.textContent = '';
  $('tracking-input').removeAttribute('aria-invalid');
  $('tracking-input').value = id;
  const hash = trackHref(id);
  if (location.hash === hash) loadRequest(id, { focusResult: true });
  else location.hash = hash; // hashchange -> route() -> loadRequest()
}

export async function loadRequest(id, { focusResult = false } = {}) {
  const token = ++trackState.token;
  clearTimeout(trackState.timer);
  const status = $('track-status');
  status.className = 'track-status';
  status.textContent = t('track.looking', { id });
  $('track-result').hidden = true;
  await fetchAndShow(id, token, 0, focusResult);
}

function mediaCount(r) {
  return Array.isArray(r && r.timeline) ? r.timeline.filter((e) => e && e.kind === 'media').length : 0;
}

async function fetchAndShow(id, token, polls, focusResult) {
  const status = $('track-status');
  let request;
  try {
    ({ body: request } = await api(`/requests/${encodeURIComponent(id)}`));
  } catch (err) {
    if (token !== trackState.token) return;
    if (polls > 0) return; // keep showing what we have if a re-check fails
    $('track-result').hidden = true;
    status.className = 'track-status notice notice-error';
    status.textContent = err.status === 404 ? t('track.not_found') : err.message;
    return;
  }
  if (token !== trackState.token) return;
  const previous = polls > 0 && trackState.last ? trackState.last.status : null;
  const previousMedia = polls > 0 && trackState.last ? mediaCount(trackState.last) : null;
  const media = mediaCount(request);
  trackState.last = request;
  renderRequest(request);
  status.className = 'track-status';
  if (previous && previous !== request.status) {
    status.textContent = t('track.status_now', { status: statusLabel(request.status) });
  } else if (previousMedia !== null && media > previousMedia) {
    status.textContent = t('track.media_added');
  } else if (polls === 0) {
    status.textContent = t('track.found', { id: request.service_request_id, status: statusLabel(request.status) });
  }
  if (focusResult && polls === 0) {
    $('request-title').setAttribute('tabindex', '-1');
    $('request-title').focus();
  }
  const waitingForMedia = mediaExpected(request.service_request_id) > media;
  if ((request.status === 'submitted' || waitingForMedia) && polls < POLL_MAX) {
    trackState.timer = setTimeout(() => fetchAndShow(id, token, polls + 1, false), POLL_INTERVAL_MS);
  }
}

/** Shows the last request again (after a change of language, or once the catalogue arrives). */
export function renderLastRequest() {
  if (trackState.last && !$('track-result').hidden) renderRequest(trackState.last);
}

function setDd(id, value, fallback) {
  const dd = $(id);
  const has = value !== null && value !== undefined && value !== '';
  dd.textContent = has ? String(value) : (fallback || '');
  dd.parentElement.hidden = !has && !fallback;
  dd.classList.toggle('muted', !has);
}

function timeNode(value) {
  return el('time', { datetime: value || '', text: formatDateTime(value) });
}

function renderRequest(r) {
  // The catalogue's name in the page's language, where services.toml translates it.
  const known = catalogue.byCode.get(r.service_code);
  $('r-service').textContent = (known && known.service_name) || r.service_name || r.service_code || t('track.report');
  $('r-id').textContent = r.service_request_id;
  const badge = $('r-status');
  badge.textContent = statusLabel(r.status);
  badge.dataset.status = r.status || '';
  $('r-resolution').textContent = r.resolution ? `— ${resolutionLabel(r.resolution)}` : '';
  renderDuplicateOf(r);
  renderStatusNotes(r);

  setDd('r-agency', r.agency_responsible, t('track.unassigned'));
  setDd('r-expected', r.expected_datetime ? formatDate(r.expected_datetime) : '');
  const hasPoint = Number.isFinite(r.lat) && Number.isFinite(r.long);
  const point = hasPoint ? `${r.lat.toFixed(5)}, ${r.long.toFixed(5)}` : '';
  const where = r.address ? (point ? `${r.address} (${point})` : r.address) : point;
  setDd('r-location', where);
  renderAreas(r);
  const requested = $('r-requested');
  requested.replaceChildren(timeNode(r.requested_datetime));
  requested.parentElement.hidden = !r.requested_datetime;
  const updated = $('r-updated');
  updated.replaceChildren(timeNode(r.updated_datetime));
  updated.parentElement.hidden = !r.updated_datetime;
  setDd('r-description', r.description, t('track.no_description'));

  renderRequestAttributes(r);
  renderMedia(r);
  renderTimeline(Array.isArray(r.timeline) ? r.timeline : []);
  renderActions(r);
  $('track-result').hidden = false;
}

function renderDuplicateOf(r) {
  const p = $('r-duplicate');
  const id = r.duplicate_of ? String(r.duplicate_of) : '';
  if (!id) {
    p.hidden = true;
    p.replaceChildren();
    return;
  }
  p.replaceChildren(`${t('track.same_as')} `, el('a', { href: trackHref(id), text: id }), `. ${t('track.follow_that')}`);
  p.hidden = false;
}

function renderStatusNotes(r) {
  const wrap = $('r-notes-wrap');
  const notes = typeof r.status_notes === 'string' ? r.status_notes.trim() : '';
  if (!notes) {
    wrap.hidden = true;
    $('r-status-notes').replaceChildren();
    return;
  }
  const closed = r.status === 'closed' || r.status === 'archived';
  wrap.classList.toggle('prominent', closed || r.resolution === 'referred');
  $('r-notes-heading').textContent = r.resolution === 'referred'
    ? t('track.who_handles')
    : closed ? t('track.why_closed') : t('track.latest');
  $('r-status-notes').replaceChildren(...linkifiedText(notes));
  wrap.hidden = false;
}

function renderAreas(r) {
  const areas = r.areas && typeof r.areas === 'object' && !Array.isArray(r.areas) ? r.areas : {};
  const shown = new Map();
  const extra = [];
  for (const [layer, name] of Object.entries(areas)) {
    if (name === null || name === undefined || name === '') continue;
    const row = AREA_ROWS[layer];
    if (row) {
      if (!shown.has(row)) shown.set(row, String(name));
    } else {
      extra.push([layer, String(name)]);
    }
  }
  if (!shown.has('r-neighbourhood') && r.neighbourhood) shown.set('r-neighbourhood', String(r.neighbourhood));
  setDd('r-neighbourhood', shown.get('r-neighbourhood'));
  setDd('r-district', shown.get('r-district'));

  const districtRow = $('r-district').parentElement;
  for (const old of districtRow.parentElement.querySelectorAll('[data-area-layer]')) old.remove();
  let after = districtRow;
  for (const [layer, name] of extra) {
    const row = el('div', { dataset: { areaLayer: layer } }, [el('dt', { text: humanize(layer).replace(/s$/, '') }), el('dd', { text: name })]);
    after.after(row);
    after = row;
  }
}

function renderRequestAttributes(r) {
  const list = $('r-attributes');
  list.replaceChildren();
  const attrs = r.attributes && typeof r.attributes === 'object' ? r.attributes : {};
  const defs = new Map(sortedAttributes(catalogue.byCode.get(r.service_code)).map((a) => [String(a.code), a]));
  const order = (code) => (defs.get(code) && Number(defs.get(code).order)) || 0;
  for (const code of Object.keys(attrs).sort((a, b) => order(a) - order(b))) {
    const def = defs.get(code);
    const names = new Map((def && Array.isArray(def.values) ? def.values : []).map((v) => [String(v.key), v.name]));
    const show = (v) => names.get(String(v)) || String(v);
    let value = attrs[code];
    if (value === null || value === undefined || value === '') continue;
    if (Array.isArray(value)) value = value.map(show).join(', ');
    else if (def && def.datatype === 'datetime') value = formatDateTime(value);
    else value = show(value);
    list.append(el('div', {}, [
      el('dt', { text: (def && def.description) || humanize(code) }),
      el('dd', { className: 'multiline', text: value }),
    ]));
  }
  $('r-attributes-wrap').hidden = list.children.length === 0;
}

/** The City's own media links are read through this page's API; any other is only a link. */
function mediaLink(value) {
  if (typeof value !== 'string' || !value.trim()) return null;
  let url;
  try {
    url = new URL(value.trim(), location.href);
  } catch {
    return null;
  }
  if (!['http:', 'https:'].includes(url.protocol)) return null;
  const ours = url.pathname.startsWith(`${API}/media/`);
  return { href: ours ? `${url.pathname}${url.search}` : url.href, ours, video: /\.(mp4|mov)$/i.test(url.pathname) };
}

function renderMedia(r) {
  const wrap = $('r-media-wrap');
  const box = $('r-media');
  const link = mediaLink(r.media_url);
  if (!link) {
    wrap.hidden = true;
    box.replaceChildren();
    box.dataset.url = '';
    return;
  }
  wrap.hidden = false;
  if (box.dataset.url === link.href && box.dataset.language === document.documentElement.lang) return;
  box.dataset.url = link.href;
  box.dataset.language = document.documentElement.lang;
  if (!link.ours) {
    box.replaceChildren(el('p', {}, [el('a', { href: link.href, rel: 'noopener noreferrer', text: t('track.media_elsewhere') }), ` ${t('track.other_site')}`]));
    return;
  }
  if (link.video) {
    box.replaceChildren(el('p', {}, [el('a', { href: link.href, text: t('track.watch_video') })]));
    return;
  }
  const img = el('img', { src: link.href, alt: t('track.photo_alt'), className: 'request-photo', decoding: 'async' });
  img.addEventListener('error', () => {
    if (box.dataset.url !== link.href) return;
    box.replaceChildren(el('p', {}, [`${t('track.photo_unavailable')} `, el('a', { href: link.href, text: t('track.open_photo') })]));
  });
  box.replaceChildren(img, el('p', { className: 'photo-open' }, [el('a', { href: link.href, text: t('track.open_full') })]));
}

function renderTimeline(events) {
  const items = events.map((e) => {
    let title = timelineLabel(e.kind);
    if (e.kind === 'status_changed' && e.status) title = t('timeline.status_to', { status: statusLabel(e.status) });
    const note = e.note && e.note.trim().toLowerCase() !== title.toLowerCase() ? e.note : null;
    const photos = (Array.isArray(e.media) ? e.media : [])
      .filter((link) => typeof link === 'string' && link.startsWith(`${API}/media/`))
      .map((link, i) => el('img', { className: 'timeline-photo', src: link, alt: t('track.update_photo', { n: i + 1 }), loading: 'lazy', width: 240 }));
    return el('li', { dataset: { kind: e.kind || '' } }, [
      el('p', { className: 'timeline-when' }, [timeNode(e.at)]),
      el('p', { className: 'timeline-title', text: title }),
      note ? el('p', { className: 'timeline-note multiline' }, linkifiedText(note)) : null,
      photos.length ? el('p', { className: 'timeline-photos' }, photos) : null,
    ]);
  });
  if (!items.length) items.push(el('li', { className: 'muted', text: t('track.no_updates') }));
  $('r-timeline').replaceChildren(...items);
}

export function initTrack() {
  $('track-form').addEventListener('submit', onTrackSubmit);
}
