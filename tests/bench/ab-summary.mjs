// Medians and ranges of what tests/bench/ab-page.sh printed, per build:
//   bash tests/bench/ab-page.sh ... | tee ab.log; node tests/bench/ab-summary.mjs ab.log
// Reads the lines "round N A|B {json}" (other lines are skipped) and prints, for each build,
// each figure's median and [lowest, highest] over the rounds.
import { readFileSync } from 'node:fs';

/** The figures summarised, as sync.mjs names them. */
const FIGURES = ['initial_sync_ms', 'page_task_ms', 'page_script_ms', 'page_layout_ms', 'long_task_max_ms',
  'long_tasks', 'sync_long_task_max_ms', 'sync_long_tasks', 'click_p50_ms', 'click_max_ms'];

const file = process.argv[2];
if (!file) {
  console.error('usage: node tests/bench/ab-summary.mjs AB_LOG');
  process.exit(2);
}

/** @type {Map<string, Record<string, number>[]>} */
const builds = new Map();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = /^round \d+ (\S+) (\{.*\})\s*$/.exec(line);
  if (!m) continue;
  let row;
  try { row = JSON.parse(m[2]); } catch { continue; }
  if (!builds.has(m[1])) builds.set(m[1], []);
  builds.get(m[1])?.push(row);
}

/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (const [build, rows] of builds) {
  const parts = [];
  for (const f of FIGURES) {
    const xs = rows.map((r) => r[f]).filter((x) => typeof x === 'number' && Number.isFinite(x));
    if (xs.length) parts.push(`${f} ${Math.round(median(xs))} [${Math.min(...xs)}, ${Math.max(...xs)}] (${xs.length})`);
  }
  console.log(`${build}: ${rows.length} rounds; ${parts.join('; ')}`);
}
