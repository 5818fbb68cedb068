/** One clear line for the user (`tessel: <code>: <message>`); the stack only with --verbose. */
export function formatCliError(e: unknown, verbose: boolean): string {
  const err = e instanceof Error ? e : new Error(String(e));
  // Temporal wraps the real reason (WorkflowFailedError → ApplicationFailure → …): show the whole chain.
  const chain: Error[] = [err];
  for (let c = err.cause; c instanceof Error && chain.length < 6; c = c.cause) chain.push(c);
  // A cause whose message the one before already quotes (an error re-raised with context in front) is not repeated.
  const messages = chain.map((c) => c.message).filter((m, i, all) => m && all.indexOf(m) === i && !(i > 0 && all[i - 1].endsWith(m)));
  // A client without keys reading an encrypted run gets Temporal's "Unknown encoding: binary/encrypted".
  if (messages.some((m) => m.includes('Unknown encoding: binary/encrypted'))) {
    messages.push('the run\'s payloads are encrypted: give this command the same keys as the workers (--encryption-key-file or TESSEL_ENCRYPTION_KEY_FILE)');
  }
  const head = `tessel: ${messages.join(': ')}`;
  if (!verbose) return head;
  return `${head}\n${chain.map((c) => c.stack ?? c.message).join('\ncaused by: ')}`;
}

/** Print a JSON value to stdout, two-space indented. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
