// Which asset the problem is about (a streetlight pole), for the services the city keeps an asset
// layer for: the assets nearest the place, as a list of choices (the accessible way) and as dots on
// the map to tap. The report then names the asset (asset_id); with no choice the city takes the
// nearest within the service's distance, or none.

import { api } from './api.js';
import { $, el } from './dom.js';
import { t } from './i18n.js';
import { chosenService, onServiceChange } from './services.js';
import { currentPoint, onPlaceChange, placeMap } from './location.js';

// How far around the place assets are offered, and how many.
const AROUND_M = 150;
const OFFERED = 8;

const picked = {
  assets: [],
  chosen: '',
  dots: null,
  asking: 0,
};

/** The asset the resident chose, or '' (none, or not sure). */
export function chosenAsset() {
  const service = chosenService();
  return service && service.assets ? picked.chosen : '';
}

function choose(id) {
  picked.chosen = id;
  for (const input of document.querySelectorAll('#asset-choices input[name="asset_id"]')) {
    input.checked = input.value === id;
  }
  drawDots();
}

function distance(asset) {
  return typeof asset.distance_m === 'number' ? t('asset.distance', { m: Math.round(asset.distance_m) }) : '';
}

function render() {
  const box = $('asset-picker');
  const choices = $('asset-choices');
  if (!picked.assets.length) {
    box.hidden = true;
    choices.replaceChildren();
    return;
  }
  const option = (value, text, detail) => {
    const id = `asset-${value || 'none'}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const input = el('input', { type: 'radio', name: 'asset_id', id, value, checked: picked.chosen === value });
    input.addEventListener('change', () => choose(value));
    return el('div', { className: 'service-option' }, [
      input,
      el('label', { for: id }, [el('span', { text }), detail ? el('span', { className: 'help', text: ` ${detail}` }) : null].filter(Boolean)),
    ]);
  };
  choices.replaceChildren(
    ...picked.assets.map((asset) => option(asset.id, asset.label || asset.id, distance(asset))),
    option('', t('asset.none'), ''),
  );
  box.hidden = false;
}

function drawDots() {
  const L = window.L;
  const map = placeMap();
  if (picked.dots) {
    picked.dots.remove();
    picked.dots = null;
  }
  if (!L || !map || !picked.assets.length) return;
  picked.dots = L.layerGroup(
    picked.assets.map((asset) => {
      const chosen = asset.id === picked.chosen;
      const dot = L.circleMarker([asset.lat, asset.long], {
        radius: chosen ? 9 : 6,
        color: chosen ? '#1d4f91' : '#7a5c00',
        weight: 2,
        fillColor: chosen ? '#1d4f91' : '#f2c230',
        fillOpacity: 0.9,
        keyboard: false,
        bubblingMouseEvents: false,
      });
      dot.on('click', () => choose(asset.id));
      return dot;
    }),
  ).addTo(map);
  for (const node of map.getContainer().querySelectorAll('path.leaflet-interactive')) node.setAttribute('tabindex', '-1');
}

async function refresh() {
  const service = chosenService();
  const point = currentPoint();
  const asking = ++picked.asking;
  if (!service || !service.assets || !point) {
    picked.assets = [];
    picked.chosen = '';
    render();
    drawDots();
    return;
  }
  const query = `lat=${point.lat}&long=${point.long}&radius=${AROUND_M}`;
  let assets = [];
  try {
    const { status, body } = await api(`/services/${encodeURIComponent(service.service_code)}/assets?${query}`);
    if (status === 200 && body && Array.isArray(body.assets)) assets = body.assets.slice(0, OFFERED);
  } catch {
    /* offline: the report goes without naming an asset, and the city takes the nearest */
  }
  if (asking !== picked.asking) return;
  picked.assets = assets;
  if (!assets.some((asset) => asset.id === picked.chosen)) picked.chosen = '';
  render();
  drawDots();
}

/** Draws the choices again in the page's language. */
export function renderAssetsAgain() {
  render();
}

export function initAssets() {
  onServiceChange(() => void refresh());
  onPlaceChange(() => void refresh());
}
