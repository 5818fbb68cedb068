import { ConfigError } from '../errors';
import type { Classifier } from '../classify/bundle';
import { imputeInPlace } from '../classify/features';
import { predictForest } from '../classify/forest';
import { buildTrainingSet, trainClassifier } from '../classify/train';
import { UNSURE, type LabelDecision } from './labels';
import type { CellIndex, ReviewCell } from './sample';

/** One retraining: how many labels it used and its cross-validated accuracy (absent with too few labels per class). */
export interface TrainingRound {
  round: number;
  labels: number;
  accuracy?: number;
  perClass: Record<string, number>;
  time: string;
  warnings: string[];
}

/** A cell the classifier is unsure of: its best two classes and their probabilities. */
export interface UncertainCell {
  cell: ReviewCell;
  predicted: string;
  probability: number;
  /** Probability of the best class minus that of the second: small means unsure. */
  margin: number;
}

/**
 * Active learning over a review (CellProfiler Analyst's "fetch", QuPath's live retraining): retrain on
 * the labels so far, keep the history of cross-validated accuracy, and find the unlabelled cells whose
 * two most probable classes are closest (smallest margin, Scheffer et al. 2001), over every cell of the
 * review's images that passes its filters, not only the sample.
 *
 * Reference: T. Scheffer, C. Decomain, S. Wrobel, "Active hidden Markov models for information
 * extraction", IDA 2001, LNCS 2189:309–318. doi:10.1007/3-540-44816-0_31
 */
export class ActiveLearner {
  classifier?: Classifier;
  readonly history: TrainingRound[] = [];
  private probabilities?: Map<string, Float64Array>;

  constructor(private readonly index: CellIndex, private readonly classes: readonly string[]) {}

  /**
   * Retrains on `labels` (each cell's latest decision) with `folds`-fold cross-validation.
   * @throws ConfigError when there are no labels, or fewer than two classes with labels.
   */
  retrain(labels: ReadonlyMap<string, LabelDecision>, opts: { folds?: number; trees?: number; seed?: number } = {}): TrainingRound {
    const labelled = new Set([...labels.values()].map((d) => d.label).filter((l) => l && l !== UNSURE));
    const classes = this.classes.filter((c) => labelled.has(c));
    if (classes.length < 2) throw new ConfigError(`label cells of at least two classes before training (so far: ${classes.join(', ') || 'none'})`);
    const set = buildTrainingSet(labels, this.index.features, { classes, labelsFile: 'the labels so far' });
    const classifier = trainClassifier(set, { folds: opts.folds ?? 5, trees: opts.trees ?? 100, seed: opts.seed ?? 1, name: 'review classifier' });
    this.classifier = classifier;
    this.probabilities = undefined;
    const round: TrainingRound = {
      round: this.history.length + 1, labels: set.y.length, accuracy: classifier.metadata.crossValidation?.accuracy,
      perClass: classifier.metadata.training.perClass, time: new Date().toISOString(), warnings: set.warnings,
    };
    this.history.push(round);
    return round;
  }

  /** Per-image class probabilities of every cell (rows × classes), computed once per trained classifier. */
  private scores(): Map<string, Float64Array> {
    if (!this.classifier) throw new ConfigError('no classifier yet: retrain first');
    if (!this.probabilities) {
      this.probabilities = new Map();
      for (const [image, f] of this.index.features) {
        this.probabilities.set(image, predictForest(this.classifier.forest, imputeInPlace(Float32Array.from(f.values), this.classifier.metadata.fill)));
      }
    }
    return this.probabilities;
  }

  /** The classifier's best class and probability for one cell. */
  predict(cell: ReviewCell): { predicted: string; probability: number; margin: number } {
    const probs = this.scores().get(cell.image)!;
    const names = this.classifier!.metadata.classes.map((c) => c.name);
    const k = names.length;
    let a = 0, b = -1;
    for (let c = 1; c < k; c++) {
      const v = probs[cell.row * k + c];
      if (v > probs[cell.row * k + a]) { b = a; a = c; } else if (b < 0 || v > probs[cell.row * k + b]) b = c;
    }
    const pa = probs[cell.row * k + a];
    return { predicted: names[a], probability: pa, margin: pa - (b >= 0 ? probs[cell.row * k + b] : 0) };
  }

  /** The `n` unlabelled cells with the smallest margin (ties: sample order). */
  leastSure(n: number, labels: ReadonlyMap<string, LabelDecision>): UncertainCell[] {
    const out: UncertainCell[] = [];
    for (const cell of this.index.cells) {
      if (labels.has(cell.id)) continue;
      out.push({ cell, ...this.predict(cell) });
    }
    out.sort((p, q) => p.margin - q.margin || p.cell.key - q.cell.key);
    return out.slice(0, n);
  }
}
