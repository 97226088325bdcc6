// Photos and videos: checking the chosen files before sending, then uploading each with a
// progress bar once the report has its tracking number.

import { api, ApiError } from './api.js';
import { $, el, sentence } from './dom.js';
import { t, plural } from './i18n.js';

const MB = 1024 * 1024;
export const MEDIA_MAX_FILES = 5;

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

/** The type a file is sent as, or null when the City does not take it. */
export function mediaType(file) {
  const type = String(file.type || '').toLowerCase();
  if (MEDIA_KINDS[type]) return type;
  if (type && type !== 'application/octet-stream') return null;
  const m = String(file.name || '').toLowerCase().match(/\.([a-z0-9]+)$/);
  return (m && MEDIA_EXTENSIONS[m[1]]) || null;
}

export function formatSize(bytes) {
  if (bytes < 1024) return t('size.bytes', { n: bytes });
  if (bytes < MB) return t('size.kb', { n: Math.round(bytes / 1024) });
  return t('size.mb', { n: (bytes / MB).toFixed(1).replace(/\.0$/, '') });
}

/** The files chosen in the form (or kept with an offline draft). */
const chosen = { files: null };

export function chosenMedia() {
  return chosen.files || [...($('media').files || [])];
}

/** Files restored from an offline draft stand in for the file input's. */
export function useKeptFiles(files) {
  chosen.files = files && files.length ? files : null;
  renderChosenMedia(chosenMedia());
}

/** What stops the chosen files from being sent, as messages (none when all is well). */
export function checkMedia(files) {
  const problems = [];
  if (files.length > MEDIA_MAX_FILES) problems.push(t('media.too_many', { count: files.length, max: MEDIA_MAX_FILES }));
  let refusedType = false;
  for (const file of files) {
    const name = file.name;
    const type = mediaType(file);
    if (!type) {
      problems.push(t('media.not_taken', { name }));
      refusedType = true;
    } else if (file.size === 0) {
      problems.push(t('media.empty', { name }));
    } else if (file.size > MEDIA_KINDS[type].maxBytes) {
      const kind = MEDIA_KINDS[type];
      problems.push(t(kind.video ? 'media.video_too_big' : 'media.photo_too_big', { name, max: kind.maxBytes / MB, size: formatSize(file.size) }));
    }
  }
  if (refusedType) problems.push(t('media.accepted'));
  return problems;
}

export function renderChosenMedia(files) {
  const list = $('media-chosen');
  list.replaceChildren(...files.map((file) =>
    el('li', {}, [el('span', { className: 'media-name', text: file.name }), ` (${formatSize(file.size)})`])));
  list.hidden = files.length === 0;
}

const uploadState = {
  // Which batch of uploads owns the status line ("Report another problem" starts afresh).
  run: 0,
  // Files on their way to each report (tracking number -> count), so tracking re-checks until they show.
  expected: new Map(),
};

export function mediaExpected(requestId) {
  return uploadState.expected.get(requestId) || 0;
}

function expectMedia(requestId, change) {
  uploadState.expected.set(requestId, Math.max(0, mediaExpected(requestId) + change));
}

export function clearUploads() {
  uploadState.run++;
  chosen.files = null;
  $('uploads').hidden = true;
  $('upload-list').replaceChildren();
  $('upload-status').textContent = '';
}

function uploadItem(file) {
  const type = mediaType(file);
  const video = Boolean(type && MEDIA_KINDS[type].video);
  const progress = el('progress', { className: 'upload-progress', max: 1, value: 0, 'aria-label': t('uploads.progress', { name: file.name }), hidden: true });
  const outcome = el('p', { className: 'upload-outcome', tabindex: '-1', text: t('uploads.waiting') });
  const retry = el('button', {
    type: 'button',
    className: 'btn btn-secondary upload-retry',
    'aria-label': t('uploads.retry_label', { name: file.name }),
    text: t('uploads.retry'),
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
export function uploadMedia(requestId, token, files) {
  const run = uploadState.run;
  const items = files.map(uploadItem);
  $('upload-list').replaceChildren(...items.map((item) => item.node));
  $('uploads').hidden = false;
  if (!token) {
    // A repeated send of a report the server already had: only the first answer carries the token.
    for (const item of items) setUploadState(item, 'failed', t('uploads.already', { name: item.file.name }));
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
  setUploadState(item, 'uploading', t('uploads.uploading'));
  if (run === uploadState.run) {
    $('upload-status').textContent = items.length > 1
      ? t('uploads.status_of', { n: items.indexOf(item) + 1, total: items.length, name: file.name })
      : t('uploads.status', { name: file.name });
  }
  expectMedia(requestId, 1);
  const fail = (reason, canRetry) => {
    expectMedia(requestId, -1);
    setUploadState(item, 'failed', `${t('uploads.failed', { name: file.name })} ${reason}`, { canRetry });
  };

  let upload;
  try {
    const { body } = await api(`/requests/${encodeURIComponent(requestId)}/media`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token, content_type: item.type, size: file.size }),
    });
    upload = body && body.upload;
    if (!upload || typeof upload.url !== 'string') throw new ApiError(500, null, t('uploads.no_form'));
  } catch (err) {
    fail(mediaRefusal(err), err.status === 0 || err.status >= 500);
    return;
  }

  const sent = await sendToStorage(upload, file, item.progress);
  if (!sent.ok) {
    fail(sent.reason, sent.canRetry);
    return;
  }
  setUploadState(item, 'uploaded', t(item.video ? 'uploads.video_done' : 'uploads.photo_done'));
}

function mediaRefusal(err) {
  switch (err.code) {
    case 'unsupported_media_type':
      return t('media.accepted');
    case 'file_too_large':
      return t('uploads.too_big');
    case 'too_many_files':
      return t('uploads.full', { max: MEDIA_MAX_FILES });
    case 'forbidden':
      return t('uploads.forbidden');
    default:
      return sentence(err.message);
  }
}

/**
 * Posts the file with its upload form: every form field in the order given, then the file
 * last (as S3 requires), with the progress shown. Answers { ok } or { ok: false, reason, canRetry }.
 */
function sendToStorage(upload, file, progress) {
  let url;
  try {
    url = new URL(upload.url, location.href);
  } catch {
    url = null;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    return Promise.resolve({ ok: false, canRetry: false, reason: t('uploads.bad_address') });
  }
  const data = new FormData();
  const fields = upload.fields && typeof upload.fields === 'object' ? upload.fields : {};
  for (const [name, value] of Array.isArray(fields) ? fields : Object.entries(fields)) data.append(name, String(value));
  const fileField = typeof upload.file_field === 'string' && upload.file_field ? upload.file_field : 'file';
  data.append(fileField, file, file.name);

  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open('POST', url.href);
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) progress.value = event.loaded / event.total;
    });
    request.addEventListener('load', () => {
      if (request.status >= 200 && request.status < 300) {
        progress.value = 1;
        resolve({ ok: true });
      } else {
        resolve({ ok: false, canRetry: request.status !== 400, reason: storageRefusal(request.status, request.responseText) });
      }
    });
    request.addEventListener('error', () => resolve({ ok: false, canRetry: true, reason: t('uploads.connection') }));
    request.send(data);
  });
}

/** Why the file storage refused a file: the local runner answers JSON, S3 answers XML. */
function storageRefusal(status, text) {
  let reason = '';
  try {
    const body = JSON.parse(text);
    const error = body && body.error;
    if (typeof error === 'string') reason = error;
    else if (error && typeof error.message === 'string') reason = error.message;
  } catch {
    const xml = new DOMParser().parseFromString(text || '', 'application/xml');
    const message = xml.querySelector('Error > Message');
    reason = message ? message.textContent : '';
  }
  reason = reason.trim();
  if (!reason) return t('uploads.storage_status', { status });
  return t('uploads.storage_refused', { reason: sentence(reason) });
}

/** One line for the whole batch; the report itself was received either way. */
function summarizeUploads(items, run) {
  if (run !== uploadState.run) return;
  if (items.some((item) => item.state === 'uploading' || item.state === 'waiting')) return;
  const total = items.length;
  const done = items.filter((item) => item.state === 'uploaded').length;
  let text;
  if (done === total) text = plural('uploads.all_done', total);
  else if (done === 0) text = plural('uploads.none_done', total);
  else text = t('uploads.some_done', { done, total });
  $('upload-status').textContent = text;
}
