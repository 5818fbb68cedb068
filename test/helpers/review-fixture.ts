import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantify } from '../../core/quantify';
import type { LabelDecision } from '../../core/review/labels';
import { writeSyntheticWorkspace } from '../../core/synth';

/**
 * A measured workspace without running the model: synthetic images with marker-defined cell types, their
 * ground-truth masks used as SEGMASK, and real quantification (TSV + GeoJSON), so the review and classify
 * steps see exactly what a run leaves and the true type of every cell is known.
 */
export async function measuredWorkspace(ws: string, opts: { images?: number; size?: number; seed?: number } = {}): Promise<string[]> {
  const { images } = await writeSyntheticWorkspace(ws, { images: opts.images ?? 2, size: opts.size ?? 256, seed: opts.seed ?? 3, cellTypes: true });
  mkdirSync(join(ws, 'SEGMASK'), { recursive: true });
  for (const { name } of images) {
    for (const kind of ['WholeCellMask', 'NucleusMask']) copyFileSync(join(ws, 'GROUND_TRUTH', `${name}_${kind}.tiff`), join(ws, 'SEGMASK', `${name}_${kind}.tiff`));
    await quantify({
      imageUri: join(ws, 'OMETIFF', `${name}.ome.tiff`), imageName: name,
      wholeCellMaskUri: join(ws, 'SEGMASK', `${name}_WholeCellMask.tiff`), nucleusMaskUri: join(ws, 'SEGMASK', `${name}_NucleusMask.tiff`),
      outTsvUri: join(ws, 'REPORTS', `${name}_QUANT.tsv`), geojsonUri: join(ws, 'REPORTS', `${name}.geojson`), threads: 1,
    });
  }
  return images.map((i) => i.name);
}

/** Ground-truth type of each whole-cell label of an image of {@link measuredWorkspace}. */
export function truthTypes(ws: string, image: string): Map<number, string> {
  const lines = readFileSync(join(ws, 'GROUND_TRUTH', `${image}_CellTypes.tsv`), 'utf8').trim().split('\n').slice(1);
  return new Map(lines.map((l) => l.split('\t')).map(([label, type]) => [Number(label), type]));
}

/** Label decisions that give the first `perImage` cells of each image their true type (as a reviewer would). */
export function truthLabels(ws: string, images: string[], perImage: number, reviewer = 'truth'): LabelDecision[] {
  const out: LabelDecision[] = [];
  for (const image of images) {
    const types = truthTypes(ws, image);
    const [header, ...rows] = readFileSync(join(ws, 'REPORTS', `${image}_QUANT.tsv`), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    const col = (n: string) => header.indexOf(n);
    for (const r of rows.slice(0, perImage)) {
      const maskLabel = Number(r[col('Name')]);
      out.push({
        cellId: r[col('Object ID')], image, maskLabel, x: Number(r[col('Centroid X µm')]), y: Number(r[col('Centroid Y µm')]),
        label: types.get(maskLabel)!, time: new Date(Date.UTC(2026, 0, 1, 0, 0, out.length)).toISOString(), reviewer,
      });
    }
  }
  return out;
}
