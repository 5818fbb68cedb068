import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit } from '@temporalio/worker';

/** A look-ahead is reserved only while this worker's recent activities average under this many seconds. */
export const DEFAULT_LOOK_AHEAD_MAX_S = 5;
/** How many of the latest activities that average spans. */
const RECENT = 8;

export interface ComputeSlotStats {
  /** Compute slots (concurrent activities actually running). */
  slots: number;
  /** Activities that ran. */
  activities: number;
  /** Σ of the time each activity held a compute slot, seconds. */
  busyS: number;
  /** Activities that arrived while every compute slot was taken and waited in the worker. */
  heldAhead: number;
  /** Σ of those waits, seconds (also in each stage's queue wait). */
  heldS: number;
}

/**
 * A queue's compute slots on one worker, with tasks in hand. Without it, a worker with N slots polls
 * Temporal only when a slot frees, so each slot sits idle through every hand-over: the completion, the
 * next poll, the server recording the start (12–30 ms per activity on the dev server on a busy 2-core
 * machine, a round trip more to a remote server). With `ahead` > 0 the worker polls for up to
 * N + `ahead` activities; those beyond N wait here (heartbeating, cancellable) for a slot, so the next
 * activity is already in the worker when one ends and the hand-over overlaps the work.
 *
 * The look-ahead is reserved only while this worker's recent activities are short (the mean of the last
 * eight under `lookAheadMaxS`, default 5 s): there the hand-over is a visible fraction of each activity,
 * while past it the gain is under a percent and a task held behind a long activity could wait while
 * another worker on the queue sits idle. Until an activity has finished nothing is held ahead.
 *
 * Serves both sides: {@link supplier} is the worker's activity slot supplier (when it may poll), and
 * {@link run} wraps each activity (when it may compute).
 */
export class ComputeSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  private reserved = 0;
  private readonly reservations: (() => void)[] = [];
  private readonly recent: number[] = [];
  private readonly totals = { activities: 0, busyMs: 0, heldAhead: 0, heldMs: 0 };

  constructor(readonly slots: number, readonly ahead = 1, readonly lookAheadMaxS = DEFAULT_LOOK_AHEAD_MAX_S) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`compute slots must be an integer ≥ 1, got ${slots}`);
    if (!(Number.isInteger(ahead) && ahead >= 0)) throw new RangeError(`look-ahead must be an integer ≥ 0, got ${ahead}`);
    this.free = slots;
  }

  /** Whether a task may be held ahead now: the recent activities were short. */
  lookingAhead(): boolean {
    if (this.ahead === 0 || this.recent.length === 0) return false;
    return this.recent.reduce((a, b) => a + b, 0) / this.recent.length < this.lookAheadMaxS * 1000;
  }

  /** Activity tasks this worker may hold now: its compute slots, plus the look-ahead while it applies. */
  capacity(): number {
    return this.slots + (this.lookingAhead() ? this.ahead : 0);
  }

  /** Compute slots running an activity now, and activities waiting in this worker for one (for /metrics). */
  occupancy(): { inUse: number; waiting: number } {
    return { inUse: this.slots - this.free, waiting: this.waiting.length };
  }

  stats(): ComputeSlotStats {
    const t = this.totals;
    return { slots: this.slots, activities: t.activities, busyS: t.busyMs / 1000, heldAhead: t.heldAhead, heldS: t.heldMs / 1000 };
  }

  /** The Temporal slot supplier: a poll may go out while fewer than {@link capacity} tasks are held. */
  supplier(): CustomSlotSupplier<ActivitySlotInfo> {
    return {
      type: 'custom',
      reserveSlot: (_ctx, abort) => new Promise<SlotPermit>((resolve, reject) => {
        const grant = () => {
          this.reserved++;
          abort.removeEventListener('abort', onAbort);
          resolve({});
        };
        const onAbort = () => {
          const i = this.reservations.indexOf(grant);
          if (i >= 0) this.reservations.splice(i, 1);
          // The signal's own reason: the SDK logs any other rejection as an error (one per worker at shutdown).
          reject(abort.reason ?? Object.assign(new Error('slot reservation aborted'), { name: 'AbortError' }));
        };
        if (abort.aborted) return onAbort();
        if (this.hasRoom()) return grant();
        abort.addEventListener('abort', onAbort, { once: true });
        this.reservations.push(grant);
      }),
      tryReserveSlot: () => {
        if (!this.hasRoom()) return null;
        this.reserved++;
        return {};
      },
      markSlotUsed: () => undefined,
      releaseSlot: () => {
        this.reserved--;
        this.wakeReservations();
      },
    };
  }

  /**
   * Runs one activity in a compute slot: at once if one is free, else after waiting in line (first come,
   * first served), heartbeating every 2 s so the wait never trips the heartbeat timeout, and giving up
   * its place if the activity is cancelled meanwhile.
   */
  async run<T>(ctx: ActivityContext, fn: () => Promise<T>): Promise<T> {
    const arrived = performance.now();
    if (this.free > 0) this.free--;
    else {
      await this.waitForSlot(ctx);
      this.totals.heldAhead++;
      this.totals.heldMs += performance.now() - arrived;
    }
    const start = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - start;
      this.totals.activities++;
      this.totals.busyMs += ms;
      this.recent.push(ms);
      if (this.recent.length > RECENT) this.recent.shift();
      this.handOver();
      this.wakeReservations();
    }
  }

  private async waitForSlot(ctx: ActivityContext): Promise<void> {
    let granted!: () => void;
    const turn = new Promise<void>((resolve) => {
      granted = resolve;
      this.waiting.push(resolve);
    });
    const beat = setInterval(() => ctx.heartbeat(), 2000);
    try {
      await Promise.race([turn, ctx.cancelled]);
    } catch (e) {
      const i = this.waiting.indexOf(granted);
      if (i >= 0) this.waiting.splice(i, 1);
      else this.handOver(); // the slot was handed to us as the cancellation came: pass it on
      throw e;
    } finally {
      clearInterval(beat);
    }
  }

  /** A compute slot is free: to the next activity in line, else back to the pool. */
  private handOver(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }

  /** Whether one more task may be reserved now. */
  private hasRoom(): boolean {
    return this.reserved < this.capacity();
  }

  /** Capacity may have grown (a slot released, the look-ahead back on): let waiting polls go out. */
  private wakeReservations(): void {
    while (this.reservations.length > 0 && this.hasRoom()) this.reservations.shift()!();
  }
}
