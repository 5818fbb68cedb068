import { compareRuns, fitLine, keepImage, NO_FILTER, summarize } from '../../../core/dashboard/figures';
import type { DashboardData, FitSums, ImageCell, StageCell } from '../../../core/dashboard/model';
import { DEFAULT_PRICES, resolvePrices } from '../../../core/dashboard/prices';
import { capsFor } from '../../../core/dashboard/queries';
import { bigQueryDialect, duckDbDialect } from '../../../core/dashboard/sql';

const sums = (pts: [number, number][]): FitSums => ({
  n: pts.length, sx: pts.reduce((a, p) => a + p[0], 0), sy: pts.reduce((a, p) => a + p[1], 0),
  sxx: pts.reduce((a, p) => a + p[0] ** 2, 0), sxy: pts.reduce((a, p) => a + p[0] * p[1], 0), syy: pts.reduce((a, p) => a + p[1] ** 2, 0),
});

describe('fitLine', () => {
  it('recovers a line exactly, and R² of noisy points', () => {
    const f = fitLine(sums([[0.5, 3.5], [1, 5], [4, 14], [8, 26]]))!;
    expect(f.slope).toBeCloseTo(3, 12);
    expect(f.intercept).toBeCloseTo(2, 12);
    expect(f.r2).toBeCloseTo(1, 12);
    // y = x + noise with known least squares: x = 0,1,2,3; y = 0,2,1,3 → slope 0.8, intercept 0.3, r = 0.8.
    const g = fitLine(sums([[0, 0], [1, 2], [2, 1], [3, 3]]))!;
    expect([g.slope, g.intercept, g.r2]).toEqual([expect.closeTo(0.8, 12), expect.closeTo(0.3, 12), expect.closeTo(0.64, 12)]);
  });

  it('a constant y has slope 0 and no R²; one image size has no line', () => {
    expect(fitLine(sums([[0.3, 0.01], [1.7, 0.01], [9.1, 0.01]]))).toEqual({ n: 3, slope: 0, intercept: expect.closeTo(0.01, 15), r2: null });
    expect(fitLine(sums([[2, 1], [2, 3]]))).toBeNull();
    expect(fitLine(sums([[2, 1]]))).toBeNull();
  });
});

const image = (run: string, day: string, machines: string[], extra: Partial<ImageCell>): ImageCell => ({
  run, day, machines, gpu: '(none)', images: 1, done: 1, cells: 100, mpx: 1, imageS: 10, costUsd: 0.01, unpricedS: 0, firstMs: 0, lastMs: 10_000, ...extra,
});
const stage = (run: string, machine: string, cpuS: number): StageCell => ({
  run, stage: 'convert', queue: 'cpu', day: '2024-01-01', machine, gpu: '(none)', n: 1, loadS: 0, computeS: cpuS, writeS: 0, waitN: 0, waitS: 0, waitMaxS: null,
  attemptsN: 1, attempts: 1, retried: 0, mpx: 1, gpuS: 0, cpuS, costUsd: 0, unpricedS: 0, time: sums([]), memory: sums([]), memMaxGb: null,
});
const data = (imageCells: ImageCell[], stageCells: StageCell[] = []): DashboardData => ({
  version: 1, source: { kind: 'duckdb', name: 'x' }, generatedAtMs: 0, notes: [], prices: [], rows: 0, runs: [], imageCells, stageCells,
  failureCells: [], busy: [], islands: [], images: [], points: [], failures: [], caps: capsFor(1),
});

describe('combining cells', () => {
  it('an image counts under every machine one of its stages ran on; days are inclusive', () => {
    const c = image('r', '2024-01-02', ['n2', 'g2'], {});
    expect(keepImage(c, { ...NO_FILTER, machines: ['g2'] })).toBe(true);
    expect(keepImage(c, { ...NO_FILTER, machines: ['a2'] })).toBe(false);
    expect(keepImage(c, { ...NO_FILTER, from: '2024-01-02', to: '2024-01-02' })).toBe(true);
    expect(keepImage(c, { ...NO_FILTER, from: '2024-01-03' })).toBe(false);
  });

  it('wall time is per run, summed; ratios over completed images', () => {
    const d = data([
      image('a', '2024-01-01', ['n'], { firstMs: 3000, lastMs: 9000, costUsd: 0.5, mpx: 2 }),
      image('a', '2024-01-01', ['m'], { firstMs: 1000, lastMs: 5000, images: 2, done: 1, costUsd: 0.5, mpx: 2 }),
      image('b', '2024-01-02', ['m'], { firstMs: 100_000, lastMs: 110_000 }),
    ], [stage('a', 'm', 3600), stage('b', 'n', 1800)]);
    const s = summarize(d, NO_FILTER);
    expect(s.wallS).toBe(8 + 10); // a: 1 s → 9 s; b: 10 s — not 109 s from a's start to b's end
    expect(s.images).toBe(4);
    expect(s.failed).toBe(1);
    expect(s.costPerImage).toBeCloseTo(1.01 / 3, 12);
    expect(s.costPerGpx).toBeCloseTo(1.01 / (5 / 1000), 12);
    expect(s.cpuHours).toBe(1.5);
    expect(summarize(d, { ...NO_FILTER, runs: ['b'] }).cpuHours).toBe(0.5);
  });

  it('run vs run: change in percent of A, none when A is 0', () => {
    const d = data([image('a', 'd', ['m'], { cells: 200 }), image('b', 'd', ['m'], { cells: 300, costUsd: 0 })]);
    const rows = Object.fromEntries(compareRuns(d, NO_FILTER, 'a', 'b').map((r) => [r.label, r]));
    expect(rows.cells).toMatchObject({ a: 200, b: 300, changePct: 50 });
    expect(rows.cost).toMatchObject({ a: 0.01, b: 0, changePct: -100 });
    expect(rows['images failed']).toMatchObject({ a: 0, b: 0, changePct: null });
  });
});

describe('prices and SQL literals', () => {
  it('the env config beats the defaults; a machine in neither has no price', () => {
    expect(resolvePrices(['n1-standard-8', 'g2-standard-8', 'box', 'box'], { 'n1-standard-8': 0.5 })).toEqual([
      { instanceType: 'box', usdPerHour: null, source: 'none' },
      { instanceType: 'g2-standard-8', usdPerHour: DEFAULT_PRICES['g2-standard-8'], source: 'default', note: expect.stringMatching(/us-central1/) },
      { instanceType: 'n1-standard-8', usdPerHour: 0.5, source: 'env config' },
    ]);
  });

  it('run ids are quoted for each dialect', () => {
    expect(duckDbDialect().str("it's \\ x")).toBe("'it''s \\ x'");
    expect(bigQueryDialect('p.d.t').str("it's \\ x")).toBe("'it\\'s \\\\ x'");
    expect(bigQueryDialect('p.d.t').table).toBe('`p.d.t`');
  });

  it('caps share a budget among runs, with a floor and a ceiling', () => {
    expect(capsFor(1).imagesPerRun).toBe(400);
    expect(capsFor(20).imagesPerRun).toBe(100);
    expect(capsFor(1000).imagesPerRun).toBe(30);
  });
});
