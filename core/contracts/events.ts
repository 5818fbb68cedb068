import type { QueryDefinition, SignalDefinition } from '@temporalio/common';
import type { RunProgress } from './run';
import type { Stage } from './stages';

/** A stage transition of one image, as the run (parent workflow) counts it for `tessel status`. */
export interface StageEvent {
  name: string;
  stage: Stage;
  event: 'started' | 'done' | 'failed';
  error?: string;
  errorType?: string;
  cells?: number;
  /** On an image's first blockwise event: the workflow whose `blockProgress` query gives its blocks. */
  blocksWorkflowId?: string;
}

/**
 * Stage events an activity sends to the run workflow while it works (and awaits before it ends): its own
 * stage's start and what ended before it. Sent from the activity, a signal costs the image's workflow no
 * command, acknowledgement or extra workflow task; a retried attempt sends them again, and the run counts
 * each (image, stage, event) once.
 */
export interface ProgressReport {
  parentWorkflowId: string;
  events: StageEvent[];
}

// Definitions are plain objects (what `defineSignal`/`defineQuery` return), so this module needs no
// Temporal package at run time; the workflow, the activities and the client share them.

/** The run's live progress (parent workflow). */
export const progressQuery = { type: 'query', name: 'progress' } as QueryDefinition<RunProgress>;

/** Activities report an image's stage transitions to the run, a batch at a time. */
export const stageEventSignal = { type: 'signal', name: 'stageEvent' } as SignalDefinition<[StageEvent[]]>;
