import { Random } from '../synth/random';
import type { Evaluation } from './bundle';
import { predictForest, trainForest, type ForestOptions } from './forest';

/**
 * Stratified k-fold cross-validation: each class's samples are shuffled (seeded) and dealt round-robin
 * to `folds` folds, a forest is trained on all folds but one and predicts that one. Returns the confusion
 * matrix over every held-out prediction (rows = true class, columns = predicted), accuracy, and per-class
 * precision, recall, F1 and support. `folds` is lowered to the smallest class's count (≥ 2).
 *
 * @throws RangeError when a class has fewer than 2 samples (nothing to hold out).
 */
export function crossValidate(
  rows: Float32Array, y: ArrayLike<number>, features: number, classNames: readonly string[], folds = 5, opts: ForestOptions = {},
): Evaluation {
  const classes = classNames.length;
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < y.length; i++) byClass[y[i]].push(i);
  const smallest = Math.min(...byClass.map((c) => c.length));
  if (smallest < 2) throw new RangeError(`class '${classNames[byClass.findIndex((c) => c.length === smallest)]}' has ${smallest} label(s); cross-validation needs at least 2 per class`);
  const k = Math.max(2, Math.min(folds, smallest));
  const rng = new Random((opts.seed ?? 1) + 7919);
  const fold = new Int32Array(y.length);
  for (const members of byClass) {
    for (let i = members.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [members[i], members[j]] = [members[j], members[i]];
    }
    members.forEach((m, i) => (fold[m] = i % k));
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let f = 0; f < k; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < y.length; i++) (fold[i] === f ? test : train).push(i);
    const model = trainForest(pick(rows, train, features), train.map((i) => y[i]), features, classes, opts);
    const probs = predictForest(model, pick(rows, test, features));
    test.forEach((i, t) => confusion[y[i]][argmax(probs, t * classes, classes)]++);
  }
  return summarise(confusion, classNames, k);
}

/** Accuracy and per-class precision/recall/F1 from a confusion matrix (rows = true, columns = predicted). */
export function summarise(confusion: number[][], classNames: readonly string[], folds: number): Evaluation {
  const total = confusion.flat().reduce((a, b) => a + b, 0);
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  const perClass = classNames.map((name, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((s, row) => s + row[c], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    return { name, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
  return { folds, accuracy: total ? correct / total : 0, confusion, perClass };
}

/** The rows `index` of a row-major matrix, in that order. */
export function pick(rows: Float32Array, index: readonly number[], features: number): Float32Array {
  const out = new Float32Array(index.length * features);
  index.forEach((i, r) => out.set(rows.subarray(i * features, (i + 1) * features), r * features));
  return out;
}

/** Index of the largest of `n` values from `offset` (the first on ties). */
export function argmax(values: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}

/** The confusion matrix and per-class figures as aligned text lines, for the terminal. */
export function formatEvaluation(e: Evaluation): string[] {
  const names = e.perClass.map((p) => p.name);
  const w = Math.max(8, ...names.map((n) => n.length)) + 2;
  const lines = [`cross-validated accuracy ${(e.accuracy * 100).toFixed(1)}% (${e.folds}-fold, stratified)`, 'confusion matrix (rows: labelled, columns: predicted):'];
  lines.push(' '.repeat(w) + names.map((n) => n.padStart(w)).join(''));
  e.confusion.forEach((row, i) => lines.push(names[i].padEnd(w) + row.map((v) => String(v).padStart(w)).join('')));
  lines.push(`${'class'.padEnd(w)}${'precision'.padStart(11)}${'recall'.padStart(9)}${'F1'.padStart(7)}${'labels'.padStart(8)}`);
  for (const p of e.perClass) lines.push(`${p.name.padEnd(w)}${p.precision.toFixed(3).padStart(11)}${p.recall.toFixed(3).padStart(9)}${p.f1.toFixed(3).padStart(7)}${String(p.support).padStart(8)}`);
  return lines;
}
