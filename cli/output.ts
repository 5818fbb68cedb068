import { isTesselError } from '../core/errors';

/** One clear line for the user (`tessel: <code>: <message>`); the stack only with --verbose. */
export function formatCliError(e: unknown, verbose: boolean): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const head = isTesselError(err) ? `tessel: ${err.message}` : `tessel: ${err.message}`;
  if (!verbose) return head;
  return `${head}\n${err.stack ?? ''}${err.cause ? `\ncaused by: ${(err.cause as Error).stack ?? String(err.cause)}` : ''}`;
}

/** Print a JSON value to stdout, two-space indented. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
