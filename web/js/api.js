// The web API: JSON calls with the server's error object turned into an ApiError.

import { t } from './i18n.js';

export const API = '/api/v1';

/** An error carrying the API's error object (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, body, fallback) {
    const err = body && typeof body === 'object' && body.error ? body.error : null;
    super((err && err.message) || fallback || t('error.status', { status }));
    this.status = status;
    this.code = err && err.code ? err.code : null;
    this.field = err && err.field ? err.field : null;
  }
}

export async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(API + path, {
      ...options,
      headers: { Accept: 'application/json', ...(options.headers || {}) },
    });
  } catch {
    throw new ApiError(0, null, t('error.offline'));
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

export function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // Old browsers and non-secure contexts: a random v4-style UUID.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
