import type { Client } from '@temporalio/client';

/** One activity attempt as its workflow's history records it: queue, type and server times in ms. */
export interface ActivitySpan { queue: string; type: string; scheduled: number; started: number; closed: number }

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

/**
 * Every activity attempt that started and closed (completed, failed or timed out) in these workflows'
 * histories: scheduled → started → closed, as the server recorded them. A span starts when a worker took
 * the task, so with a task held ahead it also covers the wait in the worker.
 */
export async function activitySpans(client: Client, workflows: { id: string; runId?: string }[]): Promise<ActivitySpan[]> {
  const spans: ActivitySpan[] = [];
  for (const { id, runId } of workflows) {
    const scheduled = new Map<string, Omit<ActivitySpan, 'started' | 'closed'>>();
    const started = new Map<string, Omit<ActivitySpan, 'closed'>>();
    for (const e of (await client.workflow.getHandle(id, runId).fetchHistory()).events ?? []) {
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched) scheduled.set(String(e.eventId), { queue: sched.taskQueue?.name ?? '?', type: sched.activityType?.name ?? '?', scheduled: ms(e.eventTime) });
      const st = e.activityTaskStartedEventAttributes;
      const of = st ? scheduled.get(String(st.scheduledEventId)) : undefined;
      if (of) started.set(String(e.eventId), { ...of, started: ms(e.eventTime) });
      const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      const span = closed && 'startedEventId' in closed ? started.get(String(closed.startedEventId)) : undefined;
      if (span) spans.push({ ...span, closed: ms(e.eventTime) });
    }
  }
  return spans;
}
