import { z } from 'zod';

/**
 * OME-NGFF image metadata, as Tessel reads it: the first `multiscales` entry (axes, one dataset per
 * pyramid level with its scale) and the `omero` channel labels.
 *
 * References: OME-NGFF 0.4 (https://ngff.openmicroscopy.org/0.4/: attributes in the group's `.zattrs`,
 * Zarr v2) and 0.5 (https://ngff.openmicroscopy.org/0.5/: attributes under `ome` in the group's
 * `zarr.json`, Zarr v3). Units are UDUNITS-2 names (`micrometer`…).
 */

const Axis = z.union([
  z.string().transform((name) => ({ name, type: undefined as string | undefined, unit: undefined as string | undefined })), // 0.3: names only
  z.object({ name: z.string(), type: z.string().optional(), unit: z.string().optional() }),
]);
const Transform = z.object({ type: z.string(), scale: z.array(z.number()).optional(), translation: z.array(z.number()).optional() }).passthrough();
const Dataset = z.object({ path: z.string().min(1), coordinateTransformations: z.array(Transform).optional() });
const Multiscale = z.object({
  version: z.string().optional(),
  name: z.string().optional(),
  axes: z.array(Axis).min(2).max(5).optional(),
  datasets: z.array(Dataset).min(1),
  coordinateTransformations: z.array(Transform).optional(),
});
const Omero = z.object({ channels: z.array(z.object({ label: z.string().optional() }).passthrough()).optional() }).passthrough();

export interface NgffAxis {
  name: string;
  /** `time`, `channel`, `space` (or absent / custom). */
  type?: string;
  unit?: string;
}

export interface NgffImage {
  /** NGFF version as written (`0.4`, `0.5`…), `unknown` when the metadata does not say. */
  version: string;
  name?: string;
  axes: NgffAxis[];
  /** One per pyramid level, largest first: the array path and its full scale (dataset × global). */
  datasets: { path: string; scale?: number[] }[];
  /** `omero.channels[].label`, when present. */
  channelLabels?: (string | undefined)[];
}

/** Where each role sits among the array's dimensions. */
export interface AxisRoles {
  t?: number;
  c?: number;
  z?: number;
  y: number;
  x: number;
}

/**
 * Reads the NGFF image metadata from a group's attributes: `.zattrs` (0.4) or `zarr.json`'s
 * `attributes` (0.5, under `ome`). Returns undefined when the group has no `multiscales`.
 * @throws Error with the reason when the metadata is present but malformed.
 */
export function parseNgffImage(attributes: Record<string, unknown>): NgffImage | undefined {
  const ome = attributes.ome as Record<string, unknown> | undefined;
  const holder = ome && typeof ome === 'object' && 'multiscales' in ome ? ome : attributes;
  if (!('multiscales' in holder)) return undefined;
  const list = z.array(z.unknown()).min(1).safeParse(holder.multiscales);
  if (!list.success) throw new Error('"multiscales" is not a non-empty list');
  const ms = Multiscale.safeParse(list.data[0]);
  if (!ms.success) throw new Error(`"multiscales[0]" is not valid NGFF: ${ms.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const m = ms.data;
  const version = (typeof ome?.version === 'string' ? ome.version : undefined) ?? m.version ?? 'unknown';
  // Before 0.3 there were no axes: the arrays were always 5-D t, c, z, y, x.
  const axes: NgffAxis[] = m.axes ?? ['t', 'c', 'z', 'y', 'x'].map((name) => ({ name }));
  const global = scaleOf(m.coordinateTransformations);
  const datasets = m.datasets.map((d) => {
    const s = scaleOf(d.coordinateTransformations);
    return { path: d.path, scale: s && global ? s.map((v, i) => v * (global[i] ?? 1)) : s ?? global };
  });
  const omero = Omero.safeParse(holder.omero ?? attributes.omero);
  const channelLabels = omero.success && omero.data.channels ? omero.data.channels.map((c) => c.label) : undefined;
  return { version, name: m.name, axes, datasets, channelLabels };
}

function scaleOf(transforms: z.infer<typeof Transform>[] | undefined): number[] | undefined {
  return transforms?.find((t) => t.type === 'scale')?.scale;
}

const ROLE_OF_TYPE: Record<string, keyof AxisRoles | undefined> = { time: 't', channel: 'c' };

/**
 * Maps NGFF axes onto the roles Tessel reads (optional t, c, z; required y, x), by axis type and name.
 * @throws Error naming the axis when one has a role Tessel cannot read, appears twice, or y/x are missing.
 */
export function axisRoles(axes: NgffAxis[]): AxisRoles {
  const roles: Partial<AxisRoles> = {};
  axes.forEach((a, i) => {
    const name = a.name.toLowerCase();
    let role: keyof AxisRoles | undefined = a.type ? ROLE_OF_TYPE[a.type] : undefined;
    if (!role && (a.type === undefined || a.type === 'space') && ['x', 'y', 'z'].includes(name)) role = name as keyof AxisRoles;
    if (!role && a.type === undefined && (name === 't' || name === 'c')) role = name;
    if (!role) throw new Error(`axis '${a.name}'${a.type ? ` of type '${a.type}'` : ''} is not one Tessel can map (expected t, c, z, y, x)`);
    if (roles[role] !== undefined) throw new Error(`two axes map to '${role}' ('${axes[roles[role]!].name}' and '${a.name}')`);
    roles[role] = i;
  });
  if (roles.y === undefined || roles.x === undefined) throw new Error(`axes ${axes.map((a) => a.name).join(',')} have no y and x`);
  if (roles.y > roles.x) throw new Error(`axes ${axes.map((a) => a.name).join(',')} put x before y; NGFF orders space axes z, y, x`);
  return roles as AxisRoles;
}

/** UDUNITS-2 length names (and the usual abbreviations) to micrometres. */
const UM_PER_UNIT: Record<string, number> = {
  angstrom: 1e-4, picometer: 1e-6, nanometer: 1e-3, micrometer: 1, millimeter: 1e3, centimeter: 1e4, meter: 1e6,
  'µm': 1, 'μm': 1, um: 1, micron: 1, nm: 1e-3, mm: 1e3,
};

/** A length in an NGFF unit as µm; undefined for a unit that is not a length Tessel knows. */
export function ngffToMicrometres(value: number, unit: string): number | undefined {
  const f = UM_PER_UNIT[unit.trim().toLowerCase()];
  return f === undefined ? undefined : value * f;
}
