import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';
import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where the Temporal runtime's log lines go. */
export interface RuntimeLogTarget {
  /**
   * Append every line to this file instead of stderr (embedded runs: the run's own progress and summary
   * own the terminal, and every failure is reported there once, in Tessel's words).
   */
  file?: string;
  /** With `file`: also print each line to stderr (`--verbose`). */
  echo?: boolean;
  /** Where the SDK serves its own Prometheus metrics (`host:port`): durations in seconds, counters with `_total`. */
  prometheusBindAddress?: string;
}

/** The installed runtime log: its file (if any) and how many lines of each level it took. */
export interface RuntimeLog {
  file?: string;
  counts: Record<LogLevel, number>;
}

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
/** Expected with one worker per queue kind: a CPU worker polls no workflows, a workflow worker no activities. */
const EXPECTED_NOTICES = /^No (activities|workflows|Nexus services) registered/;
/**
 * Keys, and spellings in text, under which a task token appears: `taskToken: …`, `task_token=…`, Core's
 * `task_token: TaskToken(…)` and `TaskToken(…)`, as base64 or as a byte list.
 */
const TOKEN_KEY = /^task_?token$/i;
const TOKEN_IN_TEXT = /(task_?token"?\s*[:=]\s*"?(?:TaskToken\()?|TaskToken\()(?:[A-Za-z0-9+/=_-]{8,}|\[[\d,\s]+\])/gi;
const REDACTED = '[redacted]';

let installed: (RuntimeLog & { fd?: number; echo: boolean }) | undefined;

/**
 * Installs the Temporal runtime logger (and, given `target.prometheusBindAddress`, the SDK's Prometheus
 * exporter) once per process, before any connection (the first call in a process wins and later calls
 * return its log): level from `TESSEL_LOG_LEVEL` (TRACE…ERROR, else
 * `fallback`); the SDK's lines and SDK Core's (forwarded) to stderr, or to `target.file`; the per-queue
 * "nothing registered" notices dropped since Tessel splits queues across workers on purpose. Task tokens
 * (an activity's credential: whoever holds one can complete the activity) are redacted on stderr; the
 * file, private to this machine like the dev server's own database that stores them, keeps them for
 * correlating with server logs.
 */
export function installRuntimeLogging(fallback: LogLevel = 'INFO', target: RuntimeLogTarget = {}): RuntimeLog {
  if (installed) {
    if (target.prometheusBindAddress) process.stderr.write('warning: Temporal runtime already installed in this process; its SDK metrics are not exported\n');
    return installed;
  }
  const env = process.env.TESSEL_LOG_LEVEL?.toUpperCase() as LogLevel | undefined;
  const asked = env && LOG_LEVELS.includes(env) ? env : undefined;
  const level = asked ?? fallback;
  let fd: number | undefined;
  if (target.file) {
    mkdirSync(dirname(target.file), { recursive: true });
    fd = openSync(target.file, 'a', 0o600);
  }
  const log: RuntimeLog & { fd?: number; echo: boolean } = { file: target.file, fd, echo: !!target.echo, counts: { TRACE: 0, DEBUG: 0, INFO: 0, WARN: 0, ERROR: 0 } };
  installed = log;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => writeLogEntry(entry)),
    // SDK Core's own (Rust) lines come through the same logger: without `forward` Core prints them to the
    // console itself, in colour, task tokens included (e.g. after a cancellation: "Activity not found on
    // completion … task_token=TaskToken(…)"). Core stays at WARN unless TESSEL_LOG_LEVEL asks for more.
    telemetryOptions: {
      logging: { forward: {}, filter: { core: asked ?? 'WARN', other: 'ERROR' } },
      ...(target.prometheusBindAddress
        ? { metrics: { prometheus: { bindAddress: target.prometheusBindAddress, useSecondsForDurations: true, countersTotalSuffix: true } } }
        : {}),
    },
  });
  return log;
}

/**
 * Writes one line through the installed runtime log (or stderr when none is installed): the SDK's
 * entries, and Tessel's own worker-side notices such as the workflow bundler's warnings.
 */
export function writeLogEntry(entry: Pick<LogEntry, 'level' | 'message' | 'meta'> & { timestampNanos?: bigint }): void {
  if (EXPECTED_NOTICES.test(entry.message)) return;
  const log = installed;
  if (log) log.counts[entry.level]++;
  const when = new Date(entry.timestampNanos === undefined ? Date.now() : Number(entry.timestampNanos / 1_000_000n)).toISOString();
  if (log?.fd !== undefined) {
    // Synchronous: a CLI run ends with process.exit, which would drop a stream's buffered lines.
    writeSync(log.fd, formatLogLine(when, entry, false) + '\n');
    if (!log.echo) return;
  }
  process.stderr.write(formatLogLine(when, entry, true) + '\n');
}

/** `<ISO time> [LEVEL] message {meta as JSON}`; `redact` drops task tokens from both. */
export function formatLogLine(when: string, entry: Pick<LogEntry, 'level' | 'message' | 'meta'>, redact: boolean): string {
  const replacer = (key: string, value: unknown) => {
    if (redact && TOKEN_KEY.test(key)) return undefined; // dropped: the ids beside it name the activity
    if (value instanceof Error) return redact ? `${value.name}: ${value.message}` : { name: value.name, message: value.message, stack: value.stack };
    return typeof value === 'bigint' ? value.toString() : value;
  };
  const meta = entry.meta && Object.keys(entry.meta).length ? ` ${JSON.stringify(entry.meta, replacer)}` : '';
  const line = `${when} [${entry.level}] ${entry.message}${meta}`;
  return redact ? redactTaskTokens(line) : line;
}

/** Replaces task tokens spelled out in text (see {@link TOKEN_IN_TEXT}). */
export function redactTaskTokens(text: string): string {
  return text.replace(TOKEN_IN_TEXT, `$1${REDACTED}`);
}
