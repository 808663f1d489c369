// Checks the shape of each crate's modules, the two rules that keep the folder list a table of
// contents:
//   1. no import circle: among a crate's top-level modules, and among the files of each folder,
//      the `use crate::…` / `super::…` references form no cycle (a folder's mod.rs coordinates
//      its children, so references between a child and its own parent do not count);
//   2. no source file over MAX_LINES lines of non-test code (its `#[cfg(test)] mod tests` block
//      and its test-only items do not count).
//   node scripts/module-shape.mjs [--graph]     (--graph prints every edge)
// Exits 1 and names the cycle or the file when a rule is broken.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const MAX_LINES = 800;
const CRATES = ['node-core/src', 'relay-server/src', 'node-wasm/src'];
const root = join(import.meta.dirname, '..');
const showGraph = process.argv.includes('--graph');

function rustFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return rustFiles(path);
    return name.endsWith('.rs') ? [path] : [];
  });
}

/** The module path of a file, as a list: src/node/sync.rs → ['node', 'sync'], src/lib.rs → []. */
function modulePath(src, file) {
  const parts = relative(src, file).split(sep);
  const last = parts.pop().replace(/\.rs$/, '');
  if (last !== 'mod' && last !== 'lib' && last !== 'main') parts.push(last);
  return parts;
}

/** The source without comments, string literals and `#[cfg(test)]` modules. */
function codeOf(text) {
  const noComments = text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return withoutTests(noComments);
}

/** Cuts every `#[cfg(test)]` item (a module or a function) out of the text. */
function withoutTests(text) {
  let out = '';
  let i = 0;
  for (;;) {
    const at = text.indexOf('#[cfg(test)]', i);
    if (at < 0) return out + text.slice(i);
    out += text.slice(i, at);
    const open = text.indexOf('{', at);
    const semi = text.indexOf(';', at);
    if (open < 0 || (semi >= 0 && semi < open)) {
      i = semi < 0 ? text.length : semi + 1;
      continue;
    }
    let depth = 0;
    let j = open;
    for (; j < text.length; j++) {
      if (text[j] === '{') depth++;
      else if (text[j] === '}' && --depth === 0) break;
    }
    i = j + 1;
  }
}

/** Module paths this file's code refers to (absolute, as lists). */
function references(mod, code) {
  const refs = [];
  for (const m of code.matchAll(/\bcrate((?:::[a-z_][a-z0-9_]*)+)/g)) {
    refs.push(m[1].split('::').slice(1));
  }
  // `crate::{a::X, b}` groups.
  for (const m of code.matchAll(/\bcrate::\{([^}]*)\}/g)) {
    for (const item of m[1].split(',')) {
      const head = item.trim().split('::')[0];
      if (/^[a-z_][a-z0-9_]*$/.test(head)) refs.push([head]);
    }
  }
  for (const m of code.matchAll(/((?:\bsuper::)+)([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)/g)) {
    const ups = m[1].split('super::').length - 1;
    // A file's module is `mod`; super of src/node/sync.rs is node.
    const base = mod.slice(0, Math.max(0, mod.length - ups));
    refs.push([...base, ...m[2].split('::')]);
  }
  return refs;
}

let failed = false;
for (const crate of CRATES) {
  const src = join(root, crate);
  const files = rustFiles(src);
  const modules = new Map(files.map((f) => [modulePath(src, f).join('::'), f]));
  // Edges between siblings: for a reference from module A to module B, the first point where
  // their paths part gives the two siblings (a parent and its child never part).
  const edges = new Map();
  for (const file of files) {
    const mod = modulePath(src, file);
    const code = codeOf(readFileSync(file, 'utf8'));
    const lines = code.split('\n').filter((l) => l.trim() !== '').length;
    if (lines > MAX_LINES) {
      console.error(`${relative(root, file)}: ${lines} lines of non-test code (at most ${MAX_LINES})`);
      failed = true;
    }
    for (const target of references(mod, code)) {
      // Only references to modules of this crate (the longest existing prefix).
      let to = target.length;
      while (to > 0 && !modules.has(target.slice(0, to).join('::'))) to--;
      if (to === 0) continue;
      const dest = target.slice(0, to);
      let k = 0;
      while (k < mod.length && k < dest.length && mod[k] === dest[k]) k++;
      if (k === mod.length || k === dest.length) continue;
      const from = mod.slice(0, k + 1).join('::');
      const toSibling = dest.slice(0, k + 1).join('::');
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from).add(toSibling);
    }
  }
  if (showGraph) {
    for (const [from, tos] of [...edges].sort()) console.log(`${crate}: ${from} -> ${[...tos].sort().join(', ')}`);
  }
  for (const cycle of cycles(edges)) {
    console.error(`${crate}: modules in an import circle: ${cycle.join(", ")}`);
    failed = true;
  }
}
if (failed) process.exit(1);
console.log(`module shape: no import circles, no file over ${MAX_LINES} lines of non-test code`);

/** The strongly connected components with more than one module (Tarjan). */
function cycles(edges) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.reverse());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}
