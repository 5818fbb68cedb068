import { replayRegressions, runTarget } from './runner';
import { TARGETS } from './targets';

/**
 * The fuzz targets in `npm test`: every saved regression input (each a crash, hang or memory blow-up the
 * fuzzer once found, fixed since) replays clean, then each target fuzzes briefly. The short run uses a
 * fixed seed by default, so CI explores the same inputs every time and a failure there is a regression,
 * not a new find in someone else's change; the long, randomly seeded run that finds new bugs is
 * `npm run fuzz` (docs/security.md). TESSEL_FUZZ_SECONDS (default 10 per target) and TESSEL_FUZZ_SEED
 * (a number, or `random`) change that.
 */
const SECONDS = Number(process.env.TESSEL_FUZZ_SECONDS ?? 10);
const SEED = process.env.TESSEL_FUZZ_SEED === 'random' ? undefined : Number(process.env.TESSEL_FUZZ_SEED ?? 20241201);

jest.setTimeout((SECONDS + 120) * 1000);

describe.each(TARGETS.map((t) => [t.name, t.what] as const))('fuzz target %s', (name, what) => {
  it(`replays its regression inputs clean (${what})`, async () => {
    expect(await replayRegressions(name)).toEqual([]);
  });

  it(`keeps every invariant for ${SECONDS} s of fuzzing`, async () => {
    const r = await runTarget({ target: name, timeMs: SECONDS * 1000, seed: SEED });
    if (r.failure) throw new Error(`${name}: ${r.failure.kind} after ${r.execs} executions (seed ${r.seed}): ${r.failure.message}\n  input saved as ${r.failure.file}; replay: npm run fuzz -- --replay ${r.failure.file}`);
    expect(r.execs).toBeGreaterThan(50);
  });
});
