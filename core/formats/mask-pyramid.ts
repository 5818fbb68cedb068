import { promisify } from 'node:util';
import { deflateRaw as deflateRawCb, inflateRawSync } from 'node:zlib';

const deflateRaw = promisify(deflateRawCb);

/**
 * The resolution pyramid of a label mask, built tile by tile as level-0 tiles arrive in any order.
 * Level k samples level 0 with stride 2^k (`mask[::2**k, ::2**k]` in numpy): nearest-neighbour, never
 * an average, so every pixel of every level is a label that exists at full resolution. Levels are
 * added until one fits in a single tile.
 *
 * A level-k tile is the stride-2 sample of four level-(k-1) tiles (fewer at the right and bottom
 * edges). Each quarter is kept, deflated, until its siblings arrive; then the tile is emitted and
 * sampled for the level above. Memory is therefore the compressed quarters of partly covered tiles: a
 * row of tiles when regions arrive roughly in raster order, at worst a compressed quarter of the
 * plane, never the plane itself.
 */

/** Width and height of each level, level 0 first. */
export function pyramidLevels(width: number, height: number, tileSize: number): { width: number; height: number }[] {
  const levels = [{ width, height }];
  while (Math.max(levels[levels.length - 1].width, levels[levels.length - 1].height) > tileSize) {
    const prev = levels[levels.length - 1];
    levels.push({ width: Math.ceil(prev.width / 2), height: Math.ceil(prev.height / 2) });
  }
  return levels;
}

/** Receives each finished tile: T×T int32, row-major, zero beyond the level's edge. */
export type TileSink = (level: number, tx: number, ty: number, tile: Int32Array) => Promise<void>;

interface Partial {
  quarters: (Buffer | undefined)[];
  have: number;
  need: number;
}

export class MaskPyramid {
  readonly levels: { width: number; height: number; tilesAcross: number; tilesDown: number }[];
  private readonly partial = new Map<string, Partial>();

  constructor(width: number, height: number, readonly tileSize: number, private readonly sink: TileSink) {
    this.levels = pyramidLevels(width, height, tileSize).map((l) => ({ ...l, tilesAcross: Math.ceil(l.width / tileSize), tilesDown: Math.ceil(l.height / tileSize) }));
  }

  /** Tiles the pyramid still waits for quarters of (for tests and memory accounting). */
  get pendingTiles(): number {
    return this.partial.size;
  }

  /** Bytes held for partly covered tiles. */
  get pendingBytes(): number {
    let n = 0;
    for (const p of this.partial.values()) for (const q of p.quarters) n += q?.length ?? 0;
    return n;
  }

  /** Hands over a finished tile of `level` (level 0 from the writer): emits it and feeds the level above. */
  async add(level: number, tx: number, ty: number, tile: Int32Array): Promise<void> {
    const emitted = this.sink(level, tx, ty, tile);
    if (level + 1 < this.levels.length) await Promise.all([emitted, this.feed(level + 1, tx, ty, tile)]);
    else await emitted;
  }

  private async feed(level: number, childX: number, childY: number, child: Int32Array): Promise<void> {
    const t = this.tileSize;
    const h = t / 2;
    const quarter = new Int32Array(h * h);
    for (let r = 0; r < h; r++) {
      const row = 2 * r * t;
      for (let c = 0; c < h; c++) quarter[r * h + c] = child[row + 2 * c];
    }
    const packed = await deflateRaw(quarter, { level: 1 });
    const px = childX >> 1, py = childY >> 1;
    const key = `${level}:${px}:${py}`;
    let p = this.partial.get(key);
    if (!p) {
      const below = this.levels[level - 1];
      const need = (Math.min(2 * px + 2, below.tilesAcross) - 2 * px) * (Math.min(2 * py + 2, below.tilesDown) - 2 * py);
      p = { quarters: [undefined, undefined, undefined, undefined], have: 0, need };
      this.partial.set(key, p);
    }
    const slot = (childY & 1) * 2 + (childX & 1);
    if (p.quarters[slot]) throw new Error(`pyramid tile ${key} got quarter ${slot} twice`);
    p.quarters[slot] = packed;
    if (++p.have < p.need) return;
    this.partial.delete(key);
    const tile = new Int32Array(t * t);
    p.quarters.forEach((q, s) => {
      if (!q) return; // beyond the edge: stays 0
      const data = new Int32Array(h * h);
      new Uint8Array(data.buffer).set(inflateRawSync(q)); // copied: zlib's buffer need not be 4-byte aligned
      const ox = (s & 1) * h, oy = (s >> 1) * h;
      for (let r = 0; r < h; r++) tile.set(data.subarray(r * h, (r + 1) * h), (oy + r) * t + ox);
    });
    await this.add(level, px, py, tile);
  }
}
