// Confidential reports (misconduct, ethics): their own form, anonymous allowed and no place needed;
// the report key shown once after sending; and the reporter's own report read by that key alone
// (POST /api/v1/requests/by-token), since a confidential report has no public page.

import { api, ApiError, newIdempotencyKey } from './api.js';
import { $, el, linkifiedText } from './dom.js';
import { formatDateTime, language, t } from './i18n.js';
import { statusLabel, timelineLabel } from './labels.js';
import { catalogue } from './services.js';

const FIELDS = {
  service_code: 'confidential-service-field',
  description: 'confidential-description',
  address_string: 'confidential-where',
  email: 'confidential-email',
  phone: 'confidential-phone',
};

const state = { key: newIdempotencyKey(), sending: false, last: null, lookup: 0 };

/** The confidential services once the catalogue is in: a choice when there are several. */
export function renderConfidentialServices() {
  const services = catalogue.confidential;
  $('nav-confidential').parentElement.hidden = catalogue.loaded && !services.length;
  $('confidential-unavailable').hidden = !catalogue.loaded || services.length > 0;
  $('confidential-form').hidden = catalogue.loaded && !services.length;
  const chosen = chosenCode();
  $('confidential-services').replaceChildren(...services.map((s) => {
    const id = `confidential-service-${String(s.service_code).replace(/[^A-Za-z0-9_-]/g, '_')}`;
    return el('div', { className: 'service-option' }, [
      el('input', { type: 'radio', name: 'confidential_service', id, value: s.service_code, checked: s.service_code === chosen || services.length === 1 }),
      el('label', { for: id, text: s.service_name || s.service_code }),
      el('p', { className: 'help', text: s.description || '' }),
    ]);
  }));
  $('confidential-service-field').hidden = services.length < 2;
}

function chosenCode() {
  const checked = document.querySelector('#confidential-services input:checked');
  return checked ? checked.value : '';
}

/** Shows the form (`#/confidential`) or the follow page (`#/confidential/follow`); `fresh` (a
 * route taken, not a language changed) leaves a confirmation shown before for a new form. */
export function showConfidential(part, { focus, fresh }) {
  const follow = part === 'follow';
  if (follow || fresh) $('confidential-done').hidden = true;
  const done = !$('confidential-done').hidden;
  $('confidential-follow').hidden = !follow;
  $('confidential-compose').hidden = follow || done;
  if (focus && follow) $('confidential-follow-heading').focus();
}

function wrapperOf(field) {
  const id = FIELDS[field];
  const node = id ? $(id) : null;
  return node ? node.closest('.field') : null;
}

function clearErrors() {
  for (const wrapper of $('confidential-form').querySelectorAll('.has-error')) {
    wrapper.classList.remove('has-error');
    const error = wrapper.querySelector('.field-error');
    if (error) error.textContent = '';
    for (const control of wrapper.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  }
  $('confidential-summary').hidden = true;
  $('confidential-summary').replaceChildren();
}

function showErrors(errors, heading) {
  clearErrors();
  const items = [];
  let first = null;
  for (const { field, message } of errors) {
    const wrapper = wrapperOf(field);
    if (!wrapper) {
      items.push(el('li', { text: message }));
      continue;
    }
    wrapper.classList.add('has-error');
    const error = wrapper.querySelector('.field-error');
    if (error) error.textContent = message;
    const control = wrapper.querySelector('textarea, input');
    if (control && control.type !== 'radio') control.setAttribute('aria-invalid', 'true');
    if (!first) first = control;
    const link = el('a', { href: `#${control ? control.id : ''}`, text: message });
    link.addEventListener('click', (event) => {
      event.preventDefault();
      if (control) control.focus();
    });
    items.push(el('li', {}, [link]));
  }
  $('confidential-summary').append(el('p', { className: 'summary-heading', text: heading }), el('ul', {}, items));
  $('confidential-summary').hidden = false;
  if (first) first.focus();
}

function formBody() {
  const errors = [];
  const code = chosenCode();
  if (!code) errors.push({ field: 'service_code', message: t('error.service') });
  const body = { service_code: code };
  for (const [field, id] of Object.entries(FIELDS)) {
    if (field === 'service_code') continue;
    const value = $(id).value.trim();
    if (value) body[field] = value;
  }
  if (!body.description) errors.push({ field: 'description', message: t('confidential.error_what') });
  if ((body.email || body.phone) && ['en', 'es'].includes(language())) body.language = language();
  return { body, errors };
}

function setSending(sending) {
  state.sending = sending;
  const button = $('confidential-send');
  button.disabled = sending;
  button.setAttribute('aria-busy', String(sending));
  $('confidential-status').textContent = sending ? t('submit.sending_status') : '';
}

async function onSend(event) {
  event.preventDefault();
  if (state.sending) return;
  const { body, errors } = formBody();
  if (errors.length) {
    showErrors(errors, t('error.check'));
    return;
  }
  clearErrors();
  setSending(true);
  try {
    const { body: created } = await api('/requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': state.key },
      body: JSON.stringify(body),
    });
    if (!created || typeof created.token !== 'string') throw new ApiError(500, null, t('error.no_number'));
    showDone(created.token, Boolean(body.email || body.phone));
  } catch (err) {
    if (err.status >= 400 && err.status < 500) state.key = newIdempotencyKey();
    showErrors([{ field: err.field, message: err.message }], t('error.not_sent'));
  } finally {
    setSending(false);
  }
}

function showDone(key, reachable) {
  $('confidential-form').reset();
  state.key = newIdempotencyKey();
  renderConfidentialServices();
  $('confidential-key').textContent = key;
  $('confidential-copy-status').textContent = '';
  $('confidential-done-contact').textContent = reachable ? t('confidential.done_contact') : t('confidential.done_anonymous');
  $('confidential-compose').hidden = true;
  $('confidential-done').hidden = false;
  $('confidential-done-heading').focus();
}

async function onFollow(event) {
  event.preventDefault();
  const input = $('confidential-key-input');
  const key = input.value.trim();
  const error = $('err-confidential-key');
  if (!key) {
    error.textContent = t('confidential.key_missing');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  error.textContent = '';
  input.removeAttribute('aria-invalid');
  const lookup = ++state.lookup;
  const status = $('confidential-follow-status');
  status.className = 'track-status';
  status.textContent = t('confidential.looking');
  $('confidential-result').hidden = true;
  try {
    const { body } = await api('/requests/by-token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: key }),
    });
    if (lookup !== state.lookup) return;
    state.last = body;
    renderReport(body);
    status.textContent = t('confidential.found', { status: statusLabel(body.status) });
    $('confidential-result-title').focus();
  } catch (err) {
    if (lookup !== state.lookup) return;
    status.className = 'track-status notice notice-error';
    status.textContent = err.status === 404 ? t('confidential.key_unknown') : err.message;
  }
}

function timeNode(value) {
  return el('time', { datetime: value || '', text: formatDateTime(value) });
}

function renderReport(r) {
  $('confidential-result-title').textContent = t('confidential.result_title', { service: r.service_name || r.service_code });
  const badge = $('c-status');
  badge.textContent = statusLabel(r.status);
  badge.dataset.status = r.status || '';
  $('c-requested').replaceChildren(timeNode(r.requested_datetime));
  $('c-updated').replaceChildren(timeNode(r.updated_datetime));
  $('c-description').textContent = r.description || '';
  const items = (Array.isArray(r.timeline) ? r.timeline : []).map((e) => {
    let title = timelineLabel(e.kind);
    if (e.kind === 'status_changed' && e.status) title = t('timeline.status_to', { status: statusLabel(e.status) });
    return el('li', {}, [
      el('p', { className: 'timeline-when' }, [timeNode(e.at)]),
      el('p', { className: 'timeline-title', text: title }),
      e.note ? el('p', { className: 'timeline-note multiline' }, linkifiedText(e.note)) : null,
    ]);
  });
  if (!items.length) items.push(el('li', { className: 'muted', text: t('track.no_updates') }));
  $('c-timeline').replaceChildren(...items);
  $('confidential-result').hidden = false;
}

/** Writes the last report read again, in the page's new language. */
export function renderConfidentialAgain() {
  if (state.last && !$('confidential-result').hidden) renderReport(state.last);
}

export function initConfidential() {
  $('confidential-form').addEventListener('submit', onSend);
  $('confidential-follow-form').addEventListener('submit', onFollow);
  $('confidential-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('confidential-key').textContent);
      $('confidential-copy-status').textContent = t('success.copied');
    } catch {
      $('confidential-copy-status').textContent = t('success.copy_failed');
    }
  });
  $('confidential-form').addEventListener('input', (event) => {
    const wrapper = event.target.closest('.field.has-error');
    if (!wrapper) return;
    wrapper.classList.remove('has-error');
    const error = wrapper.querySelector('.field-error');
    if (error) error.textContent = '';
    event.target.removeAttribute('aria-invalid');
  });
}
