import {
  BLOCK_SKIPPED, BLOCK_TISSUE, blockCount, matchPartners, neighbourhood, type BlockLayout, type BlockRoles,
} from './blocks';

/**
 * The order of a blockwise image's work, shared by the image's workflow (`processBlocks`) and the
 * standalone commands, so both run the same dependencies. Pure: it only says which tasks may start.
 *
 * - `first`, `second` (every block): the two statistics passes of the normalisation; each ends in a
 *   reduction over all blocks (`reduceFirst` decides the blocks' roles, `reduceSecond` the global scaling).
 * - `normalize` (every block): CLAHE levels of the block's model-tile extent, and its core's level
 *   extremes, which only together give the final rescale — so `predict` waits for all of them.
 * - `predict` (blocks with tiles to run, GPU) → `watershed` (segmented blocks, once every block of its
 *   3×3 neighbourhood that runs tiles has) → `match` (once it and its right and lower neighbours are
 *   segmented): these three flow block by block, the GPU and CPU working at once.
 * - `stitch` (after every match) → `masks` (one task per compartment) → `quantify` (blocks that measure
 *   cells) → `reports`.
 */

export const BLOCK_STAGES = ['first', 'second', 'normalize', 'predict', 'watershed', 'match', 'quantify'] as const;
export type BlockStage = (typeof BLOCK_STAGES)[number];
export const GLOBAL_STAGES = ['reduceFirst', 'reduceSecond', 'stitch', 'masks', 'reports'] as const;
export type GlobalStage = (typeof GLOBAL_STAGES)[number];

export type BlockTask =
  | { stage: BlockStage; block: number }
  | { stage: Exclude<GlobalStage, 'masks'> }
  | { stage: 'masks'; compartment: 'whole-cell' | 'nuclear' };

/** Per-stage counts, for progress: tasks done, in flight, all the stage will run, and blocks it leaves out. */
export interface BlockStageCounts { done: number; running: number; total: number; skipped: number }
export type BlockProgress = Record<BlockStage, BlockStageCounts> & { globals: BlockScheduleState['globals'] };

/** What survives continue-as-new: roles, which blocks measure cells, and each stage's done blocks. */
export interface BlockScheduleState {
  roles?: BlockRoles;
  /** One character per block: `1` when the block measures cells (known after stitch). */
  measuring?: string;
  /** Per block stage, a hex bit set of finished blocks. */
  done: Partial<Record<BlockStage, string>>;
  globals: Partial<Record<Exclude<GlobalStage, 'masks'> | 'masks:whole-cell' | 'masks:nuclear', true>>;
}

export function taskName(t: BlockTask): string {
  if ('block' in t) return `${t.stage}:${t.block}`;
  return t.stage === 'masks' ? `masks:${t.compartment}` : t.stage;
}

export class BlockSchedule {
  private readonly n: number;
  private readonly done: Record<BlockStage, Uint8Array>;
  private readonly doneCount: Record<BlockStage, number>;
  private readonly running = new Set<string>();
  private readonly cursor: Record<BlockStage, number>;
  /** Watershed and match tasks whose dependencies are met, not yet started. */
  private readonly ready: Record<'watershed' | 'match', number[]> = { watershed: [], match: [] };
  private readonly queued: Record<'watershed' | 'match', Uint8Array>;
  readonly state: BlockScheduleState;

  /**
   * @param measure whether the image is measured too (else the schedule ends with the masks).
   */
  constructor(readonly layout: BlockLayout, readonly measure: boolean, state?: BlockScheduleState) {
    this.n = blockCount(layout);
    this.state = state ? { ...state, done: { ...state.done }, globals: { ...state.globals } } : { done: {}, globals: {} };
    this.done = Object.fromEntries(BLOCK_STAGES.map((s) => [s, fromHex(this.state.done[s], this.n)])) as Record<BlockStage, Uint8Array>;
    this.doneCount = Object.fromEntries(BLOCK_STAGES.map((s) => [s, this.done[s].reduce((a, b) => a + b, 0)])) as Record<BlockStage, number>;
    this.cursor = Object.fromEntries(BLOCK_STAGES.map((s) => [s, 0])) as Record<BlockStage, number>;
    this.queued = { watershed: new Uint8Array(this.n), match: new Uint8Array(this.n) };
    if (this.state.roles) for (let b = 0; b < this.n; b++) { this.consider('watershed', b); this.consider('match', b); }
  }

  /** After `reduceFirst`: what each block does. */
  setRoles(roles: BlockRoles): void {
    if (roles.length !== this.n) throw new RangeError(`roles for ${roles.length} blocks, the grid has ${this.n}`);
    this.state.roles = roles;
  }

  /** After `stitch`: which blocks measure cells. */
  setMeasuring(measuring: string): void {
    if (measuring.length !== this.n) throw new RangeError(`measuring flags for ${measuring.length} blocks, the grid has ${this.n}`);
    this.state.measuring = measuring;
  }

  /** Whether block `b` runs `stage` at all. */
  runs(stage: BlockStage, b: number): boolean {
    const role = this.state.roles?.[b];
    switch (stage) {
      case 'first': case 'second': case 'normalize': return true;
      case 'predict': return role !== undefined && role !== BLOCK_SKIPPED;
      case 'watershed': case 'match': return role === BLOCK_TISSUE;
      case 'quantify': return this.measure && this.state.measuring?.[b] === '1';
    }
  }

  /** Up to `limit` tasks that may start now on `queue` (marked as running). */
  take(queue: 'cpu' | 'gpu', limit: number): BlockTask[] {
    const out: BlockTask[] = [];
    const push = (t: BlockTask) => { this.running.add(taskName(t)); out.push(t); };
    if (queue === 'gpu') {
      if (this.allDone('normalize')) this.scan('predict', limit, push);
      return out;
    }
    const g = this.state.globals;
    const global = (stage: Exclude<GlobalStage, 'masks'>, when: boolean) => {
      if (when && !g[stage] && !this.running.has(stage) && out.length < limit) push({ stage });
    };
    this.scan('first', limit - out.length, push);
    global('reduceFirst', this.allDone('first'));
    if (g.reduceFirst) this.scan('second', limit - out.length, push);
    global('reduceSecond', this.allDone('second'));
    if (g.reduceSecond) this.scan('normalize', limit - out.length, push);
    for (const stage of ['watershed', 'match'] as const) {
      const q = this.ready[stage];
      while (q.length > 0 && out.length < limit) push({ stage, block: q.shift()! });
    }
    global('stitch', this.allDone('normalize') && this.allDone('predict') && this.allDone('match'));
    if (g.stitch) {
      for (const compartment of ['whole-cell', 'nuclear'] as const) {
        const name = `masks:${compartment}` as const;
        if (!g[name] && !this.running.has(name) && out.length < limit) push({ stage: 'masks', compartment });
      }
    }
    const masks = g['masks:whole-cell'] === true && g['masks:nuclear'] === true;
    if (!this.measure) return out;
    if (masks && this.state.measuring) this.scan('quantify', limit - out.length, push);
    global('reports', masks && this.state.measuring !== undefined && this.allDone('quantify'));
    return out;
  }

  /** A task finished (its results already taken in by the caller). */
  finish(t: BlockTask): void {
    this.running.delete(taskName(t));
    if ('block' in t) {
      if (this.done[t.stage][t.block]) return;
      this.done[t.stage][t.block] = 1;
      this.doneCount[t.stage]++;
      if (t.stage === 'predict') for (const m of neighbourhood(this.layout, t.block)) this.consider('watershed', m);
      if (t.stage === 'watershed') for (const m of neighbourhood(this.layout, t.block)) this.consider('match', m);
    } else {
      const name: keyof BlockScheduleState['globals'] = t.stage === 'masks' ? `masks:${t.compartment}` : t.stage;
      this.state.globals[name] = true;
      if (t.stage === 'reduceFirst') for (let b = 0; b < this.n; b++) this.consider('watershed', b);
    }
  }

  /** A task that failed or was abandoned may be taken again. */
  release(t: BlockTask): void {
    this.running.delete(taskName(t));
    if ('block' in t && (t.stage === 'watershed' || t.stage === 'match')) this.ready[t.stage].unshift(t.block);
    else if ('block' in t) this.cursor[t.stage] = Math.min(this.cursor[t.stage], t.block);
  }

  get inFlight(): number {
    return this.running.size;
  }

  get finished(): boolean {
    const g = this.state.globals;
    return this.measure ? g.reports === true : g['masks:whole-cell'] === true && g['masks:nuclear'] === true;
  }

  /** The state to continue as new with (call with nothing in flight). */
  snapshot(): BlockScheduleState {
    return { ...this.state, done: Object.fromEntries(BLOCK_STAGES.map((s) => [s, toHex(this.done[s])])), globals: { ...this.state.globals } };
  }

  progress(): BlockProgress {
    const out = { globals: { ...this.state.globals } } as BlockProgress;
    const running = new Map<string, number>();
    for (const name of this.running) {
      const stage = name.split(':')[0];
      running.set(stage, (running.get(stage) ?? 0) + 1);
    }
    for (const s of BLOCK_STAGES) {
      let total = 0;
      const known = s === 'first' || s === 'second' || s === 'normalize' || (s === 'quantify' ? this.state.measuring !== undefined : this.state.roles !== undefined);
      if (known) for (let b = 0; b < this.n; b++) if (this.runs(s, b)) total++;
      out[s] = { done: this.doneCount[s], running: running.get(s) ?? 0, total: known ? total : this.n, skipped: known ? this.n - total : 0 };
    }
    return out;
  }

  /** Whether every block that runs `stage` has finished it (known only once the roles are). */
  private allDone(stage: BlockStage): boolean {
    if (stage !== 'first' && stage !== 'second' && stage !== 'normalize' && !this.state.roles) return false;
    if (stage === 'quantify' && !this.state.measuring) return false;
    return this.scanFrom(stage) === this.n;
  }

  /** Starts blocks of a barrier-free stage in order from its cursor. */
  private scan(stage: BlockStage, limit: number, push: (t: BlockTask) => void): void {
    let taken = 0;
    for (let b = this.scanFrom(stage); b < this.n && taken < limit; b++) {
      if (!this.runs(stage, b) || this.done[stage][b] || this.running.has(`${stage}:${b}`)) continue;
      push({ stage, block: b });
      taken++;
    }
  }

  private scanFrom(stage: BlockStage): number {
    let b = this.cursor[stage];
    while (b < this.n && (this.done[stage][b] || !this.runs(stage, b))) b++;
    return (this.cursor[stage] = b);
  }

  /** Queues a watershed or match task once its dependencies are done. */
  private consider(stage: 'watershed' | 'match', b: number): void {
    if (!this.state.roles || !this.runs(stage, b) || this.done[stage][b] || this.queued[stage][b]) return;
    const deps = stage === 'watershed'
      ? neighbourhood(this.layout, b).filter((m) => this.runs('predict', m)).every((m) => this.done.predict[m])
      : [b, ...matchPartners(this.layout, b)].filter((m) => this.runs('watershed', m)).every((m) => this.done.watershed[m]);
    if (!deps) return;
    this.queued[stage][b] = 1;
    this.ready[stage].push(b);
  }
}

function toHex(bits: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bits.length; i += 4) out += (bits[i] | (bits[i + 1] ?? 0) << 1 | (bits[i + 2] ?? 0) << 2 | (bits[i + 3] ?? 0) << 3).toString(16);
  return out;
}

function fromHex(hex: string | undefined, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (!hex) return out;
  for (let i = 0; i < n; i++) out[i] = (parseInt(hex[i >> 2], 16) >> (i & 3)) & 1;
  return out;
}
