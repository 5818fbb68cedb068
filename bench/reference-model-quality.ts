/**
 * Reference-model quality on held-out synthetic images (seeds the fit never saw), through the same
 * path as the pipeline: default channels → predictArray (normalisation, tiles, blending) → deep
 * watershed with the collection's postprocess defaults → matched-object F1 at IoU 0.5.
 *
 *   npx tsx bench/reference-model-quality.ts [--images 4] [--size 1024] [--model path.zip]
 *
 * Goal (brief D): F1 ≥ 0.9 nuclear, ≥ 0.8 whole-cell.
 */
import { ensureReferenceModel, REFERENCE_RECIPE } from '../core/reference';
import { evaluateOnSynthetic } from '../core/reference/evaluate';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const images = Number(arg('images', '4'));
  const size = Number(arg('size', '1024'));
  const modelUri = arg('model', '') || await ensureReferenceModel({ onProgress: (m) => process.stderr.write(`${m}\n`) });
  // Held-out seeds: far from the training seeds (REFERENCE_RECIPE.seed + 0..trainingImages-1).
  const seeds = Array.from({ length: images }, (_, k) => 900_001 + 7 * k);
  if (seeds.some((s) => s >= REFERENCE_RECIPE.seed && s < REFERENCE_RECIPE.seed + REFERENCE_RECIPE.trainingImages)) throw new Error('seed overlap');
  const channelMix = [6, 4, 8, 10];
  const rows: { compartment: string; tp: number; fp: number; fn: number; iouSum: number }[] = [];
  for (let k = 0; k < seeds.length; k++) {
    const [r] = await evaluateOnSynthetic({ modelUri, seeds: [seeds[k]], size, channels: channelMix[k % channelMix.length] });
    for (const s of r.scores) {
      console.log(`seed ${r.seed} ${size}px ${r.channels}ch ${s.compartment.padEnd(10)} F1 ${s.f1.toFixed(3)} P ${s.precision.toFixed(3)} R ${s.recall.toFixed(3)} `
        + `meanIoU ${s.meanMatchedIoU.toFixed(3)} truth ${s.truthObjects} pred ${s.predictedObjects} (predict ${r.predictS.toFixed(1)} s)`);
      rows.push({ compartment: s.compartment, tp: s.tp, fp: s.fp, fn: s.fn, iouSum: s.meanMatchedIoU * s.tp });
    }
  }
  for (const compartment of ['nuclear', 'whole-cell']) {
    const sel = rows.filter((r) => r.compartment === compartment);
    const tp = sel.reduce((a, r) => a + r.tp, 0), fp = sel.reduce((a, r) => a + r.fp, 0), fn = sel.reduce((a, r) => a + r.fn, 0);
    const iou = sel.reduce((a, r) => a + r.iouSum, 0) / Math.max(1, tp);
    const goal = compartment === 'nuclear' ? 0.9 : 0.8;
    const f1 = (2 * tp) / (2 * tp + fp + fn);
    console.log(`TOTAL ${compartment.padEnd(10)} F1 ${f1.toFixed(3)} precision ${(tp / (tp + fp)).toFixed(3)} recall ${(tp / (tp + fn)).toFixed(3)} `
      + `meanIoU ${iou.toFixed(3)} (goal F1 ≥ ${goal}: ${f1 >= goal ? 'met' : 'NOT met'})`);
  }
}

void main().catch((e) => { console.error(e); process.exit(1); });
