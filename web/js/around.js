// Reports nearby (#/nearby): the public requests around the resident's location or in one of the
// city's neighbourhoods, filtered by type, status and date, from Open311's request list (which
// never holds a confidential report). The list is the way to read them, each linking to its own
// page (#/requests/<id>); the map beside it is for the eyes only and hidden from screen readers.

import { $, el, excerpt, trackHref } from './dom.js';
import { formatDateTime, plural, t } from './i18n.js';
import { city } from './city.js';
import { geometryHolds } from './geometry.js';
import { catalogue } from './services.js';

const EXCERPT = 120;
// Around a point, Open311's list is asked for one page of the nearest; a neighbourhood is asked
// of the whole city in the window and kept to the reports inside its shape.
const PAGE_AROUND = 200;
const PAGE_CITY = 1000;
const DAY_MS = 24 * 3600 * 1000;

const state = { point: null, map: null, markers: null, shown: [], token: 0, mode: 'me' };

function neighbourhoods() {
  const shapes = city().map && city().map.neighbourhoods;
  return shapes && Array.isArray(shapes.features) ? shapes.features.filter((f) => f.properties && f.properties.name) : [];
}

/** Fills the choices the city and catalogue give (again, after a change of language). */
export function renderAroundChoices() {
  const areas = neighbourhoods();
  const area = $('around-area');
  const chosenArea = area.value;
  area.replaceChildren(...areas.map((f) => el('option', { value: f.properties.name, text: f.properties.name, selected: f.properties.name === chosenArea })));
  $('around-where-area').closest('.checkbox').hidden = !areas.length;
  const service = $('around-service');
  const chosen = service.value;
  const groups = new Map();
  for (const s of catalogue.services) {
    const group = s.group || '';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(el('option', { value: s.service_code, text: s.service_name || s.service_code, selected: s.service_code === chosen }));
  }
  service.replaceChildren(
    el('option', { value: '', text: t('around.all_services') }),
    ...[...groups].map(([group, options]) => (group ? el('optgroup', { label: group }, options) : options)).flat(),
  );
  if (state.shown.length) renderList();
}

function mode() {
  return $('around-where-area').checked ? 'area' : 'me';
}

function showMode() {
  const area = mode() === 'area';
  $('around-me-fields').hidden = area;
  $('around-area-fields').hidden = !area;
}

function locate() {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(new Error(t('where.no_gps')));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => resolve({ lat: pos.coords.latitude, long: pos.coords.longitude }),
      (err) => reject(new Error(err && err.code === 1 ? t('where.gps_denied') : t('where.gps_failed'))),
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 120000 },
    );
  });
}

function metres(a, b) {
  const rad = Math.PI / 180;
  const x = (b.long - a.long) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.sqrt(x * x + y * y) * 6371000;
}

async function onShow(event) {
  event.preventDefault();
  const token = ++state.token;
  const status = $('around-status');
  status.className = 'track-status';
  const where = mode();
  const params = new URLSearchParams();
  let area = null;
  if (where === 'me') {
    status.textContent = t('where.finding');
    try {
      state.point = await locate();
    } catch (err) {
      if (token !== state.token) return;
      status.className = 'track-status notice notice-error';
      status.textContent = err.message;
      return;
    }
    if (token !== state.token) return;
    $('around-place').textContent = t('around.from_here', { lat: state.point.lat.toFixed(5), long: state.point.long.toFixed(5) });
    params.set('lat', String(state.point.lat));
    params.set('long', String(state.point.long));
    params.set('radius', $('around-radius').value);
    params.set('page_size', String(PAGE_AROUND));
  } else {
    area = neighbourhoods().find((f) => f.properties.name === $('around-area').value) || null;
    if (!area) return;
    params.set('page_size', String(PAGE_CITY));
  }
  if ($('around-service').value) params.set('service_code', $('around-service').value);
  if ($('around-state').value) params.set('status', $('around-state').value);
  params.set('start_date', new Date(Date.now() - Number($('around-since').value) * DAY_MS).toISOString().replace(/\.\d+Z$/, 'Z'));
  status.textContent = t('around.looking');
  let found;
  try {
    const response = await fetch(`/open311/v2/requests.json?${params}`, { headers: { Accept: 'application/json' } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = Array.isArray(body) && body[0] && body[0].description;
      throw new Error(message || t('error.status', { status: response.status }));
    }
    found = Array.isArray(body) ? body : [];
  } catch (err) {
    if (token !== state.token) return;
    status.className = 'track-status notice notice-error';
    status.textContent = err instanceof TypeError ? t('error.offline') : err.message;
    return;
  }
  if (token !== state.token) return;
  found = found.filter((r) => r && r.service_request_id && Number.isFinite(r.lat) && Number.isFinite(r.long));
  if (area) found = found.filter((r) => geometryHolds(area.geometry, r.lat, r.long));
  if (where === 'me') {
    for (const r of found) r.distance = metres(state.point, r);
  }
  found.sort((a, b) => String(b.requested_datetime).localeCompare(String(a.requested_datetime)));
  state.shown = found;
  state.mode = where;
  renderList();
  drawMap(area);
}

function statusWord(r) {
  return r.status === 'closed' ? t('around.closed') : t('around.open');
}

function renderList() {
  const list = $('around-list');
  list.replaceChildren(...state.shown.map((r) => {
    const id = String(r.service_request_id);
    const description = excerpt(r.description, EXCERPT);
    return el('li', { className: 'around-item', dataset: { requestId: id } }, [
      el('p', {}, [el('a', { href: trackHref(id) }, [el('strong', { text: r.service_name || r.service_code }), ` — ${id}`])]),
      el('p', { className: 'help' }, [
        `${statusWord(r)} · `,
        el('time', { datetime: r.requested_datetime || '', text: formatDateTime(r.requested_datetime) }),
        state.mode === 'me' && Number.isFinite(r.distance) ? ` · ${t('nearby.metres', { m: Math.round(r.distance) })}` : '',
      ]),
      r.address ? el('p', { text: String(r.address) }) : null,
      description ? el('p', { text: `“${description}”` }) : null,
    ]);
  }));
  $('around-status').textContent = state.shown.length ? plural('around.found', state.shown.length) : t('around.none');
}

function initAroundMap() {
  const L = window.L;
  const map = city().map;
  if (state.map || !L || !map || !map.center) return;
  $('around-map-wrap').hidden = false;
  const leaflet = L.map('around-map', { center: [map.center.lat, map.center.long], zoom: 13, keyboard: false, attributionControl: Boolean(map.tile_url) });
  if (map.tile_url) {
    if (leaflet.attributionControl) leaflet.attributionControl.setPrefix(false);
    const attribution = el('span', { text: map.tile_attribution || '' }).innerHTML;
    L.tileLayer(map.tile_url, { attribution, maxZoom: 19, crossOrigin: true }).addTo(leaflet);
  }
  L.geoJSON(map.neighbourhoods, { style: { color: '#5a6b7b', weight: 1, fillOpacity: 0.04, dashArray: '3' }, interactive: false }).addTo(leaflet);
  const boundary = L.geoJSON(map.boundary, { style: { color: '#1d4f91', weight: 3, fill: false }, interactive: false }).addTo(leaflet);
  try {
    leaflet.fitBounds(boundary.getBounds(), { padding: [8, 8] });
  } catch {
    /* no boundary shape: stay on the centre */
  }
  state.markers = L.layerGroup().addTo(leaflet);
  state.map = leaflet;
  unfocusable();
}

/** Nothing in the hidden map may take the keyboard focus. */
function unfocusable() {
  const container = state.map.getContainer();
  container.tabIndex = -1;
  for (const node of container.querySelectorAll('a, button, [tabindex]')) {
    if (node !== container) node.tabIndex = -1;
  }
}

function drawMap(area) {
  const L = window.L;
  if (!state.map || !L) return;
  state.map.invalidateSize();
  state.markers.clearLayers();
  const points = [];
  for (const r of state.shown) {
    const marker = L.circleMarker([r.lat, r.long], { radius: 7, color: '#1d4f91', weight: 2, fillColor: r.status === 'closed' ? '#8a96a3' : '#f0a500', fillOpacity: 0.9, keyboard: false });
    marker.on('click', () => { location.hash = trackHref(String(r.service_request_id)); });
    marker.addTo(state.markers);
    points.push([r.lat, r.long]);
  }
  if (state.mode === 'me' && state.point) {
    L.circle([state.point.lat, state.point.long], { radius: Number($('around-radius').value), color: '#1d4f91', weight: 1, fillOpacity: 0.05, interactive: false }).addTo(state.markers);
    points.push([state.point.lat, state.point.long]);
  }
  try {
    if (area) state.map.fitBounds(L.geoJSON(area).getBounds(), { padding: [8, 8] });
    else if (points.length) state.map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 17 });
  } catch {
    /* nothing to fit */
  }
  unfocusable();
}

/** The view was shown: the map is made (or sized) now that it can be measured. */
export function showAround() {
  initAroundMap();
  if (state.map) state.map.invalidateSize();
}

export function initAround() {
  $('around-form').addEventListener('submit', onShow);
  for (const radio of document.querySelectorAll('input[name="around-where"]')) radio.addEventListener('change', showMode);
  if (!('geolocation' in navigator)) {
    $('around-where-area').checked = true;
    $('around-where-me').closest('.checkbox').hidden = true;
  }
  showMode();
}
