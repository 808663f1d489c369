// What the page's long main-thread tasks are made of, from a Chrome trace (CDP Tracing,
// devtools.timeline categories): used by sync.mjs --trace FILE.
//   node tests/bench/long-tasks.mjs TRACE.json     (a trace sync.mjs saved)
// For every task of the page's main thread (CrRendererMain) over LONG_TASK_MS it prints the
// task's length and what took its time: script by function (FunctionCall, with its source
// place), style, layout, paint, message events from the node's worker; then the same summed
// over all long tasks. Each task also shows its thread time (the trace's `tdur`: CPU time of
// the page's thread in it): on a loaded machine a task's wall time is mostly waiting for a
// core, and the thread time is what the page itself asked of the CPU.
import { readFileSync } from 'node:fs';

/** A task the longtask API reports: longer than this. */
export const LONG_TASK_MS = 50;
/** Parts shown per task. */
const PARTS_SHOWN = 8;

/** The events of the page's main thread, the longest renderer's main thread when there are
 *  several (the relay's page is the busiest one). @param {any[]} events */
function mainThread(events) {
  const mains = events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  let best = null;
  let bestBusy = -1;
  for (const m of mains) {
    const busy = events.filter((e) => e.pid === m.pid && e.tid === m.tid && e.name === 'RunTask')
      .reduce((n, e) => n + (e.dur || 0), 0);
    if (busy > bestBusy) { best = m; bestBusy = busy; }
  }
  if (!best) return [];
  return events.filter((e) => e.pid === best.pid && e.tid === best.tid && e.ph === 'X');
}

/** A name for what a timeline event did. @param {any} e */
function label(e) {
  const d = e.args?.data ?? {};
  if (e.name === 'FunctionCall') {
    const file = String(d.url || '').split('/').pop();
    return `script ${d.functionName || '(anonymous)'} ${file}:${d.lineNumber ?? '?'}`;
  }
  if (e.name === 'EventDispatch') return `event ${d.type}`;
  if (e.name === 'TimerFire') return 'timer';
  if (e.name === 'FireAnimationFrame') return 'animation frame';
  return e.name;
}

/** Names whose time counts as the task's own parts (the others nest inside them). */
const PARTS = new Set(['FunctionCall', 'Layout', 'UpdateLayoutTree', 'Paint', 'PrePaint', 'Layerize',
  'ParseHTML', 'ParseAuthorStyleSheet', 'EvaluateScript', 'v8.compile', 'MajorGC', 'MinorGC',
  'V8.GC_SCAVENGER', 'HitTest', 'IntersectionObserverController::computeIntersections', 'UpdateLayer',
  'MessageEvent::Create', 'v8.deserialize', 'ScheduleStyleRecalculation', 'InvalidateLayout']);

/** The main thread's tasks of a trace. @param {any[]} events */
const tasksOf = (events) => mainThread(events).filter((e) => e.name === 'RunTask');

/** The main thread's task with the most thread (CPU) time: [cpu ms, wall ms].
 *  @param {any[]} events @returns {[number, number]} */
export function busiestTask(events) {
  const t = tasksOf(events).reduce((a, b) => ((b.tdur ?? 0) > (a?.tdur ?? 0) ? b : a), null);
  return t ? [(t.tdur ?? 0) / 1000, t.dur / 1000] : [0, 0];
}

/** The long tasks of a trace, each with its parts (ms), longest first.
 *  @param {any[]} events @returns {{start: number, ms: number, cpu: number, parts: [string, number][]}[]} */
export function longTasks(events) {
  const thread = mainThread(events).sort((a, b) => a.ts - b.ts);
  const tasks = thread.filter((e) => e.name === 'RunTask' && e.dur / 1000 > LONG_TASK_MS);
  const t0 = thread[0]?.ts ?? 0;
  return tasks.map((t) => {
    const end = t.ts + t.dur;
    /** @type {Map<string, number>} */
    const parts = new Map();
    let coveredUntil = t.ts;
    for (const e of thread) {
      if (e.ts < t.ts || e.ts >= end || e === t || !PARTS.has(e.name)) continue;
      if (e.ts < coveredUntil && e.name !== 'Layout' && e.name !== 'UpdateLayoutTree') continue;
      const k = label(e);
      parts.set(k, (parts.get(k) ?? 0) + (e.dur || 0) / 1000);
      if (e.name === 'FunctionCall') coveredUntil = Math.max(coveredUntil, e.ts + (e.dur || 0));
    }
    return { start: (t.ts - t0) / 1000, ms: t.dur / 1000, cpu: (t.tdur ?? 0) / 1000, parts: [...parts].sort((a, b) => b[1] - a[1]) };
  }).sort((a, b) => b.ms - a.ms);
}

/** Prints the long tasks and their parts. @param {any[]} events */
export function report(events) {
  const tasks = longTasks(events);
  /** @type {Map<string, number>} */
  const total = new Map();
  for (const t of tasks) for (const [k, ms] of t.parts) total.set(k, (total.get(k) ?? 0) + ms);
  console.log(`${tasks.length} main-thread tasks over ${LONG_TASK_MS} ms`);
  for (const t of tasks.slice(0, 20)) {
    console.log(`  ${t.ms.toFixed(0)} ms (thread ${t.cpu.toFixed(0)} ms) at ${(t.start / 1000).toFixed(1)} s: ${t.parts.slice(0, PARTS_SHOWN)
      .map(([k, ms]) => `${k} ${ms.toFixed(0)}`).join('; ')}`);
  }
  const [cpu, wall] = busiestTask(events);
  console.log(`the task with the most thread time: ${cpu.toFixed(0)} ms of thread time, ${wall.toFixed(0)} ms of wall time`);
  console.log('summed over the long tasks:');
  for (const [k, ms] of [...total].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${ms.toFixed(0)} ms ${k}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node tests/bench/long-tasks.mjs TRACE.json');
    process.exit(2);
  }
  const json = JSON.parse(readFileSync(file, 'utf8'));
  report(Array.isArray(json) ? json : json.traceEvents);
}
