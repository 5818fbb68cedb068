/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;
/**
 * Seeded pseudo-random numbers for the synthetic tissue generator and the reference model's fit.
 * mulberry32 (Tommy Ettinger, public domain) is tiny, fast and good enough for simulation; the same
 * seed gives the same sequence on every platform because it uses 32-bit integer arithmetic only.
 */
export class Random {
  private state: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    // Mix the seed once so that nearby seeds (0, 1, 2…) do not start on correlated sequences.
    this.state = (math.imul(seed >>> 0 ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = math.sqrt(-2 * math.log(u));
    this.spareNormal = r * math.sin(2 * math.PI * v);
    return r * math.cos(2 * math.PI * v);
  }

  /**
   * Poisson-distributed count with mean `lambda`: Knuth's product method for small means, the normal
   * approximation (continuity-corrected, clipped at 0) above 30 where it is accurate to well under 1 %.
   */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return math.max(0, math.round(lambda + math.sqrt(lambda) * this.normal()));
    const limit = math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}
