import { measurementColumns, objectId, type MeasurementColumn } from './columns';
import type { CellTable, MultiPolygonCoords } from './measure';
import { ConfigError } from '../errors';

export interface GeoJsonOptions {
  imageName: string;
  legacyNames?: boolean;
  /** Features per yielded chunk. @default 1000 */
  featuresPerChunk?: number;
}

/**
 * Cells as a GeoJSON FeatureCollection that QuPath imports (*File → Import objects*): one Feature per
 * cell with `id` = the TSV's `Object ID`, `geometry` = the cell outline in pixel coordinates,
 * `nucleusGeometry` beside it (absent when the cell has no nucleus), and `properties` {objectType
 * "cell", name = whole-cell label, measurements = flat name → number map without missing values}.
 * The table must have been measured `withGeometry`. Yields text chunks.
 */
export function* formatGeoJson(table: CellTable, opts: GeoJsonOptions): Generator<string> {
  if (!table.geometry) throw new ConfigError('GeoJSON needs outlines: measure the cells with withGeometry: true');
  const cols = measurementColumns(table, opts.legacyNames);
  const step = opts.featuresPerChunk ?? 1000;
  let chunk = '{"type":"FeatureCollection","features":[\n';
  const n = table.labels.length;
  for (let r = 0; r < n; r++) {
    chunk += (r > 0 ? ',\n' : '') + geoJsonFeature(table, r, cols, opts);
    if ((r + 1) % step === 0) {
      yield chunk;
      chunk = '';
    }
  }
  yield chunk + '\n]}\n';
}

/** Row `r` of a table measured `withGeometry` as one GeoJSON Feature (see {@link formatGeoJson}). */
export function geoJsonFeature(table: CellTable, r: number, cols: MeasurementColumn[], opts: Pick<GeoJsonOptions, 'imageName'>): string {
  const measurements: Record<string, number> = {};
  for (const c of cols) {
    const v = c.values[r];
    if (!Number.isNaN(v)) measurements[c.name] = c.single ? Number(v.toPrecision(7)) : v;
  }
  const feature: Record<string, unknown> = {
    type: 'Feature',
    id: objectId(opts.imageName, table.labels[r]),
    geometry: geometryOf(table.geometry!.cell[r]),
  };
  const nucleus = table.geometry!.nucleus[r];
  if (nucleus) feature.nucleusGeometry = geometryOf(nucleus);
  feature.properties = { objectType: 'cell', name: String(table.labels[r]), measurements };
  return JSON.stringify(feature);
}

function geometryOf(polygons: MultiPolygonCoords): { type: string; coordinates: unknown } {
  return polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] } : { type: 'MultiPolygon', coordinates: polygons };
}
