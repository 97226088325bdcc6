// What a resident does on a request's page, each shown only when it applies: "me too" and
// following while it is being worked, and "not fixed: reopen it" with a comment while it is closed
// as fixed and inside the window the server gives (`reopen_until`), by its reporter only: the
// token of a report sent from this page is held in memory for it (never stored; a reload forgets
// it, and the link in the City's "Has it been fixed?" message reopens it then).

import { api, newIdempotencyKey } from './api.js';
import { $ } from './dom.js';
import { formatDate, language, plural, t } from './i18n.js';

const DEVICE = 'cityfix.device';
const OPEN = ['submitted', 'open', 'in_progress'];

// Tracking number -> token of the reports sent from this page, in memory only.
const tokens = new Map();
const state = { request: null, reopened: new Set(), onChanged: null };

function stored(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value === null ? fallback : value;
  } catch {
    return fallback;
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: the page works without it */
  }
}

/** Holds the token of a report this page sent, for reopening it (in memory, never stored). */
export function rememberToken(id, token) {
  if (id && typeof token === 'string' && token) tokens.set(id, token);
}

function tokenOf(id) {
  return tokens.get(id) || '';
}

/** This browser's own random id, so "me too" counts it once without asking who it is. */
function deviceId() {
  let id = stored(DEVICE, '');
  if (typeof id !== 'string' || !id) {
    id = newIdempotencyKey();
    store(DEVICE, id);
  }
  return id;
}

/** Shows the actions that apply to `r` (again, after a change of language or a reload). */
export function renderActions(r) {
  const sameRequest = state.request && r && state.request.service_request_id === r.service_request_id;
  if (!sameRequest) {
    for (const id of ['metoo-status', 'follow-status', 'reopen-status', 'err-follow-address', 'err-reopen-comment']) $(id).textContent = '';
    $('metoo-button').disabled = false;
    $('follow-button').disabled = false;
    $('reopen-button').disabled = false;
    $('follow-address').value = '';
    $('reopen-comment').value = '';
  }
  state.request = r;
  const open = OPEN.includes(r.status);
  $('metoo-block').hidden = !open;
  $('follow-block').hidden = !open;
  const supporters = Number(r.supporters) || 0;
  $('r-supporters').textContent = supporters > 0 ? plural('actions.supporters', supporters) : '';
  $('r-supporters').hidden = supporters === 0;

  const until = r.reopen_until ? new Date(r.reopen_until) : null;
  const reopenable = Boolean(until) && until.getTime() > Date.now() && !state.reopened.has(r.service_request_id);
  const token = tokenOf(r.service_request_id);
  $('reopen-block').hidden = !reopenable;
  $('reopen-form-wrap').hidden = !reopenable || !token;
  $('reopen-window').textContent = reopenable
    ? t(token ? 'actions.reopen_yours' : 'actions.reopen_others', { date: formatDate(r.reopen_until) })
    : '';
  $('r-actions').hidden = !open && !reopenable;
}

async function post(path, body) {
  return api(`/requests/${encodeURIComponent(state.request.service_request_id)}/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': newIdempotencyKey() },
    body: JSON.stringify(body),
  });
}

async function onMeToo() {
  const button = $('metoo-button');
  button.disabled = true;
  try {
    await post('supporters', { device_id: deviceId() });
    $('metoo-status').textContent = t('actions.metoo_done');
  } catch (err) {
    button.disabled = false;
    $('metoo-status').textContent = err.message;
  }
}

async function onFollow() {
  const input = $('follow-address');
  const error = $('err-follow-address');
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
  $('follow-button').disabled = true;
  try {
    await post('followers', body);
    $('follow-status').textContent = t('actions.following');
  } catch (err) {
    $('follow-button').disabled = false;
    error.textContent = err.message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

async function onReopen() {
  const input = $('reopen-comment');
  const error = $('err-reopen-comment');
  const comment = input.value.trim();
  error.textContent = '';
  input.removeAttribute('aria-invalid');
  if (!comment) {
    error.textContent = t('actions.reopen_missing');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const id = state.request.service_request_id;
  $('reopen-button').disabled = true;
  try {
    await post('reopen', { token: tokenOf(id), comment });
    state.reopened.add(id);
    $('reopen-form-wrap').hidden = true;
    $('reopen-window').textContent = '';
    $('reopen-status').textContent = t('actions.reopened');
    if (state.onChanged) state.onChanged(id);
  } catch (err) {
    $('reopen-button').disabled = false;
    error.textContent = err.message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/** `onChanged(id)` is called once a change was accepted, to read the request again. */
export function initActions(onChanged) {
  state.onChanged = onChanged;
  $('metoo-button').addEventListener('click', onMeToo);
  $('follow-button').addEventListener('click', onFollow);
  $('reopen-button').addEventListener('click', onReopen);
}
