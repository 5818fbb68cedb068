import { z } from 'zod';
import { Random } from '../synth/random';

/**
 * A random forest classifier (Breiman 2001: bootstrap samples, a random subset of features tried at each
 * split, Gini impurity, class distributions averaged over trees), the classifier QuPath trains by default
 * ("Random Trees").
 *
 * Hand-written rather than taken from npm on purpose: `ml-random-forest` 2.1.0 (mljs, through `ml-cart`)
 * evaluates every sample boundary of every feature at every node in O(n) each, so training is quadratic
 * in the labels — measured here (2 cores) 2.1 s for 200 labels and 26 s for 800 with 50 trees, which makes
 * cross-validated retraining while a person labels impossible. This one finds splits on per-feature
 * histograms of at most 64 quantile bins (as LightGBM and scikit-learn's HistGradientBoosting do):
 * O(n · features tried) per tree level. `bench/classify.ts` times both on the same labels and compares
 * their accuracy.
 *
 * Reference: L. Breiman, "Random Forests", Machine Learning 45:5–32, 2001. doi:10.1023/A:1010933404324
 */

/** Options for {@link trainForest}. */
export interface ForestOptions {
  /** Trees. @default 100 */
  trees?: number;
  /** Features tried at each split. @default ⌈√features⌉ */
  featuresPerSplit?: number;
  /** Deepest node. @default 20 */
  maxDepth?: number;
  /** Fewest training samples in a leaf. @default 1 */
  minLeaf?: number;
  /** Quantile bins per feature for split finding (≤ 256). @default 64 */
  bins?: number;
  /** PRNG seed: the same data and options give the same forest. @default 1 */
  seed?: number;
}

/** One tree, flat: node k is a leaf when `feature[k] < 0`, its class distribution at `probs[value[k]…]`. */
const Tree = z.object({
  feature: z.array(z.number().int()),
  /** Split threshold (go left when x ≤ value) or, for a leaf, the offset of its distribution in `probs`. */
  value: z.array(z.number()),
  left: z.array(z.number().int()),
  right: z.array(z.number().int()),
  probs: z.array(z.number()),
});

/** A trained forest as stored in a classifier bundle (`classifier/forest.json`). */
export const ForestModel = z.object({
  kind: z.literal('random-forest'),
  version: z.literal(1),
  features: z.number().int().positive(),
  classes: z.number().int().min(2),
  trees: z.array(Tree).min(1),
});
export type ForestModel = z.infer<typeof ForestModel>;

/**
 * Trains a forest on `rows` (n × features, row-major, no NaN) with integer classes `y` in [0, classes).
 * @throws RangeError for mismatched sizes, NaN features or a class outside [0, classes).
 */
export function trainForest(rows: Float32Array | Float64Array, y: ArrayLike<number>, features: number, classes: number, opts: ForestOptions = {}): ForestModel {
  const n = y.length;
  if (rows.length !== n * features) throw new RangeError(`trainForest: ${rows.length} values for ${n} rows × ${features} features`);
  for (let i = 0; i < rows.length; i++) if (Number.isNaN(rows[i])) throw new RangeError(`trainForest: NaN at row ${Math.floor(i / features)}, feature ${i % features}`);
  for (let i = 0; i < n; i++) if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= classes) throw new RangeError(`trainForest: class ${y[i]} at row ${i} is outside [0, ${classes})`);
  const treeCount = opts.trees ?? 100;
  const mtry = Math.max(1, Math.min(features, opts.featuresPerSplit ?? Math.ceil(Math.sqrt(features))));
  const maxDepth = opts.maxDepth ?? 20;
  const minLeaf = Math.max(1, opts.minLeaf ?? 1);
  const rng = new Random(opts.seed ?? 1);
  const { binned, edges } = binFeatures(rows, n, features, Math.min(256, opts.bins ?? 64));

  const trees: ForestModel['trees'] = [];
  const featureOrder = Int32Array.from({ length: features }, (_, k) => k);
  const hist = new Float64Array(256 * classes);
  for (let t = 0; t < treeCount; t++) {
    const sample = new Int32Array(n);
    for (let i = 0; i < n; i++) sample[i] = rng.int(n);
    const tree: ForestModel['trees'][number] = { feature: [], value: [], left: [], right: [], probs: [] };
    // Explicit stack of (node, samples, depth): deep trees never recurse.
    const stack: { node: number; idx: Int32Array; depth: number }[] = [{ node: newNode(tree), idx: sample, depth: 0 }];
    while (stack.length > 0) {
      const { node, idx, depth } = stack.pop()!;
      const counts = new Float64Array(classes);
      for (let i = 0; i < idx.length; i++) counts[y[idx[i]]]++;
      const pure = counts.some((c) => c === idx.length);
      const split = pure || depth >= maxDepth || idx.length < 2 * minLeaf
        ? undefined
        : bestSplit(binned, features, edges, y, classes, idx, counts, mtry, minLeaf, featureOrder, hist, rng);
      if (!split) {
        tree.feature[node] = -1;
        tree.value[node] = tree.probs.length;
        for (const c of counts) tree.probs.push(Math.round((c / idx.length) * 1e4) / 1e4);
        continue;
      }
      const leftIdx: number[] = [];
      const rightIdx: number[] = [];
      for (let i = 0; i < idx.length; i++) (binned[idx[i] * features + split.feature] <= split.bin ? leftIdx : rightIdx).push(idx[i]);
      tree.feature[node] = split.feature;
      tree.value[node] = edges[split.feature][split.bin];
      const l = newNode(tree);
      const r = newNode(tree);
      tree.left[node] = l;
      tree.right[node] = r;
      stack.push({ node: l, idx: Int32Array.from(leftIdx), depth: depth + 1 }, { node: r, idx: Int32Array.from(rightIdx), depth: depth + 1 });
    }
    trees.push(tree);
  }
  return { kind: 'random-forest', version: 1, features, classes, trees };
}

function newNode(tree: ForestModel['trees'][number]): number {
  tree.feature.push(-1);
  tree.value.push(0);
  tree.left.push(-1);
  tree.right.push(-1);
  return tree.feature.length - 1;
}

/**
 * Class probabilities (mean of the trees' leaf distributions) for each of `rows` (n × features), as one
 * n × classes array.
 */
export function predictForest(model: ForestModel, rows: Float32Array | Float64Array): Float64Array {
  const f = model.features;
  const n = Math.floor(rows.length / f);
  const out = new Float64Array(n * model.classes);
  for (const tree of model.trees) {
    for (let i = 0; i < n; i++) {
      let k = 0;
      while (tree.feature[k] >= 0) k = rows[i * f + tree.feature[k]] <= tree.value[k] ? tree.left[k] : tree.right[k];
      const at = tree.value[k];
      for (let c = 0; c < model.classes; c++) out[i * model.classes + c] += tree.probs[at + c];
    }
  }
  for (let i = 0; i < out.length; i++) out[i] /= model.trees.length;
  return out;
}

/**
 * Per feature, up to `bins − 1` thresholds between distinct training values at evenly spaced quantiles
 * (midpoints, as CART splits), and each value's bin: the number of thresholds below it.
 */
function binFeatures(rows: ArrayLike<number>, n: number, features: number, bins: number): { binned: Uint8Array; edges: number[][] } {
  const binned = new Uint8Array(n * features);
  const edges: number[][] = [];
  const column = new Float64Array(n);
  for (let k = 0; k < features; k++) {
    for (let i = 0; i < n; i++) column[i] = rows[i * features + k];
    const sorted = Float64Array.from(column).sort();
    const distinct: number[] = [];
    for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
    const e: number[] = [];
    if (distinct.length <= bins) {
      for (let i = 1; i < distinct.length; i++) e.push((distinct[i - 1] + distinct[i]) / 2);
    } else {
      for (let b = 1; b < bins; b++) {
        const v = sorted[Math.floor((b * n) / bins)];
        // The midpoint below the first distinct value ≥ the quantile, once each.
        let lo = 0, hi = distinct.length - 1;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (distinct[mid] < v) lo = mid + 1; else hi = mid; }
        if (lo > 0) {
          const edge = (distinct[lo - 1] + distinct[lo]) / 2;
          if (e.length === 0 || edge > e[e.length - 1]) e.push(edge);
        }
      }
    }
    edges.push(e);
    for (let i = 0; i < n; i++) {
      let lo = 0, hi = e.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (e[mid] < column[i]) lo = mid + 1; else hi = mid; }
      binned[i * features + k] = lo;
    }
  }
  return { binned, edges };
}

/**
 * The best Gini split of `idx` over `mtry` features drawn without replacement (then the others, should
 * none of those split at all, as scikit-learn does): maximises Σ left² / nL + Σ right² / nR, which is
 * minimising the weighted Gini impurity of the children. Undefined when no split improves on the parent.
 */
function bestSplit(
  binned: Uint8Array, features: number, edges: number[][], y: ArrayLike<number>, classes: number, idx: Int32Array, counts: Float64Array,
  mtry: number, minLeaf: number, order: Int32Array, hist: Float64Array, rng: Random,
): { feature: number; bin: number } | undefined {
  let parent = 0;
  for (const c of counts) parent += c * c;
  parent /= idx.length;
  let best: { feature: number; bin: number; score: number } | undefined;
  const left = new Float64Array(classes);
  for (let tried = 0; tried < features; tried++) {
    if (tried >= mtry && best) break;
    const j = tried + rng.int(features - tried);
    const f = order[j];
    order[j] = order[tried];
    order[tried] = f;
    const nb = edges[f].length + 1;
    if (nb < 2) continue;
    hist.fill(0, 0, nb * classes);
    for (let i = 0; i < idx.length; i++) hist[binned[idx[i] * features + f] * classes + y[idx[i]]]++;
    left.fill(0);
    let nL = 0;
    for (let b = 0; b < nb - 1; b++) {
      for (let c = 0; c < classes; c++) { left[c] += hist[b * classes + c]; nL += hist[b * classes + c]; }
      const nR = idx.length - nL;
      if (nL < minLeaf || nR < minLeaf) continue;
      let sl = 0, sr = 0;
      for (let c = 0; c < classes; c++) { sl += left[c] * left[c]; const r = counts[c] - left[c]; sr += r * r; }
      const score = sl / nL + sr / nR;
      if (score > parent + 1e-9 && (!best || score > best.score)) best = { feature: f, bin: b, score };
    }
  }
  return best;
}
