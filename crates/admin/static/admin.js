// The staff application's enhancements: attaching a photo of the work to a status change or a
// note, filling in a response template's wording in place, and laying the city's map tiles under
// the queue's map. Without this script the pages work, the photo fields stay hidden, a wording is
// filled in by reloading the page and the map shows its plain shapes.
const csrf = () => document.querySelector('input[name="csrf"]')?.value ?? '';

async function post(url, fields) {
  const body = new URLSearchParams({ csrf: csrf(), ...fields });
  const answer = await fetch(url, { method: 'POST', body, credentials: 'same-origin' });
  const json = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(json?.error?.message ?? `refused (${answer.status})`);
  return json;
}

async function waitUntilChecked(mediaId, say) {
  for (let i = 0; i < 60; i += 1) {
    const answer = await fetch(`/api/v1/media/${encodeURIComponent(mediaId)}`);
    const state = await answer.json().catch(() => ({}));
    if (state.state === 'ready') return;
    if (state.state === 'rejected') throw new Error(state.reason ?? 'the file was refused');
    say('Checking the photo…');
    await new Promise((done) => setTimeout(done, 1000));
  }
  throw new Error('the photo was not checked in time; try again');
}

function enhance(form) {
  const box = form.querySelector('.photo-attach');
  const input = box?.querySelector('input[type=file]');
  if (!box || !input) return;
  box.hidden = false;
  const state = box.querySelector('.photo-state');
  const submit = form.querySelector('button[type=submit]');
  const say = (text) => { state.textContent = text; };
  input.addEventListener('change', async () => {
    form.querySelectorAll('input[name="media"]').forEach((old) => old.remove());
    const file = input.files?.[0];
    if (!file) return;
    submit.disabled = true;
    try {
      say('Uploading the photo…');
      const request = input.dataset.request;
      const asked = await post(`/admin/requests/${encodeURIComponent(request)}/media-form`, {
        content_type: file.type, size: String(file.size),
      });
      const { upload } = asked;
      const data = new FormData();
      for (const [name, value] of Object.entries(upload.fields ?? {})) data.append(name, value);
      data.append(upload.file_field ?? 'file', file);
      const sent = await fetch(upload.url, { method: 'POST', body: data });
      if (!sent.ok) throw new Error(`the upload was refused (${sent.status})`);
      await waitUntilChecked(asked.media_id, say);
      const field = document.createElement('input');
      field.type = 'hidden'; field.name = 'media'; field.value = asked.media_id;
      form.append(field);
      // Attaching the photo moved the request on a version; this form acts on the new one.
      const version = form.querySelector('input[name="version"]');
      if (version) {
        const answer = await fetch(`/admin/requests/${encodeURIComponent(request)}/version`, { credentials: 'same-origin' });
        const current = await answer.json().catch(() => ({}));
        if (answer.ok && current.version != null) version.value = String(current.version);
      }
      say('Photo ready; it goes with this form.');
    } catch (error) {
      say(`The photo could not be added: ${error.message}`);
      input.value = '';
    } finally {
      submit.disabled = false;
    }
  });
}

document.querySelectorAll('form[data-photo-target]').forEach(enhance);

// A response template's wording goes into its note as soon as it is picked (without this script,
// "Use this wording" reloads the page with it filled in).
document.querySelectorAll('select[data-fill]').forEach((select) => {
  const note = document.getElementById(select.dataset.fill);
  if (!note) return;
  select.addEventListener('change', () => {
    const text = select.selectedOptions[0]?.dataset.text;
    if (text) note.value = text;
  });
});

// The queue's map is drawn in Web Mercator pixels at one zoom, so the city's slippy-map tiles go
// under its shapes as they are: each tile that meets the drawing, at its place. A tile that does
// not load leaves the plain shapes, which are drawn either way.
const SVG = 'http://www.w3.org/2000/svg';
const TILE = 256;
document.querySelectorAll('svg.queue-map[data-tile-url]').forEach((map) => {
  const { tileUrl, zoom, originX, originY } = map.dataset;
  const [, , width, height] = map.getAttribute('viewBox').split(' ').map(Number);
  const [ox, oy, z] = [Number(originX), Number(originY), Number(zoom)];
  const layer = map.querySelector('g.tiles');
  if (!layer || ![ox, oy, z, width, height].every(Number.isFinite)) return;
  const last = 2 ** z - 1;
  const credit = document.querySelector('.map-credit');
  for (let ty = Math.floor(oy / TILE); ty <= Math.floor((oy + height) / TILE); ty += 1) {
    for (let tx = Math.floor(ox / TILE); tx <= Math.floor((ox + width) / TILE); tx += 1) {
      if (tx < 0 || ty < 0 || tx > last || ty > last) continue;
      const image = document.createElementNS(SVG, 'image');
      image.setAttribute('href', tileUrl.replace('{z}', z).replace('{x}', tx).replace('{y}', ty).replace('{s}', 'a').replace('{r}', ''));
      image.setAttribute('x', String(tx * TILE - ox));
      image.setAttribute('y', String(ty * TILE - oy));
      image.setAttribute('width', String(TILE));
      image.setAttribute('height', String(TILE));
      // Shown once loaded; a tile that fails is taken away, so no broken image covers the shapes.
      image.addEventListener('load', () => {
        image.classList.add('loaded');
        map.classList.add('with-tiles');
        if (credit) credit.hidden = false;
      }, { once: true });
      image.addEventListener('error', () => image.remove(), { once: true });
      layer.append(image);
    }
  }
});
