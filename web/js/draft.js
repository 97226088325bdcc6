// A report that could not be sent for want of a connection is kept on the phone (IndexedDB,
// photos included) and sent when the phone is back online: by this page on its "online" event,
// or when the service worker's background sync wakes it.

import { $ } from './dom.js';
import { t } from './i18n.js';
import { onOffline, sendReport } from './report.js';

const DB = 'cityfix';
const STORE = 'drafts';
const DRAFT = 'report';

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, act) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request && request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const readDraft = () => withStore('readonly', (store) => store.get(DRAFT));
const writeDraft = (draft) => withStore('readwrite', (store) => store.put(draft, DRAFT));
const dropDraft = () => withStore('readwrite', (store) => store.delete(DRAFT));

let sending = false;

function showNotice(text) {
  const notice = $('draft-notice');
  notice.textContent = text;
  notice.hidden = !text;
}

/** Keeps the report, says so, and asks the service worker to wake the page once online. */
async function keep(body, files, key) {
  const kept = files.map((file) => ({ name: file.name, type: file.type, blob: file }));
  await writeDraft({ body, files: kept, key, saved_at: new Date().toISOString() });
  showNotice(t('draft.kept'));
  try {
    const registration = await navigator.serviceWorker.ready;
    if (registration.sync) await registration.sync.register('send-draft');
  } catch {
    /* no background sync: the page's "online" event sends it */
  }
}

/** Sends the kept report, if there is one and the phone is online; keeps it if that fails. */
export async function sendKeptDraft() {
  if (sending || navigator.onLine === false) return;
  // Set before the first await: the "online" event and the service worker's wake-up come together.
  sending = true;
  let draft;
  try {
    draft = await readDraft();
  } catch {
    draft = null;
  }
  if (!draft) {
    sending = false;
    return;
  }
  showNotice(t('draft.sending'));
  try {
    const files = (draft.files || []).map((f) => new File([f.blob], f.name, { type: f.type }));
    await sendReport(draft.body, files, draft.key);
    await dropDraft();
  } catch (err) {
    if (err.status >= 400 && err.status < 500) {
      // The City refused it as it stands: nothing was created, so nothing is kept to resend.
      await dropDraft();
      showNotice(t('draft.refused', { reason: err.message }));
    } else {
      showNotice(t('draft.kept'));
    }
  } finally {
    sending = false;
  }
}

export function initDraft() {
  if (!('indexedDB' in window)) return;
  onOffline(keep);
  window.addEventListener('online', sendKeptDraft);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data === 'send-draft') sendKeptDraft();
    });
  }
}
