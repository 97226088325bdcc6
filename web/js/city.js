// The city the page serves, from GET /api/v1/city: its name, contact, languages, map and banner.

import { $ } from './dom.js';
import { language, setGlobals, setTimeZone, t } from './i18n.js';

/** What the page shows when the city cannot be read: a generic 311 in English. */
const UNKNOWN_CITY = {
  name: '311',
  short_name: '311',
  timezone: undefined,
  contact: { email: '', phone: '', website: '' },
  languages: ['en'],
  message_languages: [],
  emergency: {},
  map: null,
};

let current = UNKNOWN_CITY;

export async function loadCity() {
  try {
    const response = await fetch('/api/v1/city', { headers: { Accept: 'application/json' } });
    if (response.ok) current = await response.json();
  } catch {
    current = UNKNOWN_CITY;
  }
  if (!Array.isArray(current.languages) || !current.languages.length) current.languages = ['en'];
  setGlobals({ city: current.short_name || current.name, cityName: current.name });
  setTimeZone(current.timezone);
  return current;
}

export function city() {
  return current;
}

/** Puts the city's name, contact and emergency banner (in the page's language) into the page. */
export function showCity() {
  for (const node of document.querySelectorAll('[data-city="name"]')) node.textContent = current.name;
  for (const node of document.querySelectorAll('[data-city="short_name"]')) node.textContent = current.short_name;
  const banner = $('emergency');
  const emergency = current.emergency || {};
  const text = emergency[language()] || emergency[current.languages[0]] || '';
  banner.textContent = text;
  banner.hidden = !text;
  const contact = current.contact || {};
  const parts = [contact.phone, contact.email].filter(Boolean);
  $('footer-contact').textContent = parts.length ? t('footer.contact', { contact: parts.join(' · ') }) : '';
}
