// @ts-check
// Building the DOM: elements, the banner, the event log, copying to the clipboard.
import { time } from './format.js';

// The page's static skeleton (index.html) has every element these look up by id.
/** An element by id, typed as an input (the widest kind: value, disabled, checked).
 *  @param {string} id @returns {HTMLInputElement} */
export const $ = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
/** A <select> by id. @param {string} id */
export const $select = (id) => /** @type {HTMLSelectElement} */ (document.getElementById(id));
/** A <progress> by id. @param {string} id */
export const $progress = (id) => /** @type {HTMLProgressElement} */ (document.getElementById(id));

/** Sets an element's text only when it differs: setting the same text still replaces the
 *  text node, which makes the browser lay that part of the page out again.
 *  @param {HTMLElement} e @param {string} text */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/** @typedef {string | Node | null | undefined} Child */

/**
 * A new element: `class`, `text`, `on<event>` and other attributes, then children.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
/** A new SVG element. @param {string} tag @param {Record<string, string | number>} attrs */
export function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Shows `text` above the panels (hides the banner when empty). @param {string} text */
export function banner(text, bad = false) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
  b.classList.toggle('bad', bad);
}

/** Adds a line to the event log (the newest 200 are kept). @param {string} text */
export function log(text) {
  const list = $('log');
  list.prepend(el('li', {}, el('time', { text: time(Date.now()) }), text));
  while (list.children.length > 200) list.lastChild?.remove();
}

/** Copies `text`, and says so on `button` for a moment. @param {string} text @param {HTMLElement} button */
export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = /** @type {HTMLTextAreaElement} */ (el('textarea', {}, text));
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  const was = button.textContent;
  button.textContent = 'copied';
  setTimeout(() => { button.textContent = was; }, 900);
}

/** A "copy" button for `text`. @param {string} text @param {string} [testid] */
export function copyButton(text, testid) {
  const b = el('button', { type: 'button', class: 'copy', 'data-testid': testid, text: 'copy' });
  b.addEventListener('click', () => copy(text, b));
  return b;
}

/** The message of a thrown value. @param {unknown} e */
export const message = (e) => (e instanceof Error ? e.message : String(e));
