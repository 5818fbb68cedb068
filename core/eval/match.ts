/** Object-level agreement between two label images (see {@link matchObjects}). */
export interface ObjectMatch {
  /** Matched pairs. */
  tp: number;
  /** Predicted objects without a match. */
  fp: number;
  /** Truth objects without a match. */
  fn: number;
  precision: number;
  recall: number;
  /** 2·tp / (2·tp + fp + fn); 1 when both images are empty. */
  f1: number;
  /** Mean IoU over matched pairs; 0 when nothing matched (1 when both images are empty). */
  meanMatchedIoU: number;
}

/**
 * Matches the objects of two int32 label images of the same size (0 = background) by intersection over
 * union: a pair counts when IoU > `iouThreshold`. Pairs are taken greedily by decreasing IoU, each
 * object used once; for thresholds ≥ 0.5 the matching is unique anyway (an object can overlap at most
 * one other by more than half of their union), so greedy equals optimal there.
 *
 * @see the object-level F1 of the cell-segmentation literature, e.g. Greenwald et al., "Whole-cell
 *   segmentation of tissue images with human-level performance…", Nat. Biotechnol. 40:555–565, 2022
 *   (Mesmer). doi:10.1038/s41587-021-01094-0
 */
export function matchObjects(truth: Int32Array, pred: Int32Array, iouThreshold = 0.5): ObjectMatch {
  if (truth.length !== pred.length) throw new RangeError(`label images differ in size (${truth.length} vs ${pred.length} pixels)`);
  let maxT = 0;
  let maxP = 0;
  for (let i = 0; i < truth.length; i++) { if (truth[i] > maxT) maxT = truth[i]; if (pred[i] > maxP) maxP = pred[i]; }
  const areaT = new Float64Array(maxT + 1);
  const areaP = new Float64Array(maxP + 1);
  const overlap = new Map<number, number>(); // key t·(maxP+1) + p
  const stride = maxP + 1;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = pred[i];
    areaT[t]++;
    areaP[p]++;
    if (t !== 0 && p !== 0) { const k = t * stride + p; overlap.set(k, (overlap.get(k) ?? 0) + 1); }
  }
  let nT = 0;
  let nP = 0;
  for (let t = 1; t <= maxT; t++) if (areaT[t] > 0) nT++;
  for (let p = 1; p <= maxP; p++) if (areaP[p] > 0) nP++;

  const pairs: { t: number; p: number; iou: number }[] = [];
  for (const [k, inter] of overlap) {
    const t = Math.floor(k / stride);
    const p = k - t * stride;
    const iou = inter / (areaT[t] + areaP[p] - inter);
    if (iou > iouThreshold) pairs.push({ t, p, iou });
  }
  pairs.sort((a, b) => b.iou - a.iou || a.t - b.t || a.p - b.p);
  const usedT = new Uint8Array(maxT + 1);
  const usedP = new Uint8Array(maxP + 1);
  let tp = 0;
  let iouSum = 0;
  for (const { t, p, iou } of pairs) {
    if (usedT[t] || usedP[p]) continue;
    usedT[t] = 1; usedP[p] = 1;
    tp++;
    iouSum += iou;
  }
  const fp = nP - tp;
  const fn = nT - tp;
  const empty = nT === 0 && nP === 0;
  return {
    tp, fp, fn,
    precision: nP === 0 ? (empty ? 1 : 0) : tp / nP,
    recall: nT === 0 ? (empty ? 1 : 0) : tp / nT,
    f1: empty ? 1 : (2 * tp) / (2 * tp + fp + fn),
    meanMatchedIoU: empty ? 1 : tp === 0 ? 0 : iouSum / tp,
  };
}
