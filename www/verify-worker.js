// Signature worker: checks ECDSA P-256 signatures with WebCrypto (BoringSSL's native code)
// for the node's driver, so a download's 60,000 checks run beside validation instead of
// in wasm on the page's thread (node-wasm/src/verifier.rs says why and which rules).
//
// Message in:  {id, checks: Uint8Array}  n records of 161 bytes: uncompressed key (65),
//              r ‖ s (64), the 32-byte message that SHA-256 is applied to
// Message out: {id, ok}                  ok: every signature holds
const KEY = 65;
const RECORD = 65 + 64 + 32;
const CURVE = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA = { name: 'ECDSA', hash: 'SHA-256' };
const MAX_KEYS = 4096;

// Imported keys by their bytes (as a string), kept as promises so concurrent requests share
// one import.
const keys = new Map();

function importKey(raw) {
  const name = String.fromCharCode.apply(null, raw);
  let key = keys.get(name);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = crypto.subtle.importKey('raw', raw, CURVE, false, ['verify']);
    keys.set(name, key);
  }
  return key;
}

self.onmessage = async ({ data }) => {
  const { id, checks } = data;
  try {
    const results = [];
    for (let o = 0; o + RECORD <= checks.length; o += RECORD) {
      const raw = checks.subarray(o, o + KEY);
      const signature = checks.subarray(o + KEY, o + KEY + 64);
      const message = checks.subarray(o + KEY + 64, o + RECORD);
      results.push(importKey(raw).then((k) => crypto.subtle.verify(ECDSA, k, signature, message)));
    }
    const all = await Promise.all(results);
    postMessage({ id, ok: all.length > 0 && all.every(Boolean) });
  } catch (e) {
    postMessage({ id, ok: false, error: String(e) });
  }
};
