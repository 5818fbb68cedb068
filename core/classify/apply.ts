import { InvalidArrayError } from '../errors';
import { columnIndex, readQuantTable } from '../quantify/read-tsv';
import { storeFor } from '../storage';
import { loadClassifier, type Classifier } from './bundle';
import { argmax } from './evaluate';
import { cellFeatures, imputeInPlace } from './features';
import { predictForest } from './forest';

export interface ClassifyOptions {
  /** The image's measurement table (`REPORTS/<name>_QUANT.tsv`). */
  tsvUri: string;
  /** Its GeoJSON (`REPORTS/<name>.geojson`), when there is one: every feature gets `classification`. */
  geojsonUri?: string;
  /** A loaded classifier, or the URI of its collection ZIP. */
  classifier: Classifier | string;
  /** Where to write the classified table. @default tsvUri (replaced atomically) */
  outTsvUri?: string;
  /** Where to write the classified GeoJSON. @default geojsonUri */
  outGeojsonUri?: string;
}

export interface ClassifyOutcome {
  cells: number;
  /** Cells per class, every class of the classifier listed (0 included). */
  counts: Record<string, number>;
  classifierSha256?: string;
  tsvUri: string;
  geojsonUri?: string;
  warnings: string[];
}

/**
 * Classifies every cell of one image's measurement table: fills QuPath's `Classification` column with the
 * class the forest gives the highest probability, and gives each GeoJSON feature
 * `properties.classification` = `{ name, color: [r, g, b] }` (QuPath's form), so QuPath shows the classes.
 * Running it again replaces the earlier classes. Both outputs are computed in memory first and then each
 * written atomically, so a bad table or classifier leaves both files as they were.
 *
 * @throws ModelContractError when the table lacks measurements the classifier uses (naming them);
 *   InvalidArrayError for a malformed table or GeoJSON; NotFoundError for a missing file;
 *   ModelChecksumError for a corrupt classifier collection.
 */
export async function classify(opts: ClassifyOptions): Promise<ClassifyOutcome> {
  const classifier = typeof opts.classifier === 'string' ? await loadClassifier(opts.classifier) : opts.classifier;
  const { metadata, forest } = classifier;
  const table = await readQuantTable(opts.tsvUri);
  const cells = cellFeatures(table, metadata.features, `classifier ${classifier.uri ?? metadata.name}`);
  const probs = predictForest(forest, imputeInPlace(cells.values, metadata.fill));
  const k = metadata.classes.length;
  const names = metadata.classes.map((c) => c.name);
  const assigned = cells.ids.map((_, r) => argmax(probs, r * k, k));
  const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const a of assigned) counts[names[a]]++;

  let header = table.header;
  let at = columnIndex(table, 'Classification');
  const rows = table.rows.map((r) => [...r]);
  if (at < 0) {
    // A table from elsewhere without QuPath's column: add it after Name, where QuPath has it.
    at = columnIndex(table, 'Name') + 1;
    header = [...header.slice(0, at), 'Classification', ...header.slice(at)];
    for (const r of rows) r.splice(at, 0, '');
  }
  rows.forEach((r, i) => (r[at] = names[assigned[i]]));
  const tsv = [header.join('\t'), ...rows.map((r) => r.join('\t'))].join('\n') + '\n';

  const warnings: string[] = [];
  let geojson: string | undefined;
  if (opts.geojsonUri) {
    const byId = new Map(cells.ids.map((id, r) => [id, metadata.classes[assigned[r]]]));
    const text = Buffer.from(await storeFor(opts.geojsonUri).readAll(opts.geojsonUri)).toString('utf8');
    const { out, unmatched } = classifyGeoJson(text, opts.geojsonUri, byId);
    geojson = out;
    if (unmatched) warnings.push(`${opts.geojsonUri}: ${unmatched} feature(s) have no row in ${opts.tsvUri}; left unclassified`);
  }
  const tsvOut = opts.outTsvUri ?? opts.tsvUri;
  const geoOut = opts.geojsonUri ? opts.outGeojsonUri ?? opts.geojsonUri : undefined;
  if (geojson !== undefined && geoOut) await storeFor(geoOut).writeAtomic(geoOut, geojson);
  await storeFor(tsvOut).writeAtomic(tsvOut, tsv);
  return { cells: cells.ids.length, counts, classifierSha256: classifier.sha256, tsvUri: tsvOut, geojsonUri: geoOut, warnings };
}

type ClassOf = Map<string, { name: string; color: [number, number, number] }>;

/**
 * Sets `properties.classification` on every feature whose `id` has a class. Tessel writes one feature
 * per line, so such files are rewritten line by line (a million cells never become one JSON tree);
 * anything else is parsed whole.
 */
export function classifyGeoJson(text: string, file: string, byId: ClassOf): { out: string; unmatched: number } {
  let unmatched = 0;
  const tag = (feature: { id?: unknown; properties?: Record<string, unknown> }) => {
    const c = typeof feature.id === 'string' ? byId.get(feature.id) : undefined;
    feature.properties ??= {};
    if (c) feature.properties.classification = { name: c.name, color: c.color };
    else {
      delete feature.properties.classification;
      unmatched++;
    }
  };
  const lines = text.split('\n');
  if (lines[0] === '{"type":"FeatureCollection","features":[') {
    const out: string[] = [lines[0]];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (!line.startsWith('{"type":"Feature"')) { out.push(line); continue; }
      const comma = line.endsWith(',');
      let feature: { id?: unknown; properties?: Record<string, unknown> };
      try {
        feature = JSON.parse(comma ? line.slice(0, -1) : line);
      } catch (e) {
        throw new InvalidArrayError(file, `line ${i + 1} is not a GeoJSON feature (${(e as Error).message})`);
      }
      tag(feature);
      out.push(JSON.stringify(feature) + (comma ? ',' : ''));
    }
    return { out: out.join('\n'), unmatched };
  }
  let doc: { type?: string; features?: { id?: unknown; properties?: Record<string, unknown> }[] };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InvalidArrayError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (doc.type !== 'FeatureCollection' || !Array.isArray(doc.features)) throw new InvalidArrayError(file, 'not a GeoJSON FeatureCollection');
  doc.features.forEach(tag);
  return { out: JSON.stringify(doc) + '\n', unmatched };
}
