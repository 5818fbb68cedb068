import { getHeapStatistics } from 'node:v8';
import type { FuzzTarget } from './targets';

/**
 * The invariants every fuzz execution must keep, checked around `target.exec`:
 * - no crash other than Tessel's own errors (the target rethrows anything else);
 * - no hang: an execution over `slowMs` fails (a true infinite loop is caught by the runner's watchdog);
 * - memory bounded by the input and the output it really produced, never by what a header claims:
 *   external memory (ArrayBuffers, zlib buffers) may grow by at most {@link memoryAllowance}.
 */
export interface Limits { slowMs: number }

/** Bytes an execution may allocate: a fixed 32 MiB, 64 per input byte, and 4 per byte of real output. */
export function memoryAllowance(inputBytes: number, outputBytes: number): number {
  return 32 * 2 ** 20 + 64 * inputBytes + 4 * outputBytes;
}

export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

/** Runs one input and throws when an invariant breaks. */
export async function checkOne<T>(target: FuzzTarget<T>, input: T, limits: Limits): Promise<void> {
  const size = target.bytes(input).length;
  const before = getHeapStatistics().external_memory;
  const t0 = performance.now();
  const out = await target.exec(input);
  const ms = performance.now() - t0;
  const grown = getHeapStatistics().external_memory - before;
  if (grown > memoryAllowance(size, out)) {
    throw new InvariantError(`memory: ${(grown / 2 ** 20).toFixed(1)} MiB allocated for a ${size}-byte input that produced ${out} bytes of output (allowed ${(memoryAllowance(size, out) / 2 ** 20).toFixed(1)} MiB)`);
  }
  if (ms > limits.slowMs) throw new InvariantError(`hang: one input took ${ms.toFixed(0)} ms (limit ${limits.slowMs} ms)`);
}

/** What the runner sends a fuzz worker thread: fuzz a target, or replay saved inputs (`replay`). */
export interface FuzzJob { target: string; timeMs: number; maxExecs: number; seed: number; slowMs: number; shared: SharedArrayBuffer; replay?: Uint8Array[] }
/** What the worker sends back: executions, time, the (shrunk) failing input if any; for a replay, each input's verdict. */
export interface FuzzOutcome {
  execs: number;
  ms: number;
  failure?: { message: string; stack?: string; input: Uint8Array; counterexamplePath?: string };
  replayed?: (string | null)[];
}

/** Layout of the shared buffer: [executions, input length] as int32, then the current input's bytes. */
export const SHARED_HEADER = 8;
