// @ts-check
// Links within the page: every block hash, txid and address opens its view in the explorer
// (#block/<hash>, #tx/<txid>, #address/<address>); addresses carry their identicon and are
// marked when they are this wallet's.
import { el, svgEl } from './dom.js';
import { short } from './format.js';

/** @param {string} hash @param {string} [text] */
export const blockLink = (hash, text = hash) =>
  el('a', { href: `#block/${hash}`, class: 'hash', 'data-testid': 'block-link', title: hash, text });

/** @param {string} txid @param {string} [text] */
export const txLink = (txid, text = txid) =>
  el('a', { href: `#tx/${txid}`, class: 'hash', 'data-testid': 'tx-link', title: txid, text });

/** An address with its picture, linked to its history; "yours" when `mine`.
 *  @param {string} address @param {boolean} mine @param {number} [cut] characters shown (all by default) */
export function addressLink(address, mine, cut) {
  return el('span', { class: `addr${mine ? ' mine' : ''}` },
    identicon(address),
    el('a', { href: `#address/${address}`, class: 'hash', 'data-testid': 'address-link', title: address, text: cut ? `${short(address, cut)}…` : address }),
    mine ? el('span', { class: 'tag yours', text: 'yours' }) : null);
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** The bytes a Base58 string encodes (null if it is not Base58). @param {string} text */
export function base58Bytes(text) {
  let n = 0n;
  for (const c of text) {
    const d = BASE58.indexOf(c);
    if (d < 0) return null;
    n = n * 58n + BigInt(d);
  }
  const bytes = [];
  while (n > 0n) { bytes.unshift(Number(n & 255n)); n >>= 8n; }
  for (const c of text) { if (c !== '1') break; bytes.unshift(0); }
  return bytes;
}

/** Cells on a side of the picture (the left three columns are mirrored to the right). */
const GRID = 5;

/**
 * A small picture of an address: a 5×5 symmetric pattern and a colour drawn from the bytes
 * of its public-key hash (Base58 version byte and checksum left out), so that two addresses
 * that look alike in text look different here.
 * @param {string} address
 */
export function identicon(address) {
  const bytes = base58Bytes(address) || [];
  const hash = bytes.length === 25 ? bytes.slice(1, 21) : bytes;
  const at = (/** @type {number} */ i) => hash.length ? hash[i % hash.length] : 0;
  const hue = ((at(0) << 8) | at(1)) % 360;
  const svg = svgEl('svg', { viewBox: `0 0 ${GRID} ${GRID}`, width: 16, height: 16, class: 'identicon', 'aria-hidden': 'true' });
  svg.append(svgEl('rect', { width: GRID, height: GRID, fill: `hsl(${hue} 60% 94%)` }));
  const fill = `hsl(${hue} 55% 42%)`;
  for (let y = 0; y < GRID; y++) {
    for (let x = 0; x < 3; x++) {
      const bit = y * 3 + x;
      if (!((at(2 + (bit >> 3)) >> (bit & 7)) & 1)) continue;
      svg.append(svgEl('rect', { x, y, width: 1, height: 1, fill }));
      if (x < 2) svg.append(svgEl('rect', { x: GRID - 1 - x, y, width: 1, height: 1, fill }));
    }
  }
  return svg;
}
