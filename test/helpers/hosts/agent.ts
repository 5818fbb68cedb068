/**
 * The test's hands on the client host: a process started inside a network namespace
 * (`ip netns exec <client> node --import tsx test/helpers/hosts/agent.ts`) that answers requests from the
 * test, one JSON object per line on stdin → one per line on stdout, so the test (in the root namespace,
 * which has no route to the hosts) reads the bucket and the server's histories over the hosts' network.
 *
 * Request: `{ id, op, args }`; reply: `{ id, result }` or `{ id, error }`. Reads TEMPORAL_ADDRESS and
 * STORAGE_EMULATOR_HOST like every Tessel process.
 */
import { Client, Connection } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { storeFor } from '../../../core/storage';
import { activitySpans } from '../../../infra/temporal/activity-spans';

/** One activity of a workflow as its history ends: the last attempt's start and how it closed. */
export interface ActivityRecord {
  workflowId: string; activityId: string; type: string; attempt: number; identity: string;
  /** The previous attempt's failure, as the server recorded it on the last attempt's start. */
  lastFailure?: { message: string; timeoutType?: string };
  outcome: 'completed' | 'failed' | 'timedOut' | 'open';
}

/** A pending activity of a running workflow (`describe`), as the server sees it now. */
export interface PendingRecord {
  workflowId: string; activityId: string; type: string; state: 'scheduled' | 'started' | 'cancelRequested'; attempt: number; lastWorkerIdentity: string;
  /** When the current attempt started (the server's clock, which is this machine's), ms since the epoch; 0 if never. */
  startedMs: number;
}

let client: Promise<Client> | undefined;
const temporal = () => (client ??= Connection.connect({ address: process.env.TEMPORAL_ADDRESS!, connectTimeout: '5s' }).then((connection) => new Client({ connection })));

const TIMEOUT_TYPES: Record<number, string> = { 1: 'START_TO_CLOSE', 2: 'SCHEDULE_TO_START', 3: 'SCHEDULE_TO_CLOSE', 4: 'HEARTBEAT' };
const PENDING_STATES: Record<number, PendingRecord['state']> = { 1: 'scheduled', 2: 'started', 3: 'cancelRequested' };

const ops: Record<string, (args: never) => Promise<unknown>> = {
  /** An HTTP request from this host (readiness checks, creating the bucket). */
  async fetch(a: { url: string; method?: string; body?: string }) {
    try {
      const res = await fetch(a.url, { method: a.method ?? 'GET', body: a.body, headers: a.body ? { 'content-type': 'application/json' } : {}, signal: AbortSignal.timeout(5000) });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      return { status: 0, text: (e as Error).message };
    }
  },

  /** Resolves once the server answers for the namespace, or fails after `timeoutMs`. */
  async waitTemporal(a: { namespace: string; timeoutMs: number }) {
    const deadline = Date.now() + a.timeoutMs;
    for (;;) {
      try {
        const c = await temporal();
        await c.workflowService.describeNamespace({ namespace: a.namespace });
        return true;
      } catch (e) {
        client = undefined;
        if (Date.now() > deadline) throw new Error(`Temporal at ${process.env.TEMPORAL_ADDRESS} not ready after ${a.timeoutMs} ms: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  },

  /**
   * sha256 of every object under `uri`, keyed by its path below it; the text `uri` inside an object is
   * replaced by `<workspace>` first (the NPZ sidecars name their source image by its full URI).
   */
  async digests(a: { uri: string }) {
    const store = storeFor(a.uri);
    const out: Record<string, string> = {};
    for (const o of await store.list(a.uri, { recursive: true })) {
      const text = Buffer.from(await store.readAll(o.uri)).toString('latin1').split(a.uri).join('<workspace>');
      out[o.uri.slice(a.uri.length + 1)] = createHash('sha256').update(text, 'latin1').digest('hex');
    }
    return out;
  },

  /** The pending activities of these workflows (those not found, or closed, have none). */
  async pending(a: { workflowIds: string[] }) {
    const c = await temporal();
    // All at once, so the answer is one moment's picture, not a few hundred milliseconds'.
    const described = await Promise.all(a.workflowIds.map((id) => c.workflow.getHandle(id).describe().catch(() => undefined)));
    return described.flatMap((d, i) => (d?.raw.pendingActivities ?? []).map((p): PendingRecord => ({
      workflowId: a.workflowIds[i], activityId: p.activityId ?? '', type: p.activityType?.name ?? '', state: PENDING_STATES[p.state ?? 0] ?? 'scheduled',
      attempt: p.attempt ?? 1, lastWorkerIdentity: p.lastWorkerIdentity ?? '',
      startedMs: p.lastStartedTime ? Number(p.lastStartedTime.seconds ?? 0) * 1000 + (p.lastStartedTime.nanos ?? 0) / 1e6 : 0,
    })));
  },

  /** Every activity in these workflows' histories with its last attempt (see {@link ActivityRecord}). */
  async activities(a: { workflowIds: string[] }) {
    const c = await temporal();
    const out: ActivityRecord[] = [];
    for (const workflowId of a.workflowIds) {
      const byScheduled = new Map<string, ActivityRecord>();
      for (const e of (await c.workflow.getHandle(workflowId).fetchHistory()).events ?? []) {
        const s = e.activityTaskScheduledEventAttributes;
        if (s) {
          const r: ActivityRecord = { workflowId, activityId: s.activityId ?? '', type: s.activityType?.name ?? '', attempt: 0, identity: '', outcome: 'open' };
          byScheduled.set(String(e.eventId), r);
          out.push(r);
        }
        const st = e.activityTaskStartedEventAttributes;
        const r = st && byScheduled.get(String(st.scheduledEventId));
        if (st && r) {
          r.attempt = st.attempt ?? 1;
          r.identity = st.identity ?? '';
          const f = st.lastFailure;
          if (f) r.lastFailure = { message: f.message ?? '', timeoutType: f.timeoutFailureInfo ? TIMEOUT_TYPES[f.timeoutFailureInfo.timeoutType ?? 0] : undefined };
        }
        const closed: [string | null | undefined, ActivityRecord['outcome']] | undefined =
          e.activityTaskCompletedEventAttributes ? [String(e.activityTaskCompletedEventAttributes.scheduledEventId), 'completed']
            : e.activityTaskFailedEventAttributes ? [String(e.activityTaskFailedEventAttributes.scheduledEventId), 'failed']
              : e.activityTaskTimedOutEventAttributes ? [String(e.activityTaskTimedOutEventAttributes.scheduledEventId), 'timedOut'] : undefined;
        const cr = closed && byScheduled.get(closed[0] ?? '');
        if (closed && cr) cr.outcome = closed[1];
      }
    }
    return out;
  },

  /** Waits for a workflow to close; its result and the server's start and close times (ms since the epoch). */
  async waitRun(a: { workflowId: string }) {
    const handle = (await temporal()).workflow.getHandle(a.workflowId);
    const result = await handle.result();
    const d = await handle.describe();
    return { result, startMs: d.startTime.getTime(), closeMs: d.closeTime?.getTime() ?? Date.now() };
  },

  /** Started → closed spans of every activity attempt in these workflows (infra/temporal/activity-spans). */
  async spans(a: { workflowIds: string[] }) {
    return activitySpans(await temporal(), a.workflowIds.map((id) => ({ id })));
  },
};

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: never };
  const fn = ops[op];
  const reply = (r: object) => process.stdout.write(`${JSON.stringify({ id, ...r })}\n`);
  if (!fn) return reply({ error: `unknown op ${op}` });
  fn(args).then((result) => reply({ result }), (e: Error) => reply({ error: e.message }));
});
// The test closing stdin (or dying) ends the agent.
lines.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
