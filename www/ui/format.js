// @ts-check
// Formatting shared by the panels: short hashes, times, rates, counts.

/** The first `n` characters of a hash, or a dash. @param {string | null | undefined} h */
export const short = (h, n = 12) => (h ? h.slice(0, n) : '–');

// Times are formatted by hand, in the browser's time zone: toLocaleTimeString builds a new
// formatter per call (~10 % of a tab's initial sync when every inspector row had its time
// formatted), and making the first Intl formatter loads the locale's data, a task of 60 ms or
// more on the page's thread while it starts.
/** @param {number} n */
const two = (n) => String(n).padStart(2, '0');
/** A time of day, "14:03:27". @param {number} ms */
export const time = (ms) => {
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
};
/** A date and time, "2026-11-28 14:03:27". @param {number} ms */
export const dateTime = (ms) => {
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time(ms)}`;
};

/** A hash rate with its unit. @param {number} hps hashes per second */
export function rate(hps) {
  if (!hps) return '0 H/s';
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s'];
  let i = 0;
  while (hps >= 1000 && i < units.length - 1) { hps /= 1000; i++; }
  return `${hps.toFixed(hps < 10 ? 2 : 1)} ${units[i]}`;
}

/** "1 transaction", "3 transactions". @param {number} n @param {string} one @param {string} [many] */
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Runs `fn` at most once per `ms`, always after the last call (trailing edge).
 *  @param {() => unknown} fn @param {number} ms @returns {() => void} */
export function throttle(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let again = false;
  const run = async () => {
    again = false;
    try { await fn(); } catch (e) { console.error(e); }
    timer = again ? setTimeout(run, ms) : null;
  };
  return () => {
    if (timer) { again = true; return; }
    timer = setTimeout(run, ms);
  };
}

/** How long ago, in words: "just now", "12 s ago", "3 min ago", "2 h ago". @param {number} ms */
export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}
