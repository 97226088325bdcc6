// Messages and dates in the resident's language: English and Spanish carried in /i18n/, any
// language or replacement the city folder adds from /api/v1/city/messages/{lang}, dates in the
// city's time zone.

const BUILT_IN = ['en', 'es'];
const STORED_CHOICE = 'cityfix.language';

const state = {
  language: 'en',
  messages: {},
  globals: {},
  timeZone: undefined,
  listeners: [],
};

/** The message `key` with `{name}` filled from params (and the city's name as `{city}`). */
export function t(key, params = {}) {
  const text = Object.prototype.hasOwnProperty.call(state.messages, key) ? state.messages[key] : key;
  const values = { ...state.globals, ...params };
  return String(text).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** `key.one`, `key.other` (or the language's other plural forms) for a count. */
export function plural(key, count, params = {}) {
  let form = 'other';
  try {
    form = new Intl.PluralRules(state.language).select(count);
  } catch {
    form = count === 1 ? 'one' : 'other';
  }
  const chosen = Object.prototype.hasOwnProperty.call(state.messages, `${key}.${form}`) ? `${key}.${form}` : `${key}.other`;
  return t(chosen, { count, ...params });
}

export function language() {
  return state.language;
}

/** Values every message may use, such as the city's name. */
export function setGlobals(globals) {
  Object.assign(state.globals, globals);
}

export function setTimeZone(timeZone) {
  state.timeZone = timeZone;
}

/** Calls `listener` after every change of language (not on the first). */
export function onLanguageChange(listener) {
  state.listeners.push(listener);
}

/** The stored choice, else the first browser language offered (exactly or by its first part), else the city's own. */
export function pickLanguage(offered, browser = navigator.languages || [navigator.language]) {
  let stored = null;
  try {
    stored = localStorage.getItem(STORED_CHOICE);
  } catch {
    stored = null;
  }
  if (stored && offered.includes(stored)) return stored;
  for (const wanted of browser || []) {
    if (!wanted) continue;
    if (offered.includes(wanted)) return wanted;
    const primary = wanted.split('-')[0].toLowerCase();
    const match = offered.find((code) => code.split('-')[0].toLowerCase() === primary);
    if (match) return match;
  }
  return offered[0] || 'en';
}

/** The language's own name for itself ("English", "Español"). */
export function languageName(code) {
  try {
    const name = new Intl.DisplayNames([code], { type: 'language' }).of(code);
    return name ? name.charAt(0).toLocaleUpperCase(code) + name.slice(1) : code;
  } catch {
    return code;
  }
}

async function fetchMessages(url) {
  try {
    const response = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!response.ok) return {};
    const body = await response.json();
    return body && typeof body === 'object' && !Array.isArray(body) ? body : {};
  } catch {
    return {};
  }
}

/**
 * Loads and applies a language: English underneath (so nothing is ever blank), then the city's
 * own language, then the one chosen; each the page's file, then the city folder's.
 */
export async function useLanguage(code, city, { remember = false } = {}) {
  const offered = (city && city.languages) || ['en'];
  const cityMessages = new Set((city && city.message_languages) || []);
  const chain = [...new Set(['en', offered[0], code].filter(Boolean))];
  const layers = await Promise.all(chain.map(async (lang) => {
    const own = BUILT_IN.includes(lang) ? await fetchMessages(`/i18n/${lang}.json`) : {};
    const city = cityMessages.has(lang) ? await fetchMessages(`/api/v1/city/messages/${encodeURIComponent(lang)}`) : {};
    return { ...own, ...city };
  }));
  const first = state.listeners.length > 0 && state.language !== code;
  state.language = code;
  state.messages = Object.assign({}, ...layers);
  document.documentElement.lang = code;
  if (remember) {
    try {
      localStorage.setItem(STORED_CHOICE, code);
    } catch {
      /* private mode: the choice lasts this page only */
    }
  }
  applyTranslations(document);
  if (first || remember) for (const listener of state.listeners) listener(code);
}

/** Fills `data-i18n` elements' text and `data-i18n-attr="attr:key;…"` attributes. */
export function applyTranslations(root) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of node.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** A date and time as the city's clock shows it, in the resident's language. */
export function formatDateTime(value) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  try {
    return new Intl.DateTimeFormat(state.language, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
      timeZone: state.timeZone,
      timeZoneName: 'short',
    }).format(date);
  } catch {
    return date.toLocaleString();
  }
}

/** A day as the city's calendar shows it ("Friday, December 4, 2026"). */
export function formatDate(value) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  try {
    return new Intl.DateTimeFormat(state.language, { dateStyle: 'full', timeZone: state.timeZone }).format(date);
  } catch {
    return date.toDateString();
  }
}
