import { ConfigError, InvalidArrayError } from '../errors';
import { openMaskWriter, type MaskFormat } from '../formats/mask-writer';
import { readNpz, writeNpz } from '../formats/npz';
import { resolveParams, ZARR_LABEL } from '../postprocess';
import type { Compartment, DeepWatershedParams } from '../postprocess/params';
import { writeBoxes } from './boxes';
import { openBlob, readBlob, readJson, writeBlob, writeJson, type OpenBlob } from './files';
import {
  BLOCK_TISSUE, MASK_TILE, blockCore, blockCount, blockLabel, blockWindow, matchPartners, type Rect,
} from './grid';
import { matchViews } from './match';
import type { BlockContext } from './plan';
import { COMPARTMENTS, corePieces, segmentWindow, type Piece } from './segment';
import { blockRelabel, cellsPerBlock, stitchObjects, type BlockPieces } from './stitch';
import { blendWindow, tileOwner, tilesTouching, windowMaps, MAP_CHANNELS } from './tiles';

/** What the watershed of each compartment takes beyond Mesmer's defaults (RunSettings['postprocess']). */
export interface WatershedOverrides {
  wholeCell?: Partial<DeepWatershedParams>;
  nuclear?: Partial<DeepWatershedParams>;
}

interface PiecesFile { window: Rect; pieces: Record<Compartment, Piece[]> }
interface MatchesFile { partners: { partner: number; pairs: Record<Compartment, [number, number][]> }[] }
const ARRAY: Record<Compartment, string> = { 'whole-cell': 'whole_cell', nuclear: 'nuclear' };

/**
 * A block's deep watershed: its window's maps blended from the raw outputs of every model tile that
 * touches it (read by range from the blocks that ran them), both compartments segmented, the window
 * labels stored and the pieces in its core listed.
 */
export async function watershedBlock(ctx: BlockContext, b: number, overrides: WatershedOverrides = {}): Promise<Record<Compartment, number>> {
  const { plan, files, grid } = ctx;
  const { layout } = plan;
  const window = blockWindow(layout, b);
  const core = blockCore(layout, b);
  const px = grid.tileSize * grid.tileSize * MAP_CHANNELS;
  const opened = new Map<number, Promise<OpenBlob<{ tiles: number[] }>>>();
  let maps: Float32Array;
  try {
    maps = await blendWindow(grid, window, tilesTouching(grid, window), async (t) => {
      const owner = tileOwner(layout, grid, t);
      let blob = opened.get(owner);
      if (!blob) opened.set(owner, (blob = openBlob<{ tiles: number[] }>(files.tiles(owner))));
      const f = await blob;
      const k = f.header.tiles.indexOf(t);
      if (k < 0) throw new InvalidArrayError(files.tiles(owner), `holds no output for model tile ${t}, which block ${blockLabel(layout, b)} needs`);
      const bytes = await f.read(k * px * 4, px * 4);
      return new Float32Array(bytes.buffer, bytes.byteOffset, px);
    });
  } finally {
    await Promise.all([...opened.values()].map((p) => p.then((f) => f.close(), () => undefined)));
  }
  const labels: Record<string, { data: Int32Array; shape: number[]; dtype: 'int32' }> = {};
  const pieces = {} as Record<Compartment, Piece[]>;
  for (const c of COMPARTMENTS) {
    const params = resolveParams(c, c === 'nuclear' ? overrides.nuclear : overrides.wholeCell);
    const seg = segmentWindow(windowMaps(maps, window, c), window, layout.width, params);
    labels[ARRAY[c]] = { data: seg.labels, shape: [window.height, window.width], dtype: 'int32' };
    pieces[c] = corePieces(seg, window, core);
  }
  await writeNpz(files.labels(b), labels, { compress: true });
  await writeJson(files.pieces(b), { window, pieces } satisfies PiecesFile);
  return { 'whole-cell': pieces['whole-cell'].length, nuclear: pieces.nuclear.length };
}

async function windowLabels(ctx: BlockContext, b: number): Promise<{ window: Rect; labels: Record<Compartment, Int32Array>; pieces: Record<Compartment, Piece[]> }> {
  const [arrays, p] = await Promise.all([readNpz(ctx.files.labels(b)), readJson<PiecesFile>(ctx.files.pieces(b))]);
  const labels = {} as Record<Compartment, Int32Array>;
  for (const c of COMPARTMENTS) {
    const a = arrays.get(ARRAY[c]);
    if (!a || a.dtype !== 'int32' || a.shape[0] !== p.window.height || a.shape[1] !== p.window.width) {
      throw new InvalidArrayError(ctx.files.labels(b), `has no ${p.window.height}×${p.window.width} int32 '${ARRAY[c]}' labels`);
    }
    labels[c] = a.data as Int32Array;
  }
  return { window: p.window, labels, pieces: p.pieces };
}

/** Pairs a block's pieces with those of its right and lower segmented neighbours (see match.ts). */
export async function matchBlock(ctx: BlockContext, b: number): Promise<number> {
  const { plan, files } = ctx;
  const own = await windowLabels(ctx, b);
  const partners: MatchesFile['partners'] = [];
  let pairs = 0;
  for (const m of matchPartners(plan.layout, b)) {
    if (plan.roles![m] !== BLOCK_TISSUE) continue;
    const other = await windowLabels(ctx, m);
    const byCompartment = {} as Record<Compartment, [number, number][]>;
    for (const c of COMPARTMENTS) {
      byCompartment[c] = matchViews(
        { labels: own.labels[c], window: own.window, pieces: new Set(own.pieces[c].map((p) => p.label)) },
        { labels: other.labels[c], window: other.window, pieces: new Set(other.pieces[c].map((p) => p.label)) },
      );
      pairs += byCompartment[c].length;
    }
    partners.push({ partner: m, pairs: byCompartment });
  }
  await writeJson(files.matches(b), { partners } satisfies MatchesFile);
  return pairs;
}

export interface StitchOutputs {
  /** Boxes beside the masks: `<name>_WholeCellBoxes.npy`, `<name>_NucleusBoxes.npy`. */
  boxesUri: Record<Compartment, string>;
}

/**
 * Stitches both compartments over every segmented block: global labels, the relabel tables, the boxes
 * (written beside the masks), and for each block the cells it will measure.
 */
export async function stitchBlocks(ctx: BlockContext, out: StitchOutputs): Promise<{ cells: number; nuclei: number; measuring: string }> {
  const { plan, files } = ctx;
  const { layout } = plan;
  const segmented = Array.from({ length: blockCount(layout) }, (_, b) => b).filter((b) => plan.roles![b] === BLOCK_TISSUE);
  const counts = {} as Record<Compartment, number>;
  let measuring = '';
  for (const c of COMPARTMENTS) {
    const blocks: BlockPieces[] = [];
    for (const b of segmented) {
      const [p, m] = await Promise.all([readJson<PiecesFile>(files.pieces(b)), readJson<MatchesFile>(files.matches(b))]);
      blocks.push({ index: b, pieces: p.pieces[c], matches: m.partners.map((x) => ({ partner: x.partner, pairs: x.pairs[c] })) });
    }
    const s = stitchObjects(blocks);
    counts[c] = s.count;
    await writeBlob(files.relabel(c), { triplets: s.relabel.length / 3 }, [s.relabel]);
    await writeBoxes(out.boxesUri[c], s.boxes);
    if (c === 'whole-cell') {
      const per = cellsPerBlock(layout, s.boxes);
      for (const [b, cells] of per) await writeJson(files.cells(b), cells);
      for (let b = 0; b < blockCount(layout); b++) measuring += per.has(b) ? '1' : '0';
    }
  }
  const summary = { cells: counts['whole-cell'], nuclei: counts.nuclear, measuring };
  await writeJson(files.stitch, summary);
  return summary;
}

export interface MaskOutput {
  /** ome-tiff: the TIFF; ome-zarr: the label inside its root, `<root>.ome.zarr/labels/<WholeCell|Nucleus>`. */
  uri: string;
  format?: MaskFormat;
  name?: string;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * Writes one compartment's mask through the region writer, block core by block core (tile-aligned),
 * each core's labels renamed to their global labels; blocks that were not segmented are background.
 */
export async function writeBlockMask(ctx: BlockContext, compartment: Compartment, out: MaskOutput): Promise<number> {
  const { plan, files } = ctx;
  const { layout } = plan;
  const { data } = await readBlob<{ triplets: number }>(files.relabel(compartment));
  const relabel = new Int32Array(data);
  const zarr = out.format === 'ome-zarr' ? /^(.+)\/labels\/([^/]+)$/.exec(out.uri) : undefined;
  if (zarr === null) throw new ConfigError(`an OME-Zarr mask is a label inside a root (<root>.ome.zarr/labels/<name>), got '${out.uri}'`, { file: out.uri });
  // The two compartments' masks are written by separate tasks (other threads or workers) into one root.
  const writer = await openMaskWriter(zarr ? zarr[1] : out.uri, {
    width: layout.width, height: layout.height, tileSize: MASK_TILE, format: out.format, umPerPixel: plan.umPerPixel, name: out.name,
    ...(zarr ? { labelName: zarr[2], listedWith: Object.values(ZARR_LABEL) } : {}),
  });
  let max = 0;
  try {
    for (let b = 0; b < blockCount(layout); b++) {
      out.signal?.throwIfAborted();
      const core = blockCore(layout, b);
      const labels = new Int32Array(core.width * core.height);
      if (plan.roles![b] === BLOCK_TISSUE) {
        const w = await windowLabels(ctx, b);
        const local = w.labels[compartment];
        let maxLocal = 0;
        for (const p of w.pieces[compartment]) if (p.label > maxLocal) maxLocal = p.label;
        const table = blockRelabel(relabel, b, maxLocal);
        for (let y = 0; y < core.height; y++) {
          const src = (core.y + y - w.window.y) * w.window.width + (core.x - w.window.x);
          for (let x = 0; x < core.width; x++) {
            const v = table[local[src + x]];
            labels[y * core.width + x] = v;
            if (v > max) max = v;
          }
        }
      }
      await writer.writeRegion(core.x, core.y, core.width, core.height, labels);
      out.onProgress?.((b + 1) / blockCount(layout));
    }
    await writer.commit();
  } catch (e) {
    await writer.abort().catch(() => undefined);
    throw e;
  }
  return max;
}
