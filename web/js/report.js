// Reporting a problem: the form's answers checked and sent with an Idempotency-Key, errors
// listed at the top and at their fields, and the confirmation: the tracking number (large,
// copyable, spelled out), the expected date, a link to share, and what happens next.

import { chosenAsset } from './assets.js';
import { rememberToken } from './actions.js';
import { api, ApiError, newIdempotencyKey } from './api.js';
import { $, el } from './dom.js';
import { formatDate, language, t } from './i18n.js';
import { clearPoint, currentPoint } from './location.js';
import { clearNearby } from './nearby.js';
import { chosenService, chosenServiceCode, clearService, collectAttributes } from './services.js';
import { checkMedia, chosenMedia, clearUploads, renderChosenMedia, uploadMedia, useKeptFiles } from './uploads.js';

export const DESCRIPTION_MAX = 4000;

const reportState = {
  // One key per form fill: double clicks and retries after a network failure reuse it. It is
  // replaced once the server has answered definitively (report created, or refused with a 4xx).
  idempotencyKey: newIdempotencyKey(),
  sending: false,
  // Called with (body, files, key) when the report cannot be sent for want of a connection.
  keepOffline: null,
};

export function onOffline(keep) {
  reportState.keepOffline = keep;
}

/** Builds the POST body from the form; returns { body, errors }. */
export function buildRequestBody() {
  const errors = [];
  const serviceCode = chosenServiceCode();
  const service = chosenService();
  if (!service) errors.push({ field: 'service_code', message: t('error.service') });

  const body = { service_code: serviceCode };
  const point = currentPoint();
  const address = $('address').value.trim();
  const latBad = $('lat').validity.badInput || $('long').validity.badInput;
  const halfPoint = ($('lat').value.trim() === '') !== ($('long').value.trim() === '');
  if (latBad) errors.push({ field: 'lat', message: t('error.coordinates') });
  else if (point) Object.assign(body, { lat: point.lat, long: point.long });
  else if (halfPoint) errors.push({ field: $('lat').value.trim() ? 'long' : 'lat', message: t('error.half_point') });
  else if (!address && !point) {
    // Typed coordinates the map could not take (out of range) still go: the server says why.
    const lat = Number($('lat').value);
    const long = Number($('long').value);
    if ($('lat').value.trim() && Number.isFinite(lat) && Number.isFinite(long)) Object.assign(body, { lat, long });
    else errors.push({ field: 'address_string', message: t('error.place') });
  }

  for (const [key, id] of Object.entries({ address_string: 'address', description: 'description', email: 'email', phone: 'phone', first_name: 'first_name', last_name: 'last_name' })) {
    const value = $(id).value.trim();
    if (value) body[key] = value;
  }
  if (body.description && body.description.length > DESCRIPTION_MAX) {
    errors.push({ field: 'description', message: t('error.description_long', { max: DESCRIPTION_MAX }) });
  }
  if ((body.email || body.phone) && ['en', 'es'].includes(language())) body.language = language();
  if (service) {
    const attrs = collectAttributes(service);
    errors.push(...attrs.errors);
    if (Object.keys(attrs.values).length) body.attributes = attrs.values;
  }
  const asset = chosenAsset();
  if (asset) body.asset_id = asset;
  const mediaProblems = checkMedia(chosenMedia());
  if (mediaProblems.length) errors.push({ field: 'media', message: mediaProblems.join(' ') });
  return { body, errors };
}

/* Field errors ------------------------------------------------------ */

const FIELD_ALIASES = { address: 'address_string', lon: 'long', lng: 'long', longitude: 'long', latitude: 'lat', service: 'service_code' };

/** The .field wrapper for an API field name, or null. */
export function fieldWrapper(field) {
  if (!field) return null;
  const name = FIELD_ALIASES[String(field)] || String(field);
  const form = $('report-form');
  const direct = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (direct) return direct;
  // "attributes.size", "attributes[size]", "attribute.size", "attributes/size" or the bare code.
  const m = name.match(/^attributes?(?:\.|\/|\[)([^\]]+)\]?$/);
  return form.querySelector(`[data-attribute-code="${CSS.escape(m ? m[1] : name)}"]`);
}

function focusTarget(wrapper) {
  return wrapper.querySelector('input:not([hidden]):checked, input, select, textarea');
}

export function setFieldError(wrapper, message) {
  wrapper.classList.add('has-error');
  const details = wrapper.closest('details');
  if (details) details.open = true;
  const error = wrapper.querySelector('.field-error');
  if (error) error.textContent = message;
  for (const control of wrapper.querySelectorAll('input:not([type=radio]), select, textarea')) control.setAttribute('aria-invalid', 'true');
}

export function clearFieldError(fieldOrWrapper) {
  const wrapper = typeof fieldOrWrapper === 'string' ? fieldWrapper(fieldOrWrapper) : fieldOrWrapper;
  if (!wrapper) return;
  wrapper.classList.remove('has-error');
  const error = wrapper.querySelector('.field-error');
  if (error) error.textContent = '';
  for (const control of wrapper.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

function clearAllErrors() {
  for (const wrapper of $('report-form').querySelectorAll('.has-error')) clearFieldError(wrapper);
  const summary = $('report-summary');
  summary.hidden = true;
  summary.replaceChildren();
}

/** Shows errors next to their fields; a summary at the top links to them. */
function showErrors(errors, { heading }) {
  clearAllErrors();
  const summary = $('report-summary');
  const items = [];
  let firstTarget = null;
  for (const { field, message } of errors) {
    const wrapper = fieldWrapper(field);
    if (wrapper) {
      setFieldError(wrapper, message);
      const target = focusTarget(wrapper);
      if (!firstTarget) firstTarget = target;
      const link = el('a', { href: `#${target ? target.id : ''}`, text: message });
      link.addEventListener('click', (event) => {
        event.preventDefault();
        if (target) target.focus();
      });
      items.push(el('li', {}, [link]));
    } else {
      items.push(el('li', { text: message }));
    }
  }
  summary.append(el('p', { className: 'summary-heading', text: heading }), el('ul', {}, items));
  summary.hidden = false;
  if (firstTarget) firstTarget.focus();
  else summary.scrollIntoView({ block: 'nearest' });
}

/* Sending ----------------------------------------------------------- */

function setSending(sending) {
  reportState.sending = sending;
  const button = $('submit-report');
  button.disabled = sending;
  button.setAttribute('aria-busy', String(sending));
  button.textContent = sending ? t('submit.sending') : t('submit.send');
  $('submit-status').textContent = sending ? t('submit.sending_status') : '';
}

async function onSubmitReport(event) {
  event.preventDefault();
  if (reportState.sending) return;
  const { body, errors } = buildRequestBody();
  if (errors.length) {
    showErrors(errors, { heading: t('error.check') });
    return;
  }
  clearAllErrors();
  const files = chosenMedia();
  if (navigator.onLine === false && reportState.keepOffline) {
    await reportState.keepOffline(body, files, reportState.idempotencyKey);
    return;
  }
  setSending(true);
  try {
    await sendReport(body, files, reportState.idempotencyKey);
  } catch (err) {
    if (err.status === 0 && reportState.keepOffline) {
      await reportState.keepOffline(body, files, reportState.idempotencyKey);
      return;
    }
    // A 4xx means nothing was created: the next try is a new submission. On a network failure
    // or a 5xx the outcome is unknown, so the key stays and a retry is the same report.
    if (err.status >= 400 && err.status < 500) reportState.idempotencyKey = newIdempotencyKey();
    let { field, message } = err;
    if (err.code === 'unknown_address') {
      field = 'address_string';
      message = String(message).replace(/`([^`]*)`/g, '“$1”');
    } else if (err.code === 'geocoding_unavailable') {
      field = 'address_string';
      message = t('error.geocoding');
    }
    showErrors([{ field, message }], { heading: t('error.not_sent') });
  } finally {
    setSending(false);
  }
}

/** Sends a report (from the form or a kept draft) and shows the confirmation; throws ApiError. */
export async function sendReport(body, files, key) {
  const { body: created } = await api('/requests', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify(body),
  });
  if (!created || !created.service_request_id) throw new ApiError(500, null, t('error.no_number'));
  // The token proves this page made the report: for the uploads, and held in memory so its
  // reporter can reopen it from its page ("not fixed"). Never shown, never stored.
  const { token, ...request } = created;
  rememberToken(request.service_request_id, token);
  showSuccess(request);
  if (files.length) uploadMedia(request.service_request_id, typeof token === 'string' ? token : '', files);
  return request;
}

function spelled(id) {
  return [...id].map((c) => (c === '-' ? t('success.dash') : c)).join(' ');
}

function showSuccess(request) {
  const id = request.service_request_id;
  clearUploads();
  $('tracking-number').textContent = id;
  $('tracking-spelled').textContent = t('success.spelled', { spelled: spelled(id) });
  $('copy-status').textContent = '';
  $('expected-line').textContent = request.expected_datetime
    ? t('success.expected', { date: formatDate(request.expected_datetime) })
    : t('success.no_expected');
  const link = new URL(`#/requests/${encodeURIComponent(id)}`, location.href).href;
  $('share-link').value = link;
  $('share-button').hidden = typeof navigator.share !== 'function';
  $('track-link').href = `#/requests/${encodeURIComponent(id)}`;
  resetReportForm();
  $('report-form').hidden = true;
  $('draft-notice').hidden = true;
  $('report-success').hidden = false;
  $('success-heading').focus();
}

export function updateCounter() {
  const length = $('description').value.length;
  $('description-count').textContent = t('what.counter', { n: length, max: DESCRIPTION_MAX });
  $('description-count').classList.toggle('near-limit', length > DESCRIPTION_MAX - 200);
}

function resetReportForm() {
  $('report-form').reset();
  clearService();
  clearPoint();
  $('address-suggestions').hidden = true;
  $('service-suggestions').hidden = true;
  renderChosenMedia([]);
  updateCounter();
  clearNearby();
  clearAllErrors();
  reportState.idempotencyKey = newIdempotencyKey();
}

function startNewReport() {
  $('report-success').hidden = true;
  $('tracking-number').textContent = '';
  clearUploads();
  $('report-form').hidden = false;
  resetReportForm();
  $('address').focus();
}

async function copy(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = t('success.copied');
  } catch {
    status.textContent = t('success.copy_failed');
  }
}

export function initReport() {
  $('report-form').addEventListener('submit', onSubmitReport);
  $('report-form').addEventListener('input', (event) => {
    const wrapper = event.target.closest('.field.has-error');
    if (wrapper) clearFieldError(wrapper);
  });
  // Choosing a service (a radio button fires no input event in every browser) clears its error.
  $('report-form').addEventListener('change', (event) => {
    if (event.target.name === 'service_code') clearFieldError('service_code');
  });
  $('description').addEventListener('input', updateCounter);
  $('media').addEventListener('change', () => {
    useKeptFiles(null);
    const files = [...($('media').files || [])];
    renderChosenMedia(files);
    const wrapper = fieldWrapper('media');
    const problems = checkMedia(files);
    if (problems.length) setFieldError(wrapper, problems.join(' '));
    else clearFieldError(wrapper);
  });
  $('report-another').addEventListener('click', startNewReport);
  $('copy-number').addEventListener('click', () => copy($('tracking-number').textContent, $('copy-status')));
  $('share-button').addEventListener('click', async () => {
    try {
      await navigator.share({ title: document.title, url: $('share-link').value });
    } catch {
      /* the resident closed the share sheet */
    }
  });
}
