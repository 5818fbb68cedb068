import { createHash } from 'node:crypto';
import type { Compartment, Stat } from './intensity';
import type { CellTable } from './measure';

/** A numeric measurement column: its QuPath name and its values (NaN = missing). */
export interface MeasurementColumn {
  name: string;
  values: ArrayLike<number>;
  /** float32-stored values are printed with 7 significant digits; float64 ones in full. */
  single: boolean;
}

const COMPARTMENT_NAME: Record<Compartment, string> = { nucleus: 'Nucleus', cytoplasm: 'Cytoplasm', membrane: 'Membrane', cell: 'Cell' };
const STAT_NAME: Record<Stat, string> = { mean: 'Mean', median: 'Median', min: 'Min', max: 'Max', std: 'Std.Dev.' };

/**
 * Measurement columns in QuPath's order: shape features per `ObjectMeasurements.addShapeMeasurements`
 * (Nucleus, then Cell, then `Nucleus/Cell area ratio`), then intensities per
 * `ObjectMeasurements.measureCells` — QuPath ≥ 0.6 groups by compartment (`Nucleus: CD3: Mean`,
 * compartments Nucleus, Cytoplasm, Membrane, Cell); `legacyNames` gives the pre-0.6 grouping by
 * channel (`CD3: Nucleus: Mean`). Statistics are Mean, Median, Min, Max, Std.Dev.
 */
export function measurementColumns(table: CellTable, legacyNames = false): MeasurementColumn[] {
  const u = table.unit;
  const cols: MeasurementColumn[] = [];
  for (const [prefix, shape] of [['Nucleus', table.nucleus], ['Cell', table.cell]] as const) {
    cols.push(
      { name: `${prefix}: Area ${u}^2`, values: shape.area, single: false },
      { name: `${prefix}: Length ${u}`, values: shape.length, single: false },
      { name: `${prefix}: Circularity`, values: shape.circularity, single: false },
      { name: `${prefix}: Solidity`, values: shape.solidity, single: false },
      { name: `${prefix}: Max diameter ${u}`, values: shape.maxDiameter, single: false },
      { name: `${prefix}: Min diameter ${u}`, values: shape.minDiameter, single: false },
    );
  }
  cols.push({ name: 'Nucleus/Cell area ratio', values: table.nucleusCellAreaRatio, single: false });
  const intensity = (comp: Compartment, ch: CellTable['channels'][number]) => {
    const stats = ch.compartments[comp];
    if (!stats) return;
    const channelName = ch.name.trim();
    for (const s of table.stats) {
      const name = legacyNames ? `${channelName}: ${COMPARTMENT_NAME[comp]}: ${STAT_NAME[s]}` : `${COMPARTMENT_NAME[comp]}: ${channelName}: ${STAT_NAME[s]}`;
      cols.push({ name, values: stats[s]!, single: true });
    }
  };
  if (legacyNames) {
    for (const ch of table.channels) for (const comp of table.compartments) intensity(comp, ch);
  } else {
    for (const comp of table.compartments) for (const ch of table.channels) intensity(comp, ch);
  }
  return cols;
}

/** Formats a measurement for text output: empty when missing. */
export function formatValue(v: number, single: boolean): string {
  if (Number.isNaN(v)) return '';
  if (Number.isInteger(v)) return String(v);
  return single ? formatSingle(v) : String(v);
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7];

/**
 * A float32 measurement with 7 significant digits (float32 holds about 7.2), formatted through an
 * integer because `Number.prototype.toPrecision` dominated the time to write a million-cell table.
 */
function formatSingle(v: number): string {
  const a = Math.abs(v);
  if (a < 1 || a >= 1e7 || !Number.isFinite(a)) return String(Number(v.toPrecision(7)));
  const decimals = a >= 1e6 ? 0 : a >= 1e5 ? 1 : a >= 1e4 ? 2 : a >= 1e3 ? 3 : a >= 100 ? 4 : a >= 10 ? 5 : 6;
  let m = Math.round(a * POW10[decimals]);
  let d = decimals;
  while (d > 0 && m % 10 === 0) { m /= 10; d--; }
  let s = String(m);
  if (d > 0) s = s.slice(0, s.length - d) + '.' + s.slice(s.length - d);
  return v < 0 ? '-' + s : s;
}

// A fixed namespace for Tessel object IDs (itself a random v4 UUID), so IDs never collide with other tools' v5 IDs.
const NAMESPACE = Buffer.from('6f1d4b1e8a2c4f0e9b5d3c7a1e2f4a6b', 'hex');

/**
 * A stable object ID: a UUID version 5 (RFC 9562 §5.5: SHA-1 of namespace + name) of the image name
 * and the whole-cell label, so quantifying the same image again gives the same IDs.
 */
export function objectId(imageName: string, label: number): string {
  const h = createHash('sha1').update(NAMESPACE).update(`${imageName}\u0000${label}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
