// @ts-check
// Plays a list of steps at a readable pace, narrating each, and can be paused and stepped:
// the seed's scenario and each fault are such lists. A step is an async function; the
// runner waits between steps (the reader's pause), and never cuts a step in the middle.

/** @typedef {{title: string, run: (say: (text: string) => void) => Promise<void>}} Step */

/** How long a condition may take before the step fails (a block mined at 16 bits in a tab
 *  takes seconds; a sync of a long chain longer). */
export const STEP_TIMEOUT_MS = 180_000;
/** How often a waiting step looks again. */
const POLL_MS = 250;

/** Polls `check` until it returns a truthy value; throws after STEP_TIMEOUT_MS, naming `what`.
 *  @template T @param {string} what @param {() => Promise<T> | T} check @returns {Promise<T>} */
export async function until(what, check) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export class Runner {
  /** @param {HTMLOListElement} list where the narration goes @param {number} paceMs pause between steps */
  constructor(list, paceMs) {
    this.list = list;
    this.paceMs = paceMs;
    this.paused = false;
    this.running = false;
    /** "Step" was pressed: the next pause lets one step through. */
    this.stepOnce = false;
    /** @type {(() => void) | null} */
    this.wake = null;
    /** @type {((state: string) => void)} */
    this.onState = () => {};
  }

  /** Plays `steps` under `title`; resolves true if every step passed.
   *  @param {string} title @param {Step[]} steps @param {{paused?: boolean}} [opts] */
  async play(title, steps, opts = {}) {
    if (this.running) throw new Error('a run is already playing');
    this.running = true;
    this.paused = Boolean(opts.paused);
    this.list.replaceChildren();
    this.list.dataset.run = title;
    this.list.dataset.state = 'running';
    this.onState('running');
    let ok = true;
    try {
      for (let i = 0; i < steps.length; i++) {
        if (i > 0 || this.paused) await this.between();
        const li = document.createElement('li');
        li.className = 'step running';
        li.dataset.testid = 'narration-step';
        const h = document.createElement('strong');
        h.textContent = steps[i].title;
        const notes = document.createElement('ul');
        li.append(h, notes);
        this.list.append(li);
        li.scrollIntoView({ block: 'nearest' });
        const say = (/** @type {string} */ text) => {
          const n = document.createElement('li');
          n.textContent = text;
          notes.append(n);
        };
        try {
          await steps[i].run(say);
          li.className = 'step done';
        } catch (e) {
          li.className = 'step failed';
          say(`Failed: ${e instanceof Error ? e.message : String(e)}`);
          ok = false;
          break;
        }
      }
    } finally {
      this.running = false;
      this.list.dataset.state = ok ? 'passed' : 'failed';
      this.onState(ok ? 'passed' : 'failed');
    }
    return ok;
  }

  /** The pause between steps: the reading time when playing, until "step" when paused. */
  async between() {
    if (!this.paused) {
      await new Promise((r) => { this.wake = () => r(undefined); setTimeout(r, this.paceMs); });
      this.wake = null;
    }
    while (this.paused) {
      if (this.stepOnce) { this.stepOnce = false; break; }
      this.onState('paused');
      await new Promise((r) => { this.wake = () => r(undefined); });
      this.wake = null;
    }
    this.onState('running');
  }

  pause() { this.paused = true; this.onState('paused'); }

  resume() { this.paused = false; this.wake?.(); }

  /** Runs the next step, then pauses again. */
  step() {
    this.paused = true;
    this.stepOnce = true;
    this.wake?.();
  }
}
