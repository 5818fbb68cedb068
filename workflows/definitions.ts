import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { RunProgress, StageEvent } from './types';

/** The run's live progress (parent workflow). */
export const progressQuery = defineQuery<RunProgress>('progress');
/** A child reports stage transitions: a batch of them, or one (children started before the batching patch). */
export const stageEventSignal = defineSignal<[StageEvent | StageEvent[]]>('stageEvent');

/** Failure types that retrying cannot fix: bad input, bad model, bad configuration. */
export const NON_RETRYABLE_TYPES = [
  'INVALID_IMAGE', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE', 'CHANNEL_NOT_FOUND', 'INVALID_ARRAY',
  'MODEL_CHECKSUM_MISMATCH', 'MODEL_CONTRACT', 'INVALID_CONFIG', 'NOT_FOUND', 'PROVIDER_UNAVAILABLE',
];
