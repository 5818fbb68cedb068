import { NotFoundError, TesselError } from '../errors';
import { withRetry } from '../retry';

/**
 * How GCS failures become Tessel errors, and the retry policy shared by the client's own retries
 * (uploads, metadata calls) and the store's retries around media downloads, which the client does not
 * retry.
 */
export interface GcsRetryPolicy {
  /** Retries after the first attempt. @default 5 */
  maxRetries: number;
  /** Growth factor of the delay between attempts. @default 2 */
  multiplier: number;
  /** Longest single wait, ms. @default 32000 */
  maxDelayMs: number;
  /** Give up once this much time has passed since the first attempt, ms. @default 300000 */
  totalTimeoutMs: number;
}

export const DEFAULT_GCS_RETRY: GcsRetryPolicy = { maxRetries: 5, multiplier: 2, maxDelayMs: 32_000, totalTimeoutMs: 300_000 };

const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

/** HTTP status of a client error (ApiError.code, GaxiosError.response.status), when there is one. */
export function gcsStatus(e: unknown): number | undefined {
  const err = e as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [err?.code, err?.status, err?.response?.status]) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && /^\d{3}$/.test(v)) return Number(v);
  }
  return undefined;
}

/** 408, 429, 5xx and dropped connections: trying again can help. */
export function isTransientGcsError(e: unknown): boolean {
  const status = gcsStatus(e);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT_NETWORK.has(code);
}

/** One TesselError per failure class, naming the object. 412 means a generation precondition lost a race. */
export function mapGcsError(uri: string, e: unknown): Error {
  if (e instanceof TesselError) return e;
  const status = gcsStatus(e);
  const msg = (e as Error)?.message ?? String(e);
  if (status === 404) return new NotFoundError(uri, { cause: e });
  if (status === 412) {
    return new TesselError('ALREADY_EXISTS', 'already exists or was replaced by another writer (generation precondition failed)',
      { file: uri, cause: e });
  }
  if (status === 401 || status === 403) {
    return new TesselError('STORAGE', `permission denied (${msg}); grant the service account storage access to the bucket`,
      { file: uri, cause: e, retryable: false });
  }
  return new TesselError('STORAGE', msg, { file: uri, cause: e, retryable: isTransientGcsError(e) });
}

/** Runs an idempotent call, retrying transient GCS failures (see {@link withRetry}). */
export function retryTransient<T>(fn: () => Promise<T>, policy: GcsRetryPolicy, baseDelayMs = 250): Promise<T> {
  return withRetry(fn, { ...policy, baseDelayMs }, isTransientGcsError);
}
