// DOM helpers: building nodes from data (never from HTML) and finding them by id.

export const $ = (id) => document.getElementById(id);

/** A new element with properties, attributes and children; text goes in as text. */
export function el(tag, props = {}, children = []) {
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

/** "some_code" -> "Some code", for codes the catalogue gives no words for. */
export function humanize(value) {
  const s = String(value).replace(/[_-]/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Shortens text to about `max` characters, at a word boundary when one is near. */
export function excerpt(text, max) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s.,;:!?-]+$/, '')}…`;
}

/** Text with its http(s) addresses as links, as DOM nodes; trailing punctuation stays text. */
export function linkifiedText(text) {
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

/** "Some text" -> "Some text." with a capital letter, for the server's short reasons. */
export function sentence(text) {
  const s = String(text || '').trim();
  if (!s) return '';
  const capital = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function trackHref(id) {
  return `#/requests/${encodeURIComponent(id)}`;
}
