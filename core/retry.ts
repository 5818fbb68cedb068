/**
 * Retries with exponential backoff and full jitter (AWS architecture blog, "Exponential Backoff and
 * Jitter", 2015): before retry n wait a uniform random time in [0, min(maxDelayMs, baseDelayMs·multiplierⁿ)],
 * so many workers retrying at once do not stampede together. Used by the GCS store, the BigQuery sink
 * and the DuckDB sink (waiting for another process's file lock).
 */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Delay cap of the first retry, ms. */
  baseDelayMs: number;
  /** Longest single wait, ms. */
  maxDelayMs: number;
  /** Growth factor of the delay cap between attempts. @default 2 */
  multiplier?: number;
  /** Give up once this much time has passed since the first attempt, ms. @default no limit */
  totalTimeoutMs?: number;
}

/**
 * Calls `fn` until it resolves, retrying while `retryable(error)` says so and the policy allows;
 * otherwise rethrows the last error.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, retryable: (e: unknown) => boolean): Promise<T> {
  const started = Date.now();
  const multiplier = policy.multiplier ?? 2;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!retryable(e) || attempt >= policy.maxRetries) throw e;
      const wait = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * multiplier ** attempt);
      if (policy.totalTimeoutMs !== undefined && Date.now() - started + wait > policy.totalTimeoutMs) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
