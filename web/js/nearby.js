// Before sending: open reports of the same service near the chosen place, each with "this is
// it: follow it instead" (POST /api/v1/requests/{id}/followers).

import { api } from './api.js';
import { $, el, excerpt, trackHref } from './dom.js';
import { formatDateTime, language, plural, t } from './i18n.js';
import { statusLabel } from './labels.js';
import { serviceName } from './services.js';

const NEARBY_DELAY_MS = 400;
const NEARBY_RADIUS_M = 50;
const NEARBY_EXCERPT = 140;

const nearbyState = { timer: null, token: 0, key: '', shown: [] };

export function clearNearby() {
  clearTimeout(nearbyState.timer);
  nearbyState.token++;
  nearbyState.key = '';
  nearbyState.shown = [];
  $('nearby').hidden = true;
  $('nearby-list').replaceChildren();
  $('nearby-status').textContent = '';
}

/** Checks for nearby reports ~400 ms after the service or place last changed. */
export function scheduleNearby(serviceCode, point) {
  const key = serviceCode && point ? `${serviceCode}|${point.lat}|${point.long}` : '';
  if (key === nearbyState.key) return; // nothing changed: keep what is shown or on its way
  clearNearby();
  if (!key) return;
  nearbyState.key = key;
  const token = nearbyState.token;
  nearbyState.timer = setTimeout(() => checkNearby(serviceCode, point, token), NEARBY_DELAY_MS);
}

async function checkNearby(serviceCode, { lat, long }, token) {
  const params = new URLSearchParams({ lat: String(lat), long: String(long), service_code: serviceCode, radius: String(NEARBY_RADIUS_M) });
  let requests;
  try {
    const { body } = await api(`/requests/nearby?${params}`);
    requests = Array.isArray(body && body.requests) ? body.requests : [];
  } catch {
    requests = []; // a convenience only: errors are not shown
  }
  if (token !== nearbyState.token) return; // the form changed meanwhile
  nearbyState.shown = requests.filter((r) => r && r.service_request_id);
  renderNearby();
}

function distanceText(metres) {
  const m = Number(metres);
  if (!Number.isFinite(m)) return '';
  if (m < 1) return t('nearby.under_a_metre');
  return t('nearby.metres', { m: Math.round(m) });
}

/** Shows the reports found (again, after a change of language). */
export function renderNearby() {
  const requests = nearbyState.shown;
  const panel = $('nearby');
  const list = $('nearby-list');
  if (!requests.length) {
    panel.hidden = true;
    list.replaceChildren();
    $('nearby-status').textContent = '';
    return;
  }
  list.replaceChildren(...requests.map(nearbyItem));
  panel.hidden = false;
  $('nearby-status').textContent = plural('nearby.status', requests.length);
}

function nearbyItem(r) {
  const id = String(r.service_request_id);
  const name = r.service_name || serviceName(r.service_code) || t('track.report');
  const distance = distanceText(r.distance_m);
  const description = excerpt(r.description, NEARBY_EXCERPT);
  const follow = el('button', { type: 'button', className: 'btn btn-secondary follow-instead', text: t('nearby.follow'), 'aria-describedby': `nearby-title-${id}` });
  const item = el('li', { className: 'nearby-item', dataset: { requestId: id } }, [
    el('p', { className: 'nearby-title', id: `nearby-title-${id}` }, [
      el('strong', { text: name }),
      distance ? el('span', { className: 'nearby-distance', text: ` — ${distance}` }) : null,
    ]),
    r.address ? el('p', { className: 'nearby-address', text: String(r.address) }) : null,
    description ? el('p', { className: 'nearby-description', text: `“${description}”` }) : null,
    el('p', { className: 'nearby-meta' }, [
      r.requested_datetime ? el('span', {}, [`${t('nearby.reported')} `, el('time', { datetime: r.requested_datetime, text: formatDateTime(r.requested_datetime) }), ' · ']) : null,
      r.status ? el('span', { text: `${statusLabel(r.status)} · ` }) : null,
      el('a', { href: trackHref(id) }, [`${t('nearby.track')} `, el('span', { className: 'nowrap', text: id })]),
    ]),
    follow,
  ]);
  follow.addEventListener('click', () => openFollowForm(item, id, follow));
  return item;
}

/** Asks for the address news should go to (the contact given below, if any), then follows. */
function openFollowForm(item, id, button) {
  button.hidden = true;
  const inputId = `follow-${id}`;
  const errorId = `follow-error-${id}`;
  const input = el('input', { id: inputId, type: 'text', autocomplete: 'email', maxlength: 254, 'aria-describedby': errorId, value: $('email').value.trim() || $('phone').value.trim() });
  const send = el('button', { type: 'button', className: 'btn btn-primary', text: t('nearby.follow_send') });
  const error = el('p', { id: errorId, className: 'field-error' });
  const status = el('p', { className: 'help', role: 'status' });
  const form = el('div', { className: 'follow-form field' }, [
    el('label', { for: inputId, text: t('nearby.follow_address') }),
    el('div', { className: 'inline' }, [input, send]),
    error,
    status,
  ]);
  item.append(form);
  input.focus();
  send.addEventListener('click', async () => {
    const address = input.value.trim();
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    if (!address) {
      error.textContent = t('nearby.follow_missing');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    const body = { [address.includes('@') ? 'email' : 'phone']: address };
    if (['en', 'es'].includes(language())) body.language = language();
    send.disabled = true;
    try {
      await api(`/requests/${encodeURIComponent(id)}/followers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      form.replaceChildren(el('p', { className: 'notice notice-success', role: 'status', text: t('nearby.following', { id }) }));
    } catch (err) {
      send.disabled = false;
      error.textContent = err.message;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  });
}
