import type { ProgressReport, Stage, StageEvent } from '../core/contracts';

/**
 * An image's stage events waiting for the next activity, which sends them to the run while it works
 * (see {@link ProgressReport}): the image's workflow issues no signal of its own, so no command, no
 * acknowledgement and no extra workflow task per event.
 */
export class StageEventQueue {
  private pending: StageEvent[] = [];

  constructor(private readonly name: string, private readonly parentWorkflowId?: string) {}

  add(stage: Stage, event: StageEvent['event'], extra: Pick<StageEvent, 'cells' | 'error' | 'errorType' | 'blocksWorkflowId'> = {}): void {
    this.pending.push({ name: this.name, stage, event, ...extra });
  }

  /** Events another workflow of the image left for this one to carry (a blockwise image's last ones). */
  addAll(events: readonly StageEvent[]): void {
    this.pending.push(...events);
  }

  /** The events so far, for the next activity to carry; none when there is no run to tell. */
  take(): ProgressReport | undefined {
    const events = this.pending.splice(0);
    return this.parentWorkflowId && events.length > 0 ? { parentWorkflowId: this.parentWorkflowId, events } : undefined;
  }

  /** The events so far, for the image's result when no activity follows to carry them. */
  takeAll(): StageEvent[] {
    return this.pending.splice(0);
  }
}
