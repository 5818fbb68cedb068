import type { Plane } from '../formats/ndarray';
import { ConfigError } from '../errors';
import { blurInPlace } from './blur';
import { layoutTissue } from './layout';
import { Random } from './random';
import { innerBoundary } from '../kernels/boundary';

/** Module-local alias: a global lookup per call is slow in hot loops inside Jest's vm sandbox. */
const math = Math;

/** Options for {@link generateTissue}. */
export interface TissueOptions {
  width: number;
  height: number;
  /** PRNG seed: the same options give the same image, bit for bit. */
  seed: number;
  /** Number of channels, ≥ 4. @default 6 */
  channels?: number;
  /** Pixel size in µm; cell sizes are fixed in µm, so this sets them in pixels. @default 0.5 */
  umPerPixel?: number;
}

/** A synthetic multiplexed tissue image and its ground truth. */
export interface SyntheticTissue {
  /** One uint16 plane per channel, in `channelNames` order. */
  channels: Plane<Uint16Array>[];
  channelNames: string[];
  /** Row-major labels, 0 = background, cells 1..cellCount. */
  wholeCellMask: Int32Array;
  /** Row-major labels; the nucleus of cell k carries label k (exactly one per cell). */
  nucleusMask: Int32Array;
  umPerPixel: number;
  cellCount: number;
  /**
   * Marker-defined ground-truth type of each cell, indexed by whole-cell label (index 0 unused): `CD8+`
   * (a CD3+ cell that also expresses CD8), `CD3+` (CD3+ and not CD8+), `PanCK+`, or `other`. Decided by
   * which markers the cell was drawn to express, so it is exact; types whose marker is not among the
   * channels do not occur (with 4 channels there is no CD8, so no `CD8+`).
   */
  cellTypes: CellTypeName[];
}

/** The marker-defined cell types of {@link SyntheticTissue.cellTypes}, in a fixed order. */
export const CELL_TYPE_NAMES = ['CD3+', 'CD8+', 'PanCK+', 'other'] as const;
export type CellTypeName = typeof CELL_TYPE_NAMES[number];

type Localisation = 'nucleus' | 'membrane' | 'cytoplasm';
type CellType = 'epithelial' | 'tcell' | 'bcell' | 'macrophage' | 'stromal';

interface MarkerSpec {
  name: string;
  where: Localisation;
  /** Probability that a cell of each type expresses the marker. */
  positive: (type: CellType, rng: Random, cd3: boolean) => boolean;
  /** Expected photon count at full expression. */
  peak: number;
}

/**
 * The marker panel, in channel order after DAPI and the pan-membrane stain. Localisations follow the
 * biology loosely (CD3/CD8/CD20/CD45 on the membrane, Ki67 nuclear, PanCK/CD68/Vimentin cytoplasmic).
 */
const PANEL: MarkerSpec[] = [
  { name: 'PanCK', where: 'cytoplasm', peak: 1400, positive: (t, r) => t === 'epithelial' && r.chance(0.9) },
  { name: 'CD3', where: 'membrane', peak: 1200, positive: (t) => t === 'tcell' },
  { name: 'CD8', where: 'membrane', peak: 1000, positive: (t, r, cd3) => cd3 && r.chance(0.5) },
  { name: 'Ki67', where: 'nucleus', peak: 1500, positive: (_t, r) => r.chance(0.15) },
  { name: 'CD20', where: 'membrane', peak: 1100, positive: (t) => t === 'bcell' },
  { name: 'CD45', where: 'membrane', peak: 900, positive: (t) => t === 'tcell' || t === 'bcell' || t === 'macrophage' },
  { name: 'CD68', where: 'cytoplasm', peak: 1000, positive: (t) => t === 'macrophage' },
  { name: 'Vimentin', where: 'cytoplasm', peak: 900, positive: (t, r) => t === 'stromal' || (t === 'macrophage' && r.chance(0.5)) },
];

const DAPI_PEAK = 3000;
const MEMBRANE_PEAK = 1600;
const READ_NOISE = 4;

/**
 * Generate a synthetic multiplexed tissue image with exact ground truth.
 *
 * Layout: see {@link layoutTissue} (touching ~12–20 µm cells with gaps and lumens, one nucleus each).
 * Channel 0 is `DAPI` (textured nuclear stain), channel 1 `Na-K-ATPase` (membrane stain on every cell's
 * boundary pixels), then markers with cell-type–specific expression (`PanCK`, `CD3`, `CD8`, `Ki67`,
 * `CD20`, `CD45`, `CD68`, `Vimentin`, then `Marker<k>`). Each channel is blurred by a gaussian PSF,
 * given a smooth background and autofluorescence, then Poisson shot noise plus gaussian read noise,
 * and rounded to uint16.
 *
 * @throws ConfigError for non-positive sizes, fewer than 4 channels or a non-positive pixel size.
 */
export function generateTissue(opts: TissueOptions): SyntheticTissue {
  const { width, height, seed } = opts;
  const channelCount = opts.channels ?? 6;
  const umPerPixel = opts.umPerPixel ?? 0.5;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
    throw new ConfigError(`synthetic image size must be integers ≥ 16, got ${width}×${height}`);
  }
  if (width * height > 2 ** 28) throw new ConfigError(`synthetic image ${width}×${height} is too large`);
  if (!Number.isInteger(channelCount) || channelCount < 4) throw new ConfigError(`channels must be an integer ≥ 4, got ${channelCount}`);
  if (!(umPerPixel > 0)) throw new ConfigError(`umPerPixel must be positive, got ${umPerPixel}`);

  const rng = new Random(seed);
  const layout = layoutTissue({ width, height, umPerPixel, random: rng });
  const { wholeCellMask: cell, nucleusMask: nucleus, cellCount } = layout;
  const n = width * height;

  // Per-cell biology.
  const types: CellType[] = [];
  const dapiLevel = new Float32Array(cellCount + 1);
  const membraneLevel = new Float32Array(cellCount + 1);
  for (let id = 1; id <= cellCount; id++) {
    const u = rng.next();
    types[id] = u < 0.5 ? 'epithelial' : u < 0.7 ? 'tcell' : u < 0.8 ? 'bcell' : u < 0.9 ? 'macrophage' : 'stromal';
    dapiLevel[id] = rng.uniform(0.45, 1);
    membraneLevel[id] = rng.uniform(0.45, 1);
  }
  const markers: MarkerSpec[] = [];
  for (let c = 2; c < channelCount; c++) {
    markers.push(PANEL[c - 2] ?? { name: `Marker${c}`, where: (['nucleus', 'membrane', 'cytoplasm'] as const)[c % 3], peak: 1000,
      positive: (_t, r) => r.chance(0.25) });
  }
  const expression = markers.map(() => new Float32Array(cellCount + 1));
  // Which markers each cell expresses, recorded as drawn (no extra random numbers: images stay bit-identical).
  const expresses = (name: string, id: number) => {
    const k = markers.findIndex((m) => m.name === name);
    return k >= 0 && expression[k][id] >= 0.4;
  };
  for (let id = 1; id <= cellCount; id++) {
    const cd3 = types[id] === 'tcell';
    markers.forEach((m, k) => {
      expression[k][id] = m.positive(types[id], rng, cd3) ? rng.uniform(0.4, 1) : rng.uniform(0, 0.04);
    });
  }
  const cellTypes: CellTypeName[] = ['other'];
  for (let id = 1; id <= cellCount; id++) {
    cellTypes[id] = expresses('CD3', id) ? (expresses('CD8', id) ? 'CD8+' : 'CD3+') : expresses('PanCK', id) ? 'PanCK+' : 'other';
  }

  const membrane = innerBoundary(cell, width, height); // QuPath's membrane: cell pixels touching another label
  const background = smoothField(width, height, rng);

  // DAPI: chromatin texture is blurred white noise, so nuclei are bright but not flat.
  const texture = new Float32Array(n);
  for (let i = 0; i < n; i++) texture[i] = rng.next();
  blurInPlace(texture, width, height, 1.2);
  const planes: Float32Array[] = [];
  const dapi = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const id = nucleus[i];
    if (id) dapi[i] = DAPI_PEAK * dapiLevel[id] * (0.55 + 1.8 * (texture[i] - 0.5) + 0.35);
  }
  planes.push(dapi);

  const pan = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const id = cell[i];
    if (!id) continue;
    pan[i] = MEMBRANE_PEAK * membraneLevel[id] * (membrane[i] ? 1 : 0.06);
  }
  planes.push(pan);

  markers.forEach((m, k) => {
    const img = new Float32Array(n);
    const expr = expression[k];
    for (let i = 0; i < n; i++) {
      const id = cell[i];
      if (!id) continue;
      const inNucleus = nucleus[i] === id;
      const here = m.where === 'nucleus' ? inNucleus : m.where === 'membrane' ? membrane[i] === 1 : !inNucleus;
      img[i] = m.peak * expr[id] * (here ? 1 : 0.05);
    }
    planes.push(img);
  });

  const channels: Plane<Uint16Array>[] = planes.map((img, c) => {
    blurInPlace(img, width, height, c === 1 ? 1.3 : 1.0);
    const out = new Uint16Array(n);
    const offset = 60 + 40 * rng.next();
    for (let i = 0; i < n; i++) {
      // Background + autofluorescence inside tissue, then shot noise and read noise.
      const lambda = img[i] + offset * background[i] + (cell[i] ? 25 : 0);
      const v = rng.poisson(lambda) + READ_NOISE * rng.normal();
      out[i] = v <= 0 ? 0 : v >= 65535 ? 65535 : math.round(v);
    }
    return { data: out, width, height };
  });

  return {
    channels,
    channelNames: ['DAPI', 'Na-K-ATPase', ...markers.map((m) => m.name)],
    wholeCellMask: cell,
    nucleusMask: nucleus,
    umPerPixel,
    cellCount,
    cellTypes,
  };
}

/** A smooth positive field around 1 (uneven illumination), a sum of a few random low-frequency waves. */
function smoothField(width: number, height: number, rng: Random): Float32Array {
  const waves = Array.from({ length: 3 }, () => ({
    fx: rng.uniform(0.5, 2) * 2 * math.PI / width, fy: rng.uniform(0.5, 2) * 2 * math.PI / height,
    phase: rng.uniform(0, 2 * math.PI), amp: rng.uniform(0.05, 0.15),
  }));
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 1;
      for (const w of waves) v += w.amp * math.sin(w.fx * x + w.fy * y + w.phase);
      out[y * width + x] = v;
    }
  }
  return out;
}
