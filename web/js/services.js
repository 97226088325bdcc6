// The catalogue: finding the type of problem by searching words, grouped as the catalogue groups
// them, and the chosen service's own questions as fields of the right kinds.

import { api } from './api.js';
import { $, el, humanize } from './dom.js';
import { language, plural, t } from './i18n.js';

export const catalogue = {
  services: [],
  byCode: new Map(),
  // Confidential services (misconduct): only on their own form, never in the public list.
  confidential: [],
  loaded: false,
};

const listeners = [];

/** Calls `listener(service or undefined)` whenever the chosen service changes. */
export function onServiceChange(listener) {
  listeners.push(listener);
}

export function chosenServiceCode() {
  const checked = document.querySelector('#service-list input[name="service_code"]:checked');
  return checked ? checked.value : '';
}

export function chosenService() {
  return catalogue.byCode.get(chosenServiceCode());
}

export function serviceName(code) {
  const service = catalogue.byCode.get(code);
  return (service && service.service_name) || code;
}

/** Chooses a service as if the resident had (for a restored draft). */
export function chooseService(code) {
  const radio = document.querySelector(`#service-list input[value="${CSS.escape(code)}"]`);
  if (!radio) return;
  radio.checked = true;
  changed();
}

export function clearService() {
  for (const radio of document.querySelectorAll('#service-list input[name="service_code"]')) radio.checked = false;
  $('service-search').value = '';
  filterServices();
  changed();
}

function changed() {
  const service = chosenService();
  renderAttributes(service);
  for (const listener of listeners) listener(service);
}

export async function loadServices() {
  $('services-retry').hidden = true;
  $('service-count').textContent = t('what.loading');
  try {
    // In the page's language where services.toml translates the catalogue.
    const { body } = await api(`/services?lang=${encodeURIComponent(language())}`);
    const all = Array.isArray(body && body.services) ? body.services : [];
    const services = all.filter((s) => !s.confidential);
    catalogue.confidential = all.filter((s) => s.confidential);
    catalogue.services = services;
    catalogue.byCode = new Map(services.map((s) => [s.service_code, s]));
    catalogue.loaded = true;
    renderServiceList();
    renderChosenAttributesAgain();
  } catch (err) {
    $('service-count').textContent = `${t('what.load_failed')} ${err.message}`;
    $('services-retry').hidden = false;
  }
}

/** Lowercase words without accents, so "árbol" finds "arbol" and "Pot-hole" finds "pot hole". */
function words(text) {
  return String(text || '')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

function searchText(service) {
  return words([service.service_name, service.description, service.group, ...(service.keywords || [])].join(' '));
}

/** Whether every word typed starts a word of the service (name, description, group, keywords). */
export function matches(service, typed) {
  const wanted = words(typed);
  if (!wanted.length) return true;
  const known = searchText(service);
  return wanted.every((w) => known.some((k) => k.startsWith(w)));
}

function renderServiceList() {
  const list = $('service-list');
  const chosen = chosenServiceCode();
  const groups = new Map();
  for (const s of catalogue.services) {
    const group = s.group || '';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(s);
  }
  const nodes = [];
  for (const [group, services] of groups) {
    const items = services.map((s) => {
      const id = `service-${String(s.service_code).replace(/[^A-Za-z0-9_-]/g, '_')}`;
      return el('div', { className: 'service-option', dataset: { serviceCode: s.service_code } }, [
        el('input', { type: 'radio', name: 'service_code', id, value: s.service_code, checked: s.service_code === chosen, 'aria-describedby': `${id}-help` }),
        el('label', { for: id, text: s.service_name || s.service_code }),
        el('p', { id: `${id}-help`, className: 'help', text: s.description || '' }),
      ]);
    });
    nodes.push(group
      ? el('fieldset', { className: 'service-group', dataset: { group } }, [el('legend', { text: group }), ...items])
      : el('div', { className: 'service-group', dataset: { group } }, items));
  }
  list.replaceChildren($('service-list-label') || el('p', { id: 'service-list-label', className: 'visually-hidden', text: t('what.type') }), ...nodes);
  filterServices();
}

/** Shows only the services the search words match (the chosen one stays). */
export function filterServices() {
  const typed = $('service-search').value;
  const chosen = chosenServiceCode();
  let shown = 0;
  for (const option of document.querySelectorAll('#service-list .service-option')) {
    const service = catalogue.byCode.get(option.dataset.serviceCode);
    const show = option.dataset.serviceCode === chosen || (service && matches(service, typed));
    option.hidden = !show;
    if (show) shown++;
  }
  for (const group of document.querySelectorAll('#service-list .service-group')) {
    group.hidden = !group.querySelector('.service-option:not([hidden])');
  }
  if (!catalogue.loaded) return;
  $('service-count').textContent = !catalogue.services.length
    ? t('what.none_available')
    : typed.trim()
      ? (shown ? plural('what.matches', shown) : t('what.no_match'))
      : plural('what.all', catalogue.services.length);
}

export function sortedAttributes(service) {
  const attrs = Array.isArray(service && service.attributes) ? service.attributes.slice() : [];
  return attrs.sort((a, b) => (Number(a.order) || 0) - (Number(b.order) || 0));
}

export function attrInputId(code) {
  return `attr-${String(code).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The chosen service's questions again (in a new language), keeping the answers given. */
function renderChosenAttributesAgain() {
  const service = chosenService();
  if (!service) return;
  const { values } = collectAttributes(service);
  renderAttributes(service);
  restoreAttributes(values);
}

function renderAttributes(service) {
  const container = $('attributes');
  container.replaceChildren();
  if (!service) return;
  for (const attr of sortedAttributes(service)) container.append(renderAttribute(attr));
}

function renderAttribute(attr) {
  const code = String(attr.code);
  const id = attrInputId(code);
  const errId = `err-attr-${id}`;
  const hintId = `hint-${id}`;
  const datatype = attr.datatype || 'string';
  const required = Boolean(attr.required) && attr.variable !== false;

  if (attr.variable === false) {
    return el('div', { className: 'field attribute-info', dataset: { attributeInfo: code } }, [
      el('p', { className: 'help info', text: attr.description || '' }),
    ]);
  }

  const wrapper = el('div', {
    className: 'field attribute',
    dataset: { field: `attributes.${code}`, attributeCode: code, datatype, required: String(required) },
  });
  const reqMark = required ? el('span', { className: 'req-mark', text: ` ${t('required')}` }) : null;
  const labelText = attr.description || humanize(code);
  const hint = attr.datatype_description
    ? el('p', { id: hintId, className: 'help', text: attr.datatype_description })
    : null;
  const error = el('p', { id: errId, className: 'field-error' });
  const describedBy = [hint ? hintId : null, errId].filter(Boolean).join(' ');
  const values = Array.isArray(attr.values) ? attr.values : [];

  if (datatype === 'multivaluelist') {
    const fieldset = el('fieldset', { className: 'checkbox-group', 'aria-describedby': describedBy });
    fieldset.append(el('legend', {}, [labelText, reqMark]));
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
        el('option', { value: '', text: t('what.choose') }),
        ...values.map((v) => el('option', { value: String(v.key), text: v.name || String(v.key) })),
      ]);
      break;
    case 'string':
    default:
      input = el('input', { ...common, type: 'text' });
      break;
  }
  wrapper.append(el('label', { for: id }, [labelText, reqMark]));
  if (hint) wrapper.append(hint);
  wrapper.append(input, error);
  return wrapper;
}

/** The answers to the chosen service's questions: { values, errors: [{ field, message }] }. */
export function collectAttributes(service) {
  const values = {};
  const errors = [];
  for (const attr of sortedAttributes(service)) {
    if (attr.variable === false) continue;
    const code = String(attr.code);
    const field = `attributes.${code}`;
    const name = attr.description || humanize(code);
    const required = Boolean(attr.required);
    if (attr.datatype === 'multivaluelist') {
      const checked = [...document.querySelectorAll(`#attributes input[type=checkbox][name="${CSS.escape(code)}"]:checked`)]
        .map((box) => box.value);
      if (checked.length) values[code] = checked;
      else if (required) errors.push({ field, message: t('error.choose_one', { name }) });
      continue;
    }
    const input = $(attrInputId(code));
    if (!input) continue;
    const raw = input.value.trim();
    if (raw === '') {
      if (input.type === 'number' && input.validity && input.validity.badInput) {
        errors.push({ field, message: t('error.number', { name }) });
      } else if (required) {
        errors.push({ field, message: t('error.answer', { name }) });
      }
      continue;
    }
    if (attr.datatype === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) errors.push({ field, message: t('error.number', { name }) });
      else values[code] = n;
    } else if (attr.datatype === 'datetime') {
      const d = new Date(raw);
      if (Number.isNaN(d.getTime())) errors.push({ field, message: t('error.datetime', { name }) });
      else values[code] = d.toISOString();
    } else {
      values[code] = raw;
    }
  }
  return { values, errors };
}

/** Puts answers back into the chosen service's fields (for a restored draft). */
export function restoreAttributes(values) {
  for (const [code, value] of Object.entries(values || {})) {
    if (Array.isArray(value)) {
      for (const box of document.querySelectorAll(`#attributes input[type=checkbox][name="${CSS.escape(code)}"]`)) {
        box.checked = value.includes(box.value);
      }
    } else {
      const input = $(attrInputId(code));
      if (input && input.type !== 'datetime-local') input.value = String(value);
    }
  }
}

/* Suggestions from the description ----------------------------------- */

const SUGGEST_DELAY_MS = 500;
const suggestState = { timer: null, token: 0 };

/** Asks which services the description's words mean, ~0.5 s after typing stops. */
function scheduleSuggestions() {
  clearTimeout(suggestState.timer);
  const typed = $('description').value.trim();
  const token = ++suggestState.token;
  if (typed.length < 4) {
    $('service-suggestions').hidden = true;
    return;
  }
  suggestState.timer = setTimeout(async () => {
    let suggestions = [];
    try {
      const { body } = await api(`/services/suggest?q=${encodeURIComponent(typed)}&lang=${encodeURIComponent(language())}`);
      suggestions = Array.isArray(body && body.suggestions) ? body.suggestions.slice(0, 3) : [];
    } catch {
      suggestions = []; // a convenience only
    }
    if (token !== suggestState.token) return;
    const chosen = chosenServiceCode();
    const shown = suggestions.filter((s) => catalogue.byCode.has(s.service_code) && s.service_code !== chosen);
    const box = $('service-suggestions');
    box.querySelector('ul').replaceChildren(...shown.map((s) => {
      const button = el('button', { type: 'button', className: 'btn btn-link', dataset: { serviceCode: s.service_code }, text: serviceName(s.service_code) });
      button.addEventListener('click', () => {
        chooseService(s.service_code);
        box.hidden = true;
        const radio = document.querySelector(`#service-list input[value="${CSS.escape(s.service_code)}"]`);
        if (radio) radio.focus();
      });
      return el('li', {}, [button]);
    }));
    box.hidden = shown.length === 0;
  }, SUGGEST_DELAY_MS);
}

export function initServices() {
  $('description').addEventListener('input', scheduleSuggestions);
  $('service-list').addEventListener('change', (event) => {
    if (event.target.name === 'service_code') changed();
  });
  $('service-search').addEventListener('input', filterServices);
  $('services-retry').addEventListener('click', loadServices);
}
