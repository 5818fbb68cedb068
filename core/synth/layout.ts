import { Random } from './random';

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;

/**
 * Cell and nucleus layout of a synthetic tissue: label masks only, no intensities.
 *
 * Cells grow from jittered hexagonal-grid seeds as an additively weighted Voronoi diagram of ellipses
 * (pixel p goes to the seed minimising `(e_i(p) − 1)·r_i`, where `e_i` is the normalised elliptical
 * distance and `r_i` the cell's maximum radius), limited to `e_i < 1`: neighbours touch along polygonal
 * boundaries, and where seeds are missing (dropped seeds, lumens) the radius limit leaves gaps, as in
 * real tissue. Each cell then gets one elliptical nucleus around its seed, kept ≥ 2 px inside the cell.
 * Both masks are cleaned so every label is one 4-connected piece, and relabelled 1..n with the nucleus
 * of cell k labelled k.
 */
export interface TissueLayout {
  width: number;
  height: number;
  wholeCellMask: Int32Array;
  nucleusMask: Int32Array;
  cellCount: number;
}

export interface LayoutOptions {
  width: number;
  height: number;
  umPerPixel: number;
  random: Random;
}

/** Typical seed spacing and maximum cell radius in µm (cells come out ≈ 12–20 µm across). */
const SEED_SPACING_UM = 14;
const MIN_RADIUS_UM = 6.5;
const MAX_RADIUS_UM = 10;
const DROPPED_SEED_FRACTION = 0.06;
const MIN_CELL_PIXELS = 60;
const MIN_NUCLEUS_PIXELS = 12;

interface Seed { x: number; y: number; radius: number; cos: number; sin: number; sqrtAspect: number }

export function layoutTissue(opts: LayoutOptions): TissueLayout {
  const { width, height, umPerPixel, random } = opts;
  const seeds = placeSeeds(width, height, umPerPixel, random);
  const n = width * height;
  const label = new Int32Array(n);
  const best = new Float32Array(n).fill(Infinity);

  // Weighted Voronoi assignment, each seed only touching its bounding box.
  for (let s = 0; s < seeds.length; s++) {
    const seed = seeds[s];
    const reach = math.ceil(seed.radius * seed.sqrtAspect) + 1;
    const x0 = math.max(0, math.floor(seed.x) - reach), x1 = math.min(width - 1, math.ceil(seed.x) + reach);
    const y0 = math.max(0, math.floor(seed.y) - reach), y1 = math.min(height - 1, math.ceil(seed.y) + reach);
    for (let y = y0; y <= y1; y++) {
      const dy = y - seed.y;
      for (let x = x0; x <= x1; x++) {
        const dx = x - seed.x;
        const u = (dx * seed.cos + dy * seed.sin) / seed.sqrtAspect;
        const v = (-dx * seed.sin + dy * seed.cos) * seed.sqrtAspect;
        const e = math.sqrt(u * u + v * v) / seed.radius;
        if (e >= 1) continue;
        const score = (e - 1) * seed.radius;
        const i = y * width + x;
        if (score < best[i]) {
          best[i] = score;
          label[i] = s + 1;
        }
      }
    }
  }
  keepSeedComponents(label, width, height, seeds);

  // Nuclei: an ellipse around the seed, inside the cell eroded by 2 px, one 4-connected piece.
  const area = new Int32Array(seeds.length + 1);
  for (let i = 0; i < n; i++) area[label[i]]++;
  const nucleus = new Int32Array(n);
  for (let s = 0; s < seeds.length; s++) {
    const id = s + 1;
    if (area[id] < MIN_CELL_PIXELS) continue;
    const seed = seeds[s];
    const cellRadius = math.sqrt(area[id] / math.PI);
    const r = random.uniform(0.4, 0.6) * cellRadius;
    const aspect = random.uniform(1, 1.5), sq = math.sqrt(aspect);
    const theta = random.uniform(0, math.PI), c = math.cos(theta), sn = math.sin(theta);
    const cx = seed.x + random.uniform(-1, 1), cy = seed.y + random.uniform(-1, 1);
    const reach = math.ceil(r * sq) + 1;
    const x0 = math.max(2, math.floor(cx) - reach), x1 = math.min(width - 3, math.ceil(cx) + reach);
    const y0 = math.max(2, math.floor(cy) - reach), y1 = math.min(height - 3, math.ceil(cy) + reach);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const i = y * width + x;
        if (label[i] !== id) continue;
        const dx = x - cx, dy = y - cy;
        const u = (dx * c + dy * sn) / sq, v = (-dx * sn + dy * c) * sq;
        if (u * u + v * v >= r * r) continue;
        if (!insideByTwo(label, width, i, id)) continue;
        nucleus[i] = id;
      }
    }
  }
  keepSeedComponents(nucleus, width, height, seeds);

  // Drop cells too small or without a nucleus, then relabel both masks 1..n in seed order.
  const nucleusArea = new Int32Array(seeds.length + 1);
  for (let i = 0; i < n; i++) nucleusArea[nucleus[i]]++;
  const remap = new Int32Array(seeds.length + 1);
  let next = 0;
  for (let id = 1; id <= seeds.length; id++) {
    if (area[id] >= MIN_CELL_PIXELS && nucleusArea[id] >= MIN_NUCLEUS_PIXELS) remap[id] = ++next;
  }
  for (let i = 0; i < n; i++) {
    label[i] = remap[label[i]];
    nucleus[i] = remap[nucleus[i]];
  }
  return { width, height, wholeCellMask: label, nucleusMask: nucleus, cellCount: next };
}

function placeSeeds(width: number, height: number, umPerPixel: number, random: Random): Seed[] {
  const spacing = SEED_SPACING_UM / umPerPixel;
  const rowStep = spacing * math.sqrt(3) / 2;
  // Lumens / stroma: a few empty discs so the image has background regions, about one per 400×400 px.
  const lumens: { x: number; y: number; r: number }[] = [];
  const lumenCount = math.round(random.uniform(0.5, 1.5) * (width * height) / (800 / umPerPixel) ** 2 * 4);
  for (let k = 0; k < lumenCount; k++) {
    lumens.push({ x: random.uniform(0, width), y: random.uniform(0, height), r: random.uniform(15, 35) / umPerPixel });
  }
  const seeds: Seed[] = [];
  for (let row = 0, y = spacing / 3; y < height; row++, y += rowStep) {
    for (let x = (row % 2) * spacing / 2 + spacing / 4; x < width; x += spacing) {
      const sx = x + random.uniform(-0.3, 0.3) * spacing;
      const sy = y + random.uniform(-0.3, 0.3) * spacing;
      const radius = random.uniform(MIN_RADIUS_UM, MAX_RADIUS_UM) / umPerPixel;
      const aspect = random.uniform(1, 1.4);
      const theta = random.uniform(0, math.PI);
      if (random.chance(DROPPED_SEED_FRACTION)) continue;
      if (sx < 0 || sy < 0 || sx > width - 1 || sy > height - 1) continue;
      if (lumens.some((l) => (sx - l.x) ** 2 + (sy - l.y) ** 2 < l.r * l.r)) continue;
      seeds.push({ x: sx, y: sy, radius, cos: math.cos(theta), sin: math.sin(theta), sqrtAspect: math.sqrt(aspect) });
    }
  }
  return seeds;
}

/** Whether every pixel within chessboard-ish distance 2 of flat index i carries the same label. */
function insideByTwo(label: Int32Array, width: number, i: number, id: number): boolean {
  const offsets = [-1, 1, -width, width, -2, 2, -2 * width, 2 * width, -width - 1, -width + 1, width - 1, width + 1];
  for (const o of offsets) if (label[i + o] !== id) return false;
  return true;
}

/**
 * Keep, for each label, only the 4-connected piece containing its seed pixel (the others become 0), so
 * ground-truth objects are single connected regions as segmentation metrics assume.
 */
function keepSeedComponents(label: Int32Array, width: number, height: number, seeds: Seed[]): void {
  const reached = new Uint8Array(label.length);
  const queue = new Int32Array(label.length);
  for (let s = 0; s < seeds.length; s++) {
    const id = s + 1;
    const start = math.round(seeds[s].y) * width + math.round(seeds[s].x);
    if (label[start] !== id) continue;
    let head = 0, tail = 0;
    queue[tail++] = start;
    reached[start] = 1;
    while (head < tail) {
      const i = queue[head++];
      const x = i % width, y = (i - x) / width;
      if (x > 0 && !reached[i - 1] && label[i - 1] === id) { reached[i - 1] = 1; queue[tail++] = i - 1; }
      if (x < width - 1 && !reached[i + 1] && label[i + 1] === id) { reached[i + 1] = 1; queue[tail++] = i + 1; }
      if (y > 0 && !reached[i - width] && label[i - width] === id) { reached[i - width] = 1; queue[tail++] = i - width; }
      if (y < height - 1 && !reached[i + width] && label[i + width] === id) { reached[i + width] = 1; queue[tail++] = i + width; }
    }
  }
  for (let i = 0; i < label.length; i++) if (!reached[i]) label[i] = 0;
}
