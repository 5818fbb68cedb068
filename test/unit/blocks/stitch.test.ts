import { BlockSchedule, type BlockTask } from '../../../core/contracts/block-schedule';
import { blockLayout, blockCore, blockWindow, type Rect } from '../../../core/contracts/blocks';
import { matchViews } from '../../../core/blocks/match';
import { corePieces } from '../../../core/blocks/segment';
import { blockRelabel, cellsPerBlock, stitchObjects, type BlockPieces } from '../../../core/blocks/stitch';
import { imageTileGrid, tileOwner, tileRect, tilesTouching } from '../../../core/blocks/tiles';
import { blockTiles } from '../../../core/blocks/plan';

/**
 * Stitching on literal label images: a "truth" mask is cut into block windows (each window sees the
 * truth, as the watershed of a window sees the whole image's objects where predictions agree), and the
 * stitched cores must give the truth back — cells on block lines whole, neighbours not merged.
 */
const W = 40, H = 30;

/** Truth: rectangles [x0, y0, x1, y1) labelled in raster order of their top-left corner. */
function paint(rects: number[][]): Int32Array {
  const m = new Int32Array(W * H);
  rects.forEach(([x0, y0, x1, y1], k) => { for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = k + 1; });
  return m;
}

function windowOf(mask: Int32Array, w: Rect, relabel: (l: number) => number = (l) => l): Int32Array {
  const out = new Int32Array(w.width * w.height);
  for (let y = 0; y < w.height; y++) for (let x = 0; x < w.width; x++) out[y * w.width + x] = relabel(mask[(w.y + y) * W + w.x + x]);
  return out;
}

/** Cuts `truth` into blocks, each window relabelled 1..n locally (scrambled order), and stitches it back. */
function stitchTruth(truth: Int32Array, blockSize: number, halo: number, seedOf: (label: number) => number): { stitched: Int32Array; count: number } {
  const layout = { ...blockLayout(W, H, blockSize, halo) };
  const blocks: BlockPieces[] = [];
  const views = new Map<number, { labels: Int32Array; window: Rect; pieces: Set<number> }>();
  for (let b = 0; b < layout.rows * layout.cols; b++) {
    const window = blockWindow(layout, b), core = blockCore(layout, b);
    const local = windowOf(truth, window, (l) => (l === 0 ? 0 : 1000 - l)); // another numbering in every window
    const present = [...new Set(local)].filter((l) => l > 0).sort((a, c) => a - c);
    const relabel = new Map(present.map((l, k) => [l, k + 1]));
    const labels = local.map((l) => (l === 0 ? 0 : relabel.get(l)!));
    const seeds = Float64Array.from(present.map((l) => seedOf(1000 - l)));
    const pieces = corePieces({ labels, seeds }, window, core);
    views.set(b, { labels, window, pieces: new Set(pieces.map((p) => p.label)) });
    blocks.push({ index: b, pieces, matches: [] });
  }
  for (const blk of blocks) {
    const { row, col } = { row: Math.floor(blk.index / layout.cols), col: blk.index % layout.cols };
    for (const [dr, dc] of [[0, 1], [1, -1], [1, 0], [1, 1]]) {
      const r = row + dr, c = col + dc;
      if (r < 0 || c < 0 || r >= layout.rows || c >= layout.cols) continue;
      const partner = r * layout.cols + c;
      blk.matches.push({ partner, pairs: matchViews(views.get(blk.index)!, views.get(partner)!) });
    }
  }
  const s = stitchObjects(blocks);
  const stitched = new Int32Array(W * H);
  for (const blk of blocks) {
    const v = views.get(blk.index)!, core = blockCore(layout, blk.index);
    const table = blockRelabel(s.relabel, blk.index, Math.max(0, ...v.pieces));
    for (let y = core.y; y < core.y + core.height; y++) {
      for (let x = core.x; x < core.x + core.width; x++) stitched[y * W + x] = table[v.labels[(y - v.window.y) * v.window.width + x - v.window.x]];
    }
  }
  return { stitched, count: s.count };
}

describe('stitching blocks back into one label image', () => {
  // Cells crossing the block lines at x = 16 and y = 16 (one across the 4-block corner), neighbours touching across them.
  const rects = [[2, 2, 8, 8], [13, 3, 20, 9], [20, 3, 26, 9], [12, 12, 21, 21], [3, 14, 10, 27], [30, 14, 38, 18], [30, 18, 38, 22]];
  const truth = paint(rects);
  const seed = (l: number) => rects[l - 1][1] * W + rects[l - 1][0];

  it('gives every cell one label: cells on block lines whole, touching neighbours not merged, numbered as the whole image', () => {
    for (const [blockSize, halo] of [[16, 8], [16, 4], [20, 6]]) {
      const { stitched, count } = stitchTruth(truth, blockSize, halo, seed);
      expect(count).toBe(rects.length);
      expect(Array.from(stitched)).toEqual(Array.from(truth));
    }
  });

  it('does not merge different cells whose views overlap by half or less', () => {
    const a = { labels: Int32Array.from([1, 1, 1, 1, 0, 0]), window: { x: 0, y: 0, width: 6, height: 1 }, pieces: new Set([1]) };
    const b = { labels: Int32Array.from([0, 0, 2, 2, 2, 2]), window: { x: 0, y: 0, width: 6, height: 1 }, pieces: new Set([2]) };
    expect(matchViews(a, b)).toEqual([]); // IoU 2/6
    const c = { ...b, labels: Int32Array.from([0, 2, 2, 2, 2, 0]) };
    expect(matchViews(a, c)).toEqual([[1, 2]]); // IoU 3/5
    // Only views with a piece in their core take part.
    expect(matchViews(a, { ...c, pieces: new Set<number>() })).toEqual([]);
  });

  it('relabels by seed, unions boxes over pieces, and lists each cell for the block holding its box corner', () => {
    const { stitched } = stitchTruth(truth, 16, 8, seed);
    const boxesOf = (mask: Int32Array) => {
      const layout = blockLayout(W, H, 16, 0);
      const boxes = new Int32Array(rects.length * 4);
      rects.forEach(([x0, y0, x1, y1], k) => boxes.set([y0, x0, y1, x1], 4 * k));
      return { layout, boxes, mask };
    };
    const { layout, boxes } = boxesOf(stitched);
    const per = cellsPerBlock(layout, boxes);
    expect([...per.values()].flatMap((c) => c.labels).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(per.get(1)!.labels).toEqual([3, 6]); // boxes from (20, 3) and (30, 14) start in block (0, 1)
  });
});

describe('model tiles of a blockwise image', () => {
  it('are each run by exactly one block, and a block runs every tile a segmented window needs', () => {
    const layout = blockLayout(1000, 760, 256, 96);
    const grid = imageTileGrid(1000, 760);
    const roles = 'T--T-TT--T-T';
    const runs = new Map<number, number>();
    for (let b = 0; b < 12; b++) for (const t of blockTiles(layout, grid, roles, b)) { expect(runs.has(t)).toBe(false); runs.set(t, b); }
    for (let b = 0; b < 12; b++) {
      if (roles[b] !== 'T') continue;
      for (const t of tilesTouching(grid, blockWindow(layout, b))) expect(runs.get(t)).toBe(tileOwner(layout, grid, t));
    }
    // Every tile touches the image, and its owner's core holds its (clamped) centre.
    for (let t = 0; t < grid.count; t++) expect(tileRect(grid, t).width).toBeGreaterThan(0);
  });
});

describe('BlockSchedule', () => {
  const layout = blockLayout(1000, 760, 256, 96); // 3 × 4 blocks
  const drain = (s: BlockSchedule, queue: 'cpu' | 'gpu') => s.take(queue, 1000);
  const finishAll = (s: BlockSchedule, tasks: BlockTask[]) => tasks.forEach((t) => s.finish(t));

  it('runs the statistics passes, then normalisation, then model tiles, with barriers between', () => {
    const s = new BlockSchedule(layout, true);
    const first = drain(s, 'cpu');
    expect(first.map((t) => t.stage)).toEqual(Array(12).fill('first'));
    expect(drain(s, 'cpu')).toEqual([]); // nothing else until they are done
    finishAll(s, first.slice(0, 11));
    expect(drain(s, 'cpu')).toEqual([]);
    finishAll(s, first.slice(11));
    const reduce = drain(s, 'cpu');
    expect(reduce).toEqual([{ stage: 'reduceFirst' }]);
    s.setRoles('TTTTTT-TTTTP');
    finishAll(s, reduce);
    const second = drain(s, 'cpu');
    expect(second).toHaveLength(12);
    finishAll(s, second);
    finishAll(s, drain(s, 'cpu')); // reduceSecond
    const normalize = drain(s, 'cpu');
    expect(normalize).toHaveLength(12);
    expect(drain(s, 'gpu')).toEqual([]);
    finishAll(s, normalize.slice(1));
    expect(drain(s, 'gpu')).toEqual([]); // every block's level range is needed first
    finishAll(s, normalize.slice(0, 1));
    const predicts = drain(s, 'gpu');
    expect(predicts.map((t) => ('block' in t ? t.block : -1))).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11]); // not the skipped block 6
  });

  it('segments a block once its 3×3 neighbours ran their tiles, matches once its right and lower neighbours are segmented, and survives a snapshot', () => {
    const s = new BlockSchedule(layout, true);
    for (let k = 0; k < 3; k++) finishAll(s, drain(s, 'cpu').map((t) => { if (t.stage === 'reduceFirst') s.setRoles('TTTTTTTTTTTT'); return t; }));
    finishAll(s, drain(s, 'cpu')); // second passes
    finishAll(s, drain(s, 'cpu')); // reduceSecond
    finishAll(s, drain(s, 'cpu')); // normalize
    const predicts = drain(s, 'gpu');
    const byBlock = (tasks: BlockTask[]) => tasks.map((t) => ('block' in t ? t.block : -1));
    finishAll(s, predicts.filter((t) => 'block' in t && [0, 1, 4, 5].includes(t.block)));
    expect(byBlock(drain(s, 'cpu'))).toEqual([0]); // block 0's neighbourhood is 0, 1, 4, 5
    const restored = new BlockSchedule(layout, true, s.snapshot());
    finishAll(restored, predicts.filter((t) => 'block' in t && [2, 6].includes(t.block)));
    expect(byBlock(drain(restored, 'cpu'))).toEqual([0, 1]);
    restored.finish({ stage: 'watershed', block: 0 });
    expect(drain(restored, 'cpu')).toEqual([]); // block 0 matches with 1, 4, 5: not yet segmented
    expect(restored.progress().watershed).toEqual({ done: 1, running: 1, total: 12, skipped: 0 });
  });

  it('offers a released task again, and ends with the reports', () => {
    const s = new BlockSchedule(blockLayout(300, 300, 256, 96), true);
    const [t] = drain(s, 'cpu');
    s.release(t);
    expect(drain(s, 'cpu')).toContainEqual(t);
    expect(s.finished).toBe(false);
  });
});
