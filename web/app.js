// cityfix resident web client: report a problem and track a report.
// Plain ES module, no build step and no dependencies. All data from the API
// is put into the page with textContent / DOM nodes, never as HTML.

const API = '/api/v1';
const DESCRIPTION_MAX = 4000;
const POLL_INTERVAL_MS = 1000;
const POLL_MAX = 8;
const TIME_ZONE = 'America/New_York';
const NEARBY_DELAY_MS = 400;
const NEARBY_RADIUS_M = 50;
const NEARBY_EXCERPT = 140;
const MB = 1024 * 1024;
const MEDIA_MAX_FILES = 5;

// The photos and videos the City takes, as the server checks them.
const MEDIA_KINDS = {
  'image/jpeg': { video: false, maxBytes: 15 * MB },
  'image/png': { video: false, maxBytes: 15 * MB },
  'image/webp': { video: false, maxBytes: 15 * MB },
  'video/mp4': { video: true, maxBytes: 100 * MB },
  'video/quicktime': { video: true, maxBytes: 100 * MB },
};
// For files the browser gives no type (or a generic one): the type by file name.
const MEDIA_EXTENSIONS = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};
const MEDIA_ACCEPTED_TEXT = 'The City takes JPEG, PNG or WebP photos and MP4 or MOV videos.';

const STATUS_LABELS = {
  submitted: 'Submitted',
  open: 'Open',
  in_progress: 'In progress',
  closed: 'Closed',
  archived: 'Archived',
};

// How a closed report was resolved, in the resident's words.
const RESOLUTION_LABELS = {
  fixed: 'Fixed',
  duplicate: 'Linked to an earlier report of the same problem',
  referred: 'Referred to another agency',
  no_action: 'Closed without action',
  cancelled: 'Cancelled',
};

const TIMELINE_LABELS = {
  submitted: 'Report received',
  routed: 'Sent to a department',
  referred: 'Referred to another agency',
  duplicate: 'Linked to an earlier report of the same problem',
  status_changed: 'Status changed',
  note: 'Update',
  media: 'Photo or video added',
};

// Labels for the area layers a report can be placed in (areas: layer id -> area name).
const AREA_ROWS = {
  neighbourhoods: 'r-neighbourhood',
  neighborhoods: 'r-neighbourhood',
  districts: 'r-district',
};

const $ = (id) => document.getElementById(id);

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of [].concat(children)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // Fallback for old browsers / non-secure contexts: random v4-style UUID.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An error carrying the API's error object (or a network failure). */
class ApiError extends Error {
  constructor(status, body, fallback) {
    const err = body && typeof body === 'object' && body.error ? body.error : null;
    super((err && err.message) || fallback || `The server answered with status ${status}.`);
    this.status = status;
    this.code = err && err.code ? err.code : null;
    this.field = err && err.field ? err.field : null;
  }
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(API + path, {
      ...options,
      headers: { Accept: 'application/json', ...(options.headers || {}) },
    });
  } catch {
    throw new ApiError(0, null, 'Could not reach the 311 service. Check your connection and try again.');
  }
  let body = null;
  const text = await response.text();
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return { status: response.status, body };
}

function formatDateTime(value) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  try {
    return new Intl.DateTimeFormat('en-US', {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
      timeZone: TIME_ZONE,
      timeZoneName: 'short',
    }).format(date);
  } catch {
    return date.toLocaleString();
  }
}

function timeNode(value) {
  return el('time', { datetime: value || '', text: formatDateTime(value) });
}

function statusLabel(status) {
  return STATUS_LABELS[status] || String(status || 'Unknown').replace(/_/g, ' ');
}

function humanize(value) {
  const s = String(value).replace(/[_-]/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function resolutionLabel(resolution) {
  return RESOLUTION_LABELS[resolution] || humanize(resolution);
}

/** Shortens text to about `max` characters, at a word boundary when one is near. */
function excerpt(text, max) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s.,;:!?-]+$/, '')}…`;
}

/**
 * Text with its web addresses as links, as DOM nodes (never HTML). Only
 * http(s) addresses become links; trailing punctuation stays text.
 */
function linkifiedText(text) {
  const nodes = [];
  const s = String(text || '');
  const re = /https?:\/\/[^\s<>"]+/g;
  let last = 0;
  let m;
  while ((m = re.exec(s))) {
    let url = m[0];
    const trail = url.match(/[.,;:!?)\]'’]+$/);
    if (trail) url = url.slice(0, -trail[0].length);
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) continue;
    if (m.index > last) nodes.push(document.createTextNode(s.slice(last, m.index)));
    nodes.push(el('a', { href: url, rel: 'noopener noreferrer', text: url }));
    last = m.index + url.length;
  }
  if (last < s.length) nodes.push(document.createTextNode(s.slice(last)));
  return nodes;
}

function trackHref(id) {
  return `#/requests/${encodeURIComponent(id)}`;
}

/* ------------------------------------------------------------------ */
/* Routing: #/report, #/track, #/requests/<id>                         */
/* ------------------------------------------------------------------ */

function parseRoute(hash) {
  const h = (hash || '').replace(/^#/, '');
  const m = h.match(/^\/requests\/(.+)$/);
  if (m) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      /* keep raw */
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
  document.title = report
    ? 'Report a problem — Hartford 311'
    : 'Track a report — Hartford 311';
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

/* ------------------------------------------------------------------ */
/* Report a problem                                                    */
/* ------------------------------------------------------------------ */

const reportState = {
  services: [],
  byCode: new Map(),
  // One key per form fill: double clicks and retries after a network
  // failure reuse it. It is replaced once the server has answered
  // definitively (report created, or rejected with a 4xx).
  idempotencyKey: newIdempotencyKey(),
  sending: false,
};

async function loadServices() {
  const select = $('service');
  const help = $('service-help');
  $('services-retry').hidden = true;
  select.disabled = true;
  select.replaceChildren(el('option', { value: '', text: 'Loading the list of services…' }));
  try {
    const { body } = await api('/services');
    const services = Array.isArray(body && body.services) ? body.services : [];
    reportState.services = services;
    reportState.byCode = new Map(services.map((s) => [s.service_code, s]));
    renderServiceOptions(services);
    select.disabled = false;
    help.textContent = services.length ? '' : 'No services are available right now.';
    // Services arrived after a deep-linked request was shown: label its details.
    if (lastRequest && !$('track-result').hidden) renderRequest(lastRequest);
  } catch (err) {
    select.replaceChildren(el('option', { value: '', text: 'The list of services could not be loaded' }));
    help.textContent = `${err.message}`;
    $('services-retry').hidden = false;
  }
}

function renderServiceOptions(services) {
  const select = $('service');
  const options = [el('option', { value: '', text: 'Choose a type of problem…' })];
  const groups = new Map();
  for (const s of services) {
    const group = s.group || '';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(s);
  }
  for (const [group, list] of groups) {
    const opts = list.map((s) =>
      el('option', { value: s.service_code, text: s.service_name || s.service_code }));
    if (group && groups.size > 1) options.push(el('optgroup', { label: group }, opts));
    else options.push(...opts);
  }
  select.replaceChildren(...options);
}

function onServiceChange() {
  const service = reportState.byCode.get($('service').value);
  $('service-help').textContent = service && service.description ? service.description : '';
  clearFieldError('service_code');
  renderAttributes(service);
}

function sortedAttributes(service) {
  const attrs = Array.isArray(service && service.attributes) ? service.attributes.slice() : [];
  return attrs.sort((a, b) => (Number(a.order) || 0) - (Number(b.order) || 0));
}

function renderAttributes(service) {
  const container = $('attributes');
  container.replaceChildren();
  if (!service) return;
  for (const attr of sortedAttributes(service)) {
    container.append(renderAttribute(attr));
  }
}

function attrInputId(code) {
  return `attr-${String(code).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function renderAttribute(attr) {
  const code = String(attr.code);
  const id = attrInputId(code);
  const errId = `err-attr-${id}`;
  const hintId = `hint-${id}`;
  const datatype = attr.datatype || 'string';
  const required = Boolean(attr.required) && attr.variable !== false;

  if (attr.variable === false) {
    // Informational only: show the text, collect nothing.
    return el('div', { className: 'field attribute-info', dataset: { attributeInfo: code } }, [
      el('p', { className: 'help info', text: attr.description || '' }),
    ]);
  }

  const wrapper = el('div', {
    className: 'field attribute',
    dataset: { field: `attributes.${code}`, attributeCode: code, datatype, required: String(required) },
  });
  const reqMark = required ? el('span', { className: 'req-mark', 'aria-hidden': 'true', text: '*' }) : null;
  const labelText = attr.description || humanize(code);
  const hint = attr.datatype_description
    ? el('p', { id: hintId, className: 'help', text: attr.datatype_description })
    : null;
  const error = el('p', { id: errId, className: 'field-error' });
  const describedBy = [hint ? hintId : null, errId].filter(Boolean).join(' ');
  const values = Array.isArray(attr.values) ? attr.values : [];

  if (datatype === 'multivaluelist') {
    const fieldset = el('fieldset', { className: 'checkbox-group', 'aria-describedby': describedBy });
    fieldset.append(el('legend', {}, [labelText, reqMark ? ' ' : null, reqMark,
      required ? el('span', { className: 'visually-hidden', text: ' (required, choose at least one)' }) : null]));
    values.forEach((v, i) => {
      const boxId = `${id}-${i}`;
      fieldset.append(el('div', { className: 'checkbox' }, [
        el('input', { type: 'checkbox', id: boxId, name: code, value: String(v.key) }),
        el('label', { for: boxId, text: v.name || String(v.key) }),
      ]));
    });
    wrapper.append(fieldset);
    if (hint) wrapper.append(hint);
    wrapper.append(error);
    return wrapper;
  }

  let input;
  const common = { id, name: code, 'aria-describedby': describedBy };
  if (required) Object.assign(common, { required: true, 'aria-required': 'true' });
  switch (datatype) {
    case 'text':
      input = el('textarea', { ...common, rows: 3 });
      break;
    case 'number':
      input = el('input', { ...common, type: 'number', step: 'any', inputmode: 'decimal' });
      break;
    case 'datetime':
      input = el('input', { ...common, type: 'datetime-local' });
      break;
    case 'singlevaluelist':
      input = el('select', common, [
        el('option', { value: '', text: 'Choose…' }),
        ...values.map((v) => el('option', { value: String(v.key), text: v.name || String(v.key) })),
      ]);
      break;
    case 'string':
    default:
      input = el('input', { ...common, type: 'text' });
      break;
  }
  wrapper.append(el('label', { for: id }, [labelText, reqMark ? ' ' : null, reqMark]));
  if (hint) wrapper.append(hint);
  wrapper.append(input, error);
  return wrapper;
}

/** Reads attribute values; returns { values, errors } (errors: [{field, message}]). */
function collectAttributes(service) {
  const values = {};
  const errors = [];
  for (const attr of sortedAttributes(service)) {
    if (attr.variable === false) continue;
    const code = String(attr.code);
    const field = `attributes.${code}`;
    const name = attr.description || humanize(code);
    const required = Boolean(attr.required);
    const id = attrInputId(code);
    if (attr.datatype === 'multivaluelist') {
      const checked = [...document.querySelectorAll(`#attributes input[type=checkbox][name="${CSS.escape(code)}"]:checked`)]
        .map((box) => box.value);
      if (checked.length) values[code] = checked;
      else if (required) errors.push({ field, message: `Choose at least one option for “${name}”.` });
      continue;
    }
    const input = $(id);
    if (!input) continue;
    const raw = input.value.trim();
    if (raw === '') {
      if (input.type === 'number' && input.validity && input.validity.badInput) {
        errors.push({ field, message: `“${name}” must be a number.` });
      } else if (required) {
        errors.push({ field, message: `Please answer “${name}”` });
      }
      continue;
    }
    if (attr.datatype === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) errors.push({ field, message: `“${name}” must be a number.` });
      else values[code] = n;
    } else if (attr.datatype === 'datetime') {
      const d = new Date(raw);
      if (Number.isNaN(d.getTime())) errors.push({ field, message: `“${name}” must be a date and time.` });
      else values[code] = d.toISOString();
    } else {
      values[code] = raw;
    }
  }
  return { values, errors };
}

function readNumber(id, label, errors, field, { required = true } = {}) {
  const input = $(id);
  const raw = input.value.trim();
  if (raw === '') {
    if (input.validity && input.validity.badInput) {
      errors.push({ field, message: `${label} must be a number.` });
    } else if (required) {
      errors.push({ field, message: `Enter the ${label.toLowerCase()}, use your location, or type a street address.` });
    }
    return undefined;
  }
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    errors.push({ field, message: `${label} must be a number.` });
    return undefined;
  }
  return n;
}

/** Builds the POST body from the form; returns { body, errors }. */
function buildRequestBody() {
  const errors = [];
  const serviceCode = $('service').value;
  const service = reportState.byCode.get(serviceCode);
  if (!service) errors.push({ field: 'service_code', message: 'Choose the type of problem.' });

  const body = { service_code: serviceCode };
  // A point is needed unless an address is given (the server finds the
  // point from it). Half a point is never enough.
  const hasAddress = $('address').value.trim() !== '';
  const pointStarted = $('lat').value.trim() !== '' || $('long').value.trim() !== ''
    || $('lat').validity.badInput || $('long').validity.badInput;
  const pointRequired = !hasAddress || pointStarted;
  const lat = readNumber('lat', 'Latitude', errors, 'lat', { required: pointRequired });
  const long = readNumber('long', 'Longitude', errors, 'long', { required: pointRequired });
  if (lat !== undefined) body.lat = lat;
  if (long !== undefined) body.long = long;

  const optional = {
    address_string: 'address',
    description: 'description',
    email: 'email',
    phone: 'phone',
    first_name: 'first_name',
    last_name: 'last_name',
  };
  for (const [key, id] of Object.entries(optional)) {
    const value = $(id).value.trim();
    if (value) body[key] = value;
  }
  if (body.description && body.description.length > DESCRIPTION_MAX) {
    errors.push({ field: 'description', message: `The description can be at most ${DESCRIPTION_MAX} characters.` });
  }

  if (service) {
    const attrs = collectAttributes(service);
    errors.push(...attrs.errors);
    if (Object.keys(attrs.values).length) body.attributes = attrs.values;
  }
  const mediaProblems = checkMedia(chosenMedia());
  if (mediaProblems.length) errors.push({ field: 'media', message: mediaProblems.join(' ') });
  return { body, errors };
}

/* Photos and videos ------------------------------------------------- */

/** The type a file is sent as, or null when the City does not take it. */
function mediaType(file) {
  const type = String(file.type || '').toLowerCase();
  if (MEDIA_KINDS[type]) return type;
  if (type && type !== 'application/octet-stream') return null;
  const m = String(file.name || '').toLowerCase().match(/\.([a-z0-9]+)$/);
  return (m && MEDIA_EXTENSIONS[m[1]]) || null;
}

function formatSize(bytes) {
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  if (bytes < MB) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / MB).toFixed(1).replace(/\.0$/, '')} MB`;
}

function chosenMedia() {
  return [...($('media').files || [])];
}

/** What stops the chosen files from being sent, as messages (none when all is well). */
function checkMedia(files) {
  const problems = [];
  if (files.length > MEDIA_MAX_FILES) {
    problems.push(`You chose ${files.length} files: a report can have at most ${MEDIA_MAX_FILES} photos and videos.`);
  }
  let refusedType = false;
  for (const file of files) {
    const name = `“${file.name}”`;
    const type = mediaType(file);
    if (!type) {
      problems.push(`${name} is not a photo or video the City can take.`);
      refusedType = true;
    } else if (file.size === 0) {
      problems.push(`${name} is empty. Choose another file.`);
    } else if (file.size > MEDIA_KINDS[type].maxBytes) {
      const kind = MEDIA_KINDS[type];
      problems.push(`${name} is too big: ${kind.video ? 'a video' : 'a photo'} can be at most ${kind.maxBytes / MB} MB, and this one is ${formatSize(file.size)}.`);
    }
  }
  if (refusedType) problems.push(MEDIA_ACCEPTED_TEXT);
  return problems;
}

/** Lists the chosen files and says at once what is wrong with them. */
function onMediaChange() {
  const files = chosenMedia();
  renderChosenMedia(files);
  const wrapper = fieldWrapper('media');
  const problems = checkMedia(files);
  if (problems.length) setFieldError(wrapper, problems.join(' '));
  else clearFieldError(wrapper);
}

function renderChosenMedia(files) {
  const list = $('media-chosen');
  list.replaceChildren(...files.map((file) =>
    el('li', {}, [el('span', { className: 'media-name', text: file.name }), ` (${formatSize(file.size)})`])));
  list.hidden = files.length === 0;
}

/* Field errors ------------------------------------------------------ */

const FIELD_ALIASES = { address: 'address_string', lon: 'long', lng: 'long', longitude: 'long', latitude: 'lat', service: 'service_code' };

/** Finds the .field wrapper for an API field name, or null. */
function fieldWrapper(field) {
  if (!field) return null;
  let name = String(field);
  name = FIELD_ALIASES[name] || name;
  const form = $('report-form');
  const direct = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (direct) return direct;
  // "attributes.size", "attributes[size]", "attribute.size", "attributes/size" or the bare code.
  const m = name.match(/^attributes?(?:\.|\/|\[)([^\]]+)\]?$/);
  const code = m ? m[1] : name;
  return form.querySelector(`[data-attribute-code="${CSS.escape(code)}"]`);
}

function focusTarget(wrapper) {
  return wrapper.querySelector('input, select, textarea');
}

function setFieldError(wrapper, message) {
  wrapper.classList.add('has-error');
  const error = wrapper.querySelector('.field-error');
  if (error) error.textContent = message;
  for (const control of wrapper.querySelectorAll('input, select, textarea')) {
    control.setAttribute('aria-invalid', 'true');
  }
}

function clearFieldError(fieldOrWrapper) {
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

/* Submit ------------------------------------------------------------ */

function setSending(sending) {
  reportState.sending = sending;
  const button = $('submit-report');
  button.disabled = sending;
  button.setAttribute('aria-busy', String(sending));
  button.textContent = sending ? 'Sending…' : 'Send report';
  $('submit-status').textContent = sending ? 'Sending your report…' : '';
}

async function onSubmitReport(event) {
  event.preventDefault();
  if (reportState.sending) return;
  const { body, errors } = buildRequestBody();
  if (errors.length) {
    showErrors(errors, { heading: 'Please check the following:' });
    return;
  }
  clearAllErrors();
  // The form is emptied once the report is made: keep the chosen files for the uploads.
  const files = chosenMedia();
  setSending(true);
  try {
    const { body: created } = await api('/requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': reportState.idempotencyKey },
      body: JSON.stringify(body),
    });
    if (!created || !created.service_request_id) {
      throw new ApiError(500, null, 'The server did not return a tracking number. Please try again.');
    }
    // The token proves this page made the report. It stays in memory, for the uploads only.
    const { token, ...request } = created;
    showSuccess(request);
    if (files.length) uploadMedia(request.service_request_id, typeof token === 'string' ? token : '', files);
  } catch (err) {
    // A 4xx means nothing was created: the next try is a new submission.
    // On a network failure or 5xx the outcome is unknown, so keep the key
    // and let a retry be recognised as the same report.
    if (err.status >= 400 && err.status < 500) reportState.idempotencyKey = newIdempotencyKey();
    const heading = 'Your report was not sent.';
    let { field, message } = err;
    if (err.code === 'unknown_address') {
      // The message names the addresses the City knows that are close to what was typed.
      field = 'address_string';
      message = String(message).replace(/`([^`]*)`/g, '“$1”');
    } else if (err.code === 'geocoding_unavailable') {
      field = 'lat';
      message = 'The City cannot find a place from an address alone right now. Please enter the latitude and longitude, or use your location.';
    }
    showErrors([{ field, message }], { heading });
  } finally {
    setSending(false);
  }
}

function showSuccess(request) {
  const id = request.service_request_id;
  clearUploads();
  $('tracking-number').textContent = id;
  $('track-link').href = `#/requests/${encodeURIComponent(id)}`;
  resetReportForm();
  $('report-form').hidden = true;
  $('report-success').hidden = false;
  $('success-heading').focus();
}

function resetReportForm() {
  const form = $('report-form');
  form.reset();
  renderAttributes(null);
  $('service-help').textContent = '';
  $('location-status').textContent = '';
  renderChosenMedia([]);
  updateCounter();
  updatePointRequired();
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
  $('service').focus();
}

/* Uploads, once the report is made ---------------------------------- */

const uploadState = {
  // Which batch of uploads owns the status line ("Report another problem" starts afresh).
  run: 0,
  // Files on their way to each report (tracking number -> count), so the track view
  // re-checks the report until they show.
  expected: new Map(),
};

function expectMedia(requestId, change) {
  uploadState.expected.set(requestId, Math.max(0, (uploadState.expected.get(requestId) || 0) + change));
}

function clearUploads() {
  uploadState.run++;
  $('uploads').hidden = true;
  $('upload-list').replaceChildren();
  $('upload-status').textContent = '';
}

/** "Some text" -> "Some text." with a capital letter, for the server's short reasons. */
function sentence(text) {
  const s = String(text || '').trim();
  if (!s) return '';
  const capital = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** One chosen file in the confirmation: its name, progress and outcome. */
function uploadItem(file) {
  const type = mediaType(file);
  const video = Boolean(type && MEDIA_KINDS[type].video);
  const progress = el('progress', { className: 'upload-progress', 'aria-label': `Uploading ${file.name}`, hidden: true });
  const outcome = el('p', { className: 'upload-outcome', tabindex: '-1', text: 'Waiting to upload…' });
  const retry = el('button', {
    type: 'button',
    className: 'btn btn-secondary upload-retry',
    'aria-label': `Try uploading ${file.name} again`,
    text: 'Try again',
    hidden: true,
  });
  const node = el('li', { className: 'upload', dataset: { state: 'waiting' } }, [
    el('p', { className: 'upload-name' }, [el('strong', { text: file.name }), ` (${formatSize(file.size)})`]),
    progress,
    outcome,
    retry,
  ]);
  return { file, type, video, node, progress, outcome, retry, state: 'waiting' };
}

function setUploadState(item, state, message, { canRetry = false } = {}) {
  item.state = state;
  item.node.dataset.state = state;
  item.progress.hidden = state !== 'uploading';
  item.outcome.textContent = message;
  item.retry.hidden = !canRetry;
}

/** Uploads the files chosen with a new report, one after the other. */
function uploadMedia(requestId, token, files) {
  const run = uploadState.run;
  const items = files.map(uploadItem);
  $('upload-list').replaceChildren(...items.map((item) => item.node));
  $('uploads').hidden = false;
  if (!token) {
    // A repeated send of a report the server already had: only the first answer carries the token.
    for (const item of items) {
      setUploadState(item, 'failed', `“${item.file.name}” was not uploaded. This report had already been received, so files can no longer be added to it from this page.`);
    }
    summarizeUploads(items, run);
    return;
  }
  for (const item of items) {
    item.retry.addEventListener('click', async () => {
      if (item.state === 'uploading') return;
      item.outcome.focus(); // the button hides while the file is sent again
      await uploadOne(requestId, token, item, items, run);
      summarizeUploads(items, run);
    });
  }
  (async () => {
    for (const item of items) await uploadOne(requestId, token, item, items, run);
    summarizeUploads(items, run);
  })();
}

/** Asks for an upload form, then sends the file with it. Never throws. */
async function uploadOne(requestId, token, item, items, run) {
  const { file } = item;
  setUploadState(item, 'uploading', 'Uploading…');
  if (run === uploadState.run) {
    const place = items.length > 1 ? ` ${items.indexOf(item) + 1} of ${items.length}` : '';
    $('upload-status').textContent = `Uploading file${place}: “${file.name}”…`;
  }
  expectMedia(requestId, 1);
  const fail = (reason, canRetry) => {
    expectMedia(requestId, -1);
    setUploadState(item, 'failed', `“${file.name}” was not uploaded. ${reason}`, { canRetry });
  };

  let upload;
  try {
    const { body } = await api(`/requests/${encodeURIComponent(requestId)}/media`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token, content_type: item.type, size: file.size }),
    });
    upload = body && body.upload;
    if (!upload || typeof upload.url !== 'string') {
      throw new ApiError(500, null, 'The server did not say where to send the file.');
    }
  } catch (err) {
    fail(mediaRefusal(err), err.status === 0 || err.status >= 500);
    return;
  }

  const sent = await sendToStorage(upload, file);
  if (!sent.ok) {
    fail(sent.reason, sent.canRetry);
    return;
  }
  const what = item.video ? 'Video' : 'Photo';
  setUploadState(item, 'uploaded', `${what} uploaded — it will show on your report once checked.`);
}

/** The server's reason for not taking a file, in plain words. */
function mediaRefusal(err) {
  switch (err.code) {
    case 'unsupported_media_type':
      return MEDIA_ACCEPTED_TEXT;
    case 'file_too_large':
      return 'It is too big: photos can be at most 15 MB and videos at most 100 MB.';
    case 'too_many_files':
      return `The report already has the most photos and videos it can take (${MEDIA_MAX_FILES}).`;
    case 'forbidden':
      return 'Only the page that sent the report can add files to it.';
    default:
      return sentence(err.message);
  }
}

/**
 * Posts the file with its upload form: every form field in the order given,
 * then the file last (as S3 requires). Answers { ok } or { ok: false, reason, canRetry }.
 */
async function sendToStorage(upload, file) {
  let url;
  try {
    url = new URL(upload.url, location.href);
  } catch {
    url = null;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    return { ok: false, canRetry: false, reason: 'The server gave an upload address this page cannot use.' };
  }
  const data = new FormData();
  const fields = upload.fields && typeof upload.fields === 'object' ? upload.fields : {};
  for (const [name, value] of Array.isArray(fields) ? fields : Object.entries(fields)) {
    data.append(name, String(value));
  }
  const fileField = typeof upload.file_field === 'string' && upload.file_field ? upload.file_field : 'file';
  data.append(fileField, file, file.name);

  let response;
  try {
    response = await fetch(url.href, { method: 'POST', body: data, mode: 'cors', credentials: 'omit' });
  } catch {
    return { ok: false, canRetry: true, reason: 'It could not be sent. Check your connection and try again.' };
  }
  if (response.ok) return { ok: true };
  return { ok: false, canRetry: response.status !== 400, reason: await storageRefusal(response) };
}

/** Why the file storage refused a file: the local runner answers JSON, S3 answers XML. */
async function storageRefusal(response) {
  let text = '';
  try {
    text = await response.text();
  } catch {
    text = '';
  }
  let reason = '';
  try {
    const body = JSON.parse(text);
    const error = body && body.error;
    if (typeof error === 'string') reason = error;
    else if (error && typeof error.message === 'string') reason = error.message;
  } catch {
    const xml = new DOMParser().parseFromString(text, 'application/xml');
    const message = xml.querySelector('Error > Message');
    reason = message ? message.textContent : '';
  }
  reason = reason.trim();
  if (!reason) return `The file storage answered with status ${response.status}.`;
  return `The file storage refused it: ${reason}${/[.!?]$/.test(reason) ? '' : '.'}`;
}

/** One line for the whole batch; the report itself was received either way. */
function summarizeUploads(items, run) {
  if (run !== uploadState.run) return;
  if (items.some((item) => item.state === 'uploading' || item.state === 'waiting')) return;
  const total = items.length;
  const done = items.filter((item) => item.state === 'uploaded').length;
  let text;
  if (done === total) {
    text = total === 1
      ? 'Your file was uploaded. It will show on your report once checked.'
      : `All ${total} files were uploaded. They will show on your report once checked.`;
  } else if (done === 0) {
    text = `${total === 1 ? 'Your file was' : 'Your files were'} not uploaded, but your report was received. Keep your tracking number.`;
  } else {
    text = `${done} of ${total} files were uploaded. Your report was received either way. Keep your tracking number.`;
  }
  $('upload-status').textContent = text;
}

/** Latitude and longitude are required unless a street address is typed. */
function updatePointRequired() {
  const required = $('address').value.trim() === '';
  for (const id of ['lat', 'long']) {
    const input = $(id);
    input.required = required;
    input.setAttribute('aria-required', String(required));
  }
  for (const mark of document.querySelectorAll('.point-req')) mark.hidden = !required;
  if (!required) {
    // "Enter the latitude…" no longer applies once an address is typed.
    for (const id of ['lat', 'long']) if ($(id).value.trim() === '') clearFieldError(id);
  }
}

function updateCounter() {
  const length = $('description').value.length;
  $('description-count').textContent = `${length} of ${DESCRIPTION_MAX} characters used`;
  $('description-count').classList.toggle('near-limit', length > DESCRIPTION_MAX - 200);
}

function useMyLocation() {
  const status = $('location-status');
  if (!('geolocation' in navigator)) {
    status.textContent = 'Your browser cannot share its location. Please enter the latitude and longitude.';
    return;
  }
  const button = $('use-location');
  button.disabled = true;
  status.textContent = 'Finding your location…';
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $('lat').value = pos.coords.latitude.toFixed(6);
      $('long').value = pos.coords.longitude.toFixed(6);
      clearFieldError('lat');
      clearFieldError('long');
      scheduleNearby();
      status.textContent = `Location set (accurate to about ${Math.round(pos.coords.accuracy)} m).`;
      button.disabled = false;
    },
    (err) => {
      status.textContent = err && err.code === 1
        ? 'Location permission was denied. Please enter the latitude and longitude.'
        : 'Your location could not be found. Please enter the latitude and longitude.';
      button.disabled = false;
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

/* "Is this the same?": open reports of the same kind nearby --------- */

const nearbyState = { timer: null, token: 0, key: '' };

/** The chosen service and point, or null while either is missing or not a valid point. */
function nearbyQuery() {
  const serviceCode = $('service').value;
  if (!serviceCode || !reportState.byCode.has(serviceCode)) return null;
  const latRaw = $('lat').value.trim();
  const longRaw = $('long').value.trim();
  if (latRaw === '' || longRaw === '') return null;
  const lat = Number(latRaw);
  const long = Number(longRaw);
  if (!Number.isFinite(lat) || !Number.isFinite(long)) return null;
  if (Math.abs(lat) > 90 || Math.abs(long) > 180) return null;
  return { serviceCode, lat, long };
}

function clearNearby() {
  clearTimeout(nearbyState.timer);
  nearbyState.token++;
  nearbyState.key = '';
  $('nearby').hidden = true;
  $('nearby-list').replaceChildren();
  $('nearby-status').textContent = '';
}

/** Checks for nearby reports ~400 ms after the service or point last changed. */
function scheduleNearby() {
  const query = nearbyQuery();
  const key = query ? `${query.serviceCode}|${query.lat}|${query.long}` : '';
  if (key === nearbyState.key) return; // nothing changed: keep what is shown or on its way
  clearNearby();
  if (!query) return;
  nearbyState.key = key;
  const token = nearbyState.token;
  nearbyState.timer = setTimeout(() => checkNearby(query, token), NEARBY_DELAY_MS);
}

async function checkNearby({ serviceCode, lat, long }, token) {
  const params = new URLSearchParams({
    lat: String(lat),
    long: String(long),
    service_code: serviceCode,
    radius: String(NEARBY_RADIUS_M),
  });
  let requests;
  try {
    const { body } = await api(`/requests/nearby?${params}`);
    requests = Array.isArray(body && body.requests) ? body.requests : [];
  } catch {
    requests = []; // a convenience only: errors are not shown
  }
  if (token !== nearbyState.token) return; // the form changed meanwhile
  renderNearby(requests.filter((r) => r && r.service_request_id));
}

function distanceText(metres) {
  const m = Number(metres);
  if (!Number.isFinite(m)) return '';
  if (m < 1) return 'less than 1 m away';
  return `about ${Math.round(m)} m away`;
}

function renderNearby(requests) {
  const panel = $('nearby');
  const list = $('nearby-list');
  if (!requests.length) {
    panel.hidden = true;
    list.replaceChildren();
    $('nearby-status').textContent = '';
    return;
  }
  list.replaceChildren(...requests.map((r) => {
    const id = String(r.service_request_id);
    const name = r.service_name || (reportState.byCode.get(r.service_code) || {}).service_name || r.service_code || 'Report';
    const distance = distanceText(r.distance_m);
    const description = excerpt(r.description, NEARBY_EXCERPT);
    return el('li', { className: 'nearby-item', dataset: { requestId: id } }, [
      el('p', { className: 'nearby-title' }, [
        el('strong', { text: name }),
        distance ? el('span', { className: 'nearby-distance', text: ` — ${distance}` }) : null,
      ]),
      r.address ? el('p', { className: 'nearby-address', text: String(r.address) }) : null,
      description ? el('p', { className: 'nearby-description', text: `“${description}”` }) : null,
      el('p', { className: 'nearby-meta' }, [
        r.requested_datetime ? el('span', {}, ['reported ', timeNode(r.requested_datetime), ' · ']) : null,
        r.status ? el('span', { text: `${statusLabel(r.status)} · ` }) : null,
        el('a', { href: trackHref(id) }, ['Track report ', el('span', { className: 'nowrap', text: id })]),
      ]),
    ]);
  }));
  panel.hidden = false;
  $('nearby-status').textContent = requests.length === 1
    ? 'This problem may already be reported nearby: 1 report is listed above the Send button.'
    : `This problem may already be reported nearby: ${requests.length} reports are listed above the Send button.`;
}

/* ------------------------------------------------------------------ */
/* Track a report                                                      */
/* ------------------------------------------------------------------ */

let lastRequest = null;
let loadToken = 0;
let pollTimer = null;

function normalizeTrackingNumber(value) {
  let id = String(value || '').trim().toUpperCase().replace(/\s+/g, '');
  if (/^[0-9A-Z]{8}$/.test(id)) id = `${id.slice(0, 4)}-${id.slice(4)}`;
  return id;
}

function onTrackSubmit(event) {
  event.preventDefault();
  const id = normalizeTrackingNumber($('tracking-input').value);
  const error = $('err-tracking');
  if (!id) {
    error.textContent = 'Enter a tracking number.';
    $('tracking-input').setAttribute('aria-invalid', 'true');
    $('tracking-input').focus();
    return;
  }
  error.textContent = '';
  $('tracking-input').removeAttribute('aria-invalid');
  $('tracking-input').value = id;
  const hash = `#/requests/${encodeURIComponent(id)}`;
  if (location.hash === hash) loadRequest(id, { focusResult: true });
  else location.hash = hash; // hashchange -> route() -> loadRequest()
}

async function loadRequest(id, { focusResult = false } = {}) {
  const token = ++loadToken;
  clearTimeout(pollTimer);
  const status = $('track-status');
  status.className = 'track-status';
  status.textContent = `Looking up ${id}…`;
  $('track-result').hidden = true;
  await fetchAndShow(id, token, 0, focusResult);
}

async function fetchAndShow(id, token, polls, focusResult) {
  const status = $('track-status');
  let request;
  try {
    ({ body: request } = await api(`/requests/${encodeURIComponent(id)}`));
  } catch (err) {
    if (token !== loadToken) return;
    if (polls > 0) return; // keep showing what we have if a re-check fails
    $('track-result').hidden = true;
    status.className = 'track-status notice notice-error';
    status.textContent = err.status === 404 ? 'No report with that tracking number.' : err.message;
    return;
  }
  if (token !== loadToken) return;
  const previous = polls > 0 && lastRequest ? lastRequest.status : null;
  const previousMedia = polls > 0 && lastRequest ? mediaCount(lastRequest) : null;
  const media = mediaCount(request);
  lastRequest = request;
  renderRequest(request);
  status.className = 'track-status';
  if (previous && previous !== request.status) {
    status.textContent = `Status is now ${statusLabel(request.status)}.`;
  } else if (previousMedia !== null && media > previousMedia) {
    status.textContent = 'A photo or video was added to the report.';
  } else if (polls === 0) {
    status.textContent = `Report ${request.service_request_id} found. Status: ${statusLabel(request.status)}.`;
  }
  if (focusResult && polls === 0) {
    $('request-title').setAttribute('tabindex', '-1');
    $('request-title').focus();
  }
  // A new report is routed within a second or so, and a photo sent from this
  // page is checked about as fast: re-check a few times.
  const waitingForMedia = (uploadState.expected.get(request.service_request_id) || 0) > media;
  if ((request.status === 'submitted' || waitingForMedia) && polls < POLL_MAX) {
    pollTimer = setTimeout(() => fetchAndShow(id, token, polls + 1, false), POLL_INTERVAL_MS);
  }
}

function setDd(id, value, fallback) {
  const dd = $(id);
  const has = value !== null && value !== undefined && value !== '';
  dd.textContent = has ? String(value) : (fallback || '');
  dd.parentElement.hidden = !has && !fallback;
  dd.classList.toggle('muted', !has);
}

function renderRequest(r) {
  $('r-service').textContent = r.service_name || r.service_code || 'Report';
  $('r-id').textContent = r.service_request_id;
  const badge = $('r-status');
  badge.textContent = statusLabel(r.status);
  badge.dataset.status = r.status || '';
  $('r-resolution').textContent = r.resolution ? `— ${resolutionLabel(r.resolution)}` : '';
  renderDuplicateOf(r);
  renderStatusNotes(r);

  setDd('r-agency', r.agency_responsible, 'Not yet assigned');
  const hasPoint = Number.isFinite(r.lat) && Number.isFinite(r.long);
  const point = hasPoint ? `${r.lat.toFixed(5)}, ${r.long.toFixed(5)}` : '';
  const location = r.address ? (point ? `${r.address} (${point})` : r.address) : point;
  setDd('r-location', location);
  renderAreas(r);
  const requested = $('r-requested');
  requested.replaceChildren(timeNode(r.requested_datetime));
  requested.parentElement.hidden = !r.requested_datetime;
  const updated = $('r-updated');
  updated.replaceChildren(timeNode(r.updated_datetime));
  updated.parentElement.hidden = !r.updated_datetime;
  setDd('r-description', r.description, 'No description given');

  renderRequestAttributes(r);
  renderMedia(r);
  renderTimeline(Array.isArray(r.timeline) ? r.timeline : []);
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
  p.replaceChildren('Same problem as ', el('a', { href: trackHref(id), text: id }),
    '. Follow that report for updates: you will hear from the City when it changes.');
  p.hidden = false;
}

/** The latest public note; prominent once the report is closed or passed on. */
function renderStatusNotes(r) {
  const wrap = $('r-notes-wrap');
  const notes = typeof r.status_notes === 'string' ? r.status_notes.trim() : '';
  if (!notes) {
    wrap.hidden = true;
    $('r-status-notes').replaceChildren();
    return;
  }
  const closed = r.status === 'closed' || r.status === 'archived';
  const prominent = closed || r.resolution === 'referred';
  wrap.classList.toggle('prominent', prominent);
  $('r-notes-heading').textContent = r.resolution === 'referred'
    ? 'Who is handling this'
    : closed ? 'Why this report was closed' : 'Latest update';
  $('r-status-notes').replaceChildren(...linkifiedText(notes));
  wrap.hidden = false;
}

/** Neighbourhood, district and any other area the report lies in. */
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
    const label = humanize(layer).replace(/s$/, '');
    const row = el('div', { dataset: { areaLayer: layer } }, [el('dt', { text: label }), el('dd', { text: name })]);
    after.after(row);
    after = row;
  }
}

function renderRequestAttributes(r) {
  const list = $('r-attributes');
  list.replaceChildren();
  const attrs = r.attributes && typeof r.attributes === 'object' ? r.attributes : {};
  const service = reportState.byCode.get(r.service_code);
  const defs = new Map(sortedAttributes(service).map((a) => [String(a.code), a]));
  const codes = Object.keys(attrs).sort((a, b) =>
    ((defs.get(a) && Number(defs.get(a).order)) || 0) - ((defs.get(b) && Number(defs.get(b).order)) || 0));
  for (const code of codes) {
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

/** Photos and videos the report shows in its timeline. */
function mediaCount(r) {
  return Array.isArray(r && r.timeline) ? r.timeline.filter((e) => e && e.kind === 'media').length : 0;
}

/**
 * Where to show a report's media_url from. The City's own media links are
 * read through this page's API; any other address (a link the reporter gave)
 * is only offered as a link, so nothing loads from elsewhere unasked.
 */
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
  return {
    href: ours ? `${url.pathname}${url.search}` : url.href,
    ours,
    video: /\.(mp4|mov)$/i.test(url.pathname),
  };
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
  if (box.dataset.url === link.href) return; // unchanged: keep the picture already shown
  box.dataset.url = link.href;
  if (!link.ours) {
    box.replaceChildren(el('p', {}, [
      el('a', { href: link.href, rel: 'noopener noreferrer', text: 'See the photo or video given with this report' }),
      ' (on another website)',
    ]));
    return;
  }
  if (link.video) {
    box.replaceChildren(el('p', {}, [el('a', { href: link.href, text: 'Watch the video of the reported problem' })]));
    return;
  }
  const img = el('img', { src: link.href, alt: 'Photo of the reported problem', className: 'request-photo', decoding: 'async' });
  img.addEventListener('error', () => {
    if (box.dataset.url !== link.href) return;
    box.replaceChildren(el('p', {}, [
      'The photo cannot be shown here right now. ',
      el('a', { href: link.href, text: 'Open the photo' }),
    ]));
  });
  box.replaceChildren(img, el('p', { className: 'photo-open' }, [el('a', { href: link.href, text: 'Open the photo full size' })]));
}

function renderTimeline(events) {
  const list = $('r-timeline');
  const items = events.map((e) => {
    let title = TIMELINE_LABELS[e.kind] || humanize(e.kind || 'update');
    if (e.kind === 'status_changed' && e.status) title = `Status changed to ${statusLabel(e.status)}`;
    // "Photo added" / "Video added" says more than the general label.
    if (e.kind === 'media' && e.note && /^(photo|video) added\.?$/i.test(e.note.trim())) title = e.note.trim();
    const note = e.note && e.note.trim().toLowerCase() !== title.toLowerCase() ? e.note : null;
    // Photos that go with an update (the City's photo of the fix), as links the server gives.
    const photos = (Array.isArray(e.media) ? e.media : [])
      .filter((link) => typeof link === 'string' && link.startsWith('/api/v1/media/'))
      .map((link, i) => el('img', {
        className: 'timeline-photo', src: link, alt: `Photo ${i + 1} with this update`, loading: 'lazy', width: 240,
      }));
    return el('li', { dataset: { kind: e.kind || '' } }, [
      el('p', { className: 'timeline-when' }, [timeNode(e.at)]),
      el('p', { className: 'timeline-title', text: title }),
      note ? el('p', { className: 'timeline-note multiline' }, linkifiedText(note)) : null,
      photos.length ? el('p', { className: 'timeline-photos' }, photos) : null,
    ]);
  });
  if (!items.length) items.push(el('li', { className: 'muted', text: 'No updates yet.' }));
  list.replaceChildren(...items);
}

/* ------------------------------------------------------------------ */
/* Start                                                               */
/* ------------------------------------------------------------------ */

function init() {
  $('service').addEventListener('change', onServiceChange);
  $('services-retry').addEventListener('click', loadServices);
  $('report-form').addEventListener('submit', onSubmitReport);
  $('report-form').addEventListener('input', (event) => {
    const wrapper = event.target.closest('.field.has-error');
    if (wrapper) clearFieldError(wrapper);
  });
  $('description').addEventListener('input', updateCounter);
  $('media').addEventListener('change', onMediaChange);
  $('service').addEventListener('change', scheduleNearby);
  $('lat').addEventListener('input', scheduleNearby);
  $('long').addEventListener('input', scheduleNearby);
  $('address').addEventListener('input', updatePointRequired);
  $('use-location').addEventListener('click', useMyLocation);
  if (!('geolocation' in navigator)) $('use-location').hidden = true;
  $('report-another').addEventListener('click', startNewReport);
  $('track-form').addEventListener('submit', onTrackSubmit);
  window.addEventListener('hashchange', () => route());
  updateCounter();
  updatePointRequired();
  route({ initial: true });
  loadServices();
}

init();
