// Where the problem is: an address search, "use my location", a pin tapped or dragged on the map
// (Leaflet; the city's boundary and neighbourhoods drawn from /api/v1/city, over tiles when they
// load), or latitude and longitude typed. The map is hidden from screen readers: the address
// search, the location button and the place said in words do the same.

import { api } from './api.js';
import { $, el } from './dom.js';
import { featureAt } from './geometry.js';
import { t } from './i18n.js';
import { city } from './city.js';

const PIN_ZOOM = 17;
const CITY_ZOOM = 13;

const place = {
  point: null,
  map: null,
  marker: null,
  listeners: [],
  searchToken: 0,
  /** How the point was last said in words (its address, what set it), to say it again. */
  described: { source: 'map' },
};

/** Calls `listener(point or null)` whenever the place changes. */
export function onPlaceChange(listener) {
  place.listeners.push(listener);
}

/** The report form's Leaflet map, or null where it could not be drawn. */
export function placeMap() {
  return place.map;
}

export function currentPoint() {
  return place.point;
}

function escapeText(text) {
  const span = document.createElement('span');
  span.textContent = String(text || '');
  return span.innerHTML;
}

/** The map, once Leaflet and the city's shapes are there; without them the other ways remain. */
export function initMap() {
  const L = window.L;
  const map = city().map;
  if (!L || !map || !map.center) return;
  $('map-wrap').hidden = false;
  const leaflet = L.map('map', {
    center: [map.center.lat, map.center.long],
    zoom: CITY_ZOOM,
    keyboard: false,
    attributionControl: Boolean(map.tile_url),
  });
  if (map.tile_url) {
    if (leaflet.attributionControl) leaflet.attributionControl.setPrefix(false);
    L.tileLayer(map.tile_url, { attribution: escapeText(map.tile_attribution), maxZoom: 19, crossOrigin: true }).addTo(leaflet);
  }
  const neighbourhoods = L.geoJSON(map.neighbourhoods, {
    style: { color: '#5a6b7b', weight: 1, fillOpacity: 0.04, dashArray: '3' },
    interactive: false,
  }).addTo(leaflet);
  const boundary = L.geoJSON(map.boundary, {
    style: { color: '#1d4f91', weight: 3, fill: false },
    interactive: false,
  }).addTo(leaflet);
  try {
    leaflet.fitBounds(boundary.getBounds(), { padding: [8, 8] });
  } catch {
    /* no boundary shape: stay on the centre */
  }
  void neighbourhoods;
  leaflet.on('click', (event) => setPoint(event.latlng.lat, event.latlng.lng, { source: 'map' }));
  // Nothing in the hidden map may take the keyboard focus.
  const container = leaflet.getContainer();
  container.tabIndex = -1;
  for (const link of container.querySelectorAll('a, button')) link.tabIndex = -1;
  place.map = leaflet;
  if (place.point) showPin(place.point);
}

function showPin(point) {
  const L = window.L;
  if (!place.map || !L) return;
  const at = [point.lat, point.long];
  if (!place.marker) {
    place.marker = L.marker(at, { draggable: true, keyboard: false, alt: '' }).addTo(place.map);
    place.marker.on('dragend', () => {
      const moved = place.marker.getLatLng();
      setPoint(moved.lat, moved.lng, { source: 'map' });
    });
    const icon = place.marker.getElement();
    if (icon) icon.tabIndex = -1;
  } else {
    place.marker.setLatLng(at);
  }
}

function round6(value) {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Sets the place and tells everyone listening. `source` says what set it: the map, the
 * location button and the address search fill the coordinate fields; typing in them does not.
 */
export function setPoint(lat, long, { source = 'typed', address = null, accuracy = null } = {}) {
  place.point = { lat: round6(lat), long: round6(long) };
  if (source !== 'typed') {
    $('lat').value = String(place.point.lat);
    $('long').value = String(place.point.long);
  }
  if (place.map && source !== 'map') place.map.setView([lat, long], Math.max(place.map.getZoom(), PIN_ZOOM));
  showPin(place.point);
  describePlace({ source, address, accuracy });
  for (const listener of place.listeners) listener(place.point);
}

/**
 * Says the place again in words, as it was said: after a change of language, and once the city's
 * map has come (a place found before it was said without its neighbourhood or the boundary check).
 */
export function describeCurrentPlace() {
  if (place.point) describePlace(place.described);
}

export function clearPoint() {
  place.point = null;
  if (place.marker) {
    place.marker.remove();
    place.marker = null;
  }
  $('lat').value = '';
  $('long').value = '';
  $('location-status').textContent = '';
  $('outside-city').hidden = true;
  for (const listener of place.listeners) listener(null);
}

/** Says in words where the pin is, and whom to contact when it is outside the city. */
function describePlace({ source, address, accuracy }) {
  place.described = { source, address, accuracy };
  const { lat, long } = place.point;
  const map = city().map;
  const coordinates = `${lat.toFixed(5)}, ${long.toFixed(5)}`;
  const neighbourhood = map ? featureAt(map.neighbourhoods, lat, long) : null;
  const where = address || coordinates;
  let text = neighbourhood
    ? t('where.pin_in', { where, neighbourhood: neighbourhood.properties.name })
    : t('where.pin', { where });
  if (source === 'gps' && accuracy) text = `${text} ${t('where.accuracy', { metres: Math.round(accuracy) })}`;
  $('location-status').textContent = text;

  const outside = $('outside-city');
  const inCity = !map || !map.boundary || !Array.isArray(map.boundary.features) || !map.boundary.features.length
    || Boolean(featureAt(map.boundary, lat, long));
  if (inCity) {
    outside.hidden = true;
    outside.replaceChildren();
    return;
  }
  const contact = city().contact || {};
  outside.replaceChildren(
    el('p', { className: 'summary-heading', text: t('where.outside_heading') }),
    el('p', { text: t('where.outside', { phone: contact.phone || '311', email: contact.email || '' }) }),
  );
  outside.hidden = false;
}

function typedPoint() {
  const latRaw = $('lat').value.trim();
  const longRaw = $('long').value.trim();
  if (latRaw === '' || longRaw === '') return null;
  const lat = Number(latRaw);
  const long = Number(longRaw);
  if (!Number.isFinite(lat) || !Number.isFinite(long) || Math.abs(lat) > 90 || Math.abs(long) > 180) return null;
  return { lat, long };
}

function onCoordinatesTyped() {
  const typed = typedPoint();
  if (typed) setPoint(typed.lat, typed.long, { source: 'typed' });
  else if (place.point) {
    place.point = null;
    $('outside-city').hidden = true;
    $('location-status').textContent = '';
    for (const listener of place.listeners) listener(null);
  }
}

function useMyLocation() {
  const status = $('location-status');
  if (!('geolocation' in navigator)) {
    status.textContent = t('where.no_gps');
    return;
  }
  const button = $('use-location');
  button.disabled = true;
  status.textContent = t('where.finding');
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      button.disabled = false;
      setPoint(pos.coords.latitude, pos.coords.longitude, { source: 'gps', accuracy: pos.coords.accuracy });
    },
    (err) => {
      button.disabled = false;
      status.textContent = err && err.code === 1 ? t('where.gps_denied') : t('where.gps_failed');
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

/** Looks the typed address up; a known one places the pin, an unknown one lists the closest. */
async function findAddress() {
  const typed = $('address').value.trim();
  const list = $('address-suggestions');
  list.hidden = true;
  list.replaceChildren();
  if (!typed) {
    $('location-status').textContent = t('where.type_address');
    $('address').focus();
    return;
  }
  const token = ++place.searchToken;
  $('location-status').textContent = t('where.searching');
  let answer;
  try {
    ({ body: answer } = await api(`/addresses?q=${encodeURIComponent(typed)}`));
  } catch (err) {
    if (token === place.searchToken) $('location-status').textContent = err.message;
    return;
  }
  if (token !== place.searchToken) return;
  if (answer && answer.found) {
    $('address').value = answer.found.address;
    setPoint(answer.found.lat, answer.found.long, { source: 'address', address: answer.found.address });
    return;
  }
  const suggestions = (answer && Array.isArray(answer.suggestions)) ? answer.suggestions : [];
  $('location-status').textContent = suggestions.length ? t('where.did_you_mean') : t('where.unknown_address');
  list.replaceChildren(...suggestions.map((suggestion) => {
    const button = el('button', { type: 'button', className: 'btn btn-link', text: suggestion });
    button.addEventListener('click', () => {
      $('address').value = suggestion;
      findAddress();
    });
    return el('li', {}, [button]);
  }));
  list.hidden = suggestions.length === 0;
}

export function initLocation() {
  $('lat').addEventListener('input', onCoordinatesTyped);
  $('long').addEventListener('input', onCoordinatesTyped);
  $('use-location').addEventListener('click', useMyLocation);
  if (!('geolocation' in navigator)) $('use-location').hidden = true;
  $('address-find').addEventListener('click', findAddress);
  $('address').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      findAddress();
    }
  });
}
