import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DType } from './ndarray';
import { childrenNamed, escapeXml, findAll, parseXml, type XmlElement } from './xml';

/**
 * OME-XML as stored in an OME-TIFF's first ImageDescription: what Tessel reads (first image's
 * Pixels: sizes, type, dimension order, physical pixel size with unit, channel names, TiffData
 * plane→IFD mapping) and what it writes.
 *
 * Reference: OME Data Model and File Formats, schema 2016-06 (https://ome-model.readthedocs.io),
 * "The OME-TIFF format" (TiffData semantics: IFD, FirstC/Z/T, PlaneCount).
 */

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

/** The Pixels attributes Tessel uses; unknown ones are ignored. */
const PixelsSchema = z.object({
  DimensionOrder: z.enum(['XYZCT', 'XYZTC', 'XYCTZ', 'XYCZT', 'XYTCZ', 'XYTZC']).default('XYCZT'),
  Type: z.string().optional(),
  SizeX: positiveInt,
  SizeY: positiveInt,
  SizeC: positiveInt.default(1),
  SizeZ: positiveInt.default(1),
  SizeT: positiveInt.default(1),
  PhysicalSizeX: z.coerce.number().positive().optional(),
  PhysicalSizeY: z.coerce.number().positive().optional(),
  PhysicalSizeXUnit: z.string().default('µm'),
  PhysicalSizeYUnit: z.string().default('µm'),
});

const TiffDataSchema = z.object({
  IFD: nonNegativeInt.default(0),
  FirstC: nonNegativeInt.default(0),
  FirstZ: nonNegativeInt.default(0),
  FirstT: nonNegativeInt.default(0),
  PlaneCount: nonNegativeInt.optional(),
});

export type OmePixels = z.infer<typeof PixelsSchema>;

export interface OmeImage {
  name?: string;
  pixels: OmePixels;
  /** µm per pixel, after unit conversion; undefined when absent or in a unit that is not a length. */
  physicalSizeX?: number;
  physicalSizeY?: number;
  channelNames: (string | undefined)[];
  /** Samples per pixel of each Channel element (3 for an interleaved RGB channel). */
  channelSamples: number[];
  /** Number of channel planes (SizeC, or the Channel element count when channels hold several samples). */
  planeChannels: number;
  /** IFD index of plane (c, z, t), or undefined when the TiffData does not say (e.g. other files). */
  ifdOf(c: number, z: number, t: number): number | undefined;
  warnings: string[];
}

/** Length units (OME UnitsLength symbols) to micrometres. */
const UM_PER_UNIT: Record<string, number> = {
  'µm': 1, 'μm': 1, um: 1, micron: 1, microns: 1, nm: 1e-3, 'Å': 1e-4, pm: 1e-6, mm: 1e3, cm: 1e4, dm: 1e5, m: 1e6,
};

/** Converts a length in `unit` to µm; undefined for non-length units such as `pixel`. */
export function toMicrometres(value: number, unit: string): number | undefined {
  const f = UM_PER_UNIT[unit.trim()];
  return f === undefined ? undefined : value * f;
}

/** Plane index of (c, z, t) in a dimension order such as `XYCZT` (fastest first after XY). */
export function planeIndex(order: string, sizes: { C: number; Z: number; T: number }, pos: { C: number; Z: number; T: number }): number {
  const axes = order.slice(2).split('') as ('C' | 'Z' | 'T')[];
  return pos[axes[0]] + sizes[axes[0]] * (pos[axes[1]] + sizes[axes[1]] * pos[axes[2]]);
}

/**
 * Whether an ImageDescription is meant as OME-XML: it has an `OME` element, with or without a namespace
 * prefix (`<ome:OME …>` is as valid as `<OME …>`), whether or not the rest of it parses.
 */
export function looksLikeOmeXml(description: string): boolean {
  return /<(?:[A-Za-z_][\w.-]*:)?OME[\s/>]/.test(description);
}

/**
 * Parses OME-XML and returns its images (first = the one Tessel reads). `fileName` (the file's own name)
 * tells TiffData pointing at this file (as Bio-Formats writes them) from those pointing at another one.
 * @throws Error when the XML is malformed or has no valid Pixels element.
 */
export function parseOmeXml(xml: string, fileName?: string): OmeImage[] {
  const doc = parseXml(xml);
  const images = findAll(doc, 'Image');
  if (images.length === 0) throw new Error('OME-XML has no Image element');
  const ome = findAll(doc, 'OME')[0];
  return images.map((img) => parseImage(img, { fileName, uuid: ome?.attrs.UUID }));
}

function parseImage(img: XmlElement, self: { fileName?: string; uuid?: string }): OmeImage {
  const pixelsEl = childrenNamed(img, 'Pixels')[0];
  if (!pixelsEl) throw new Error(`OME-XML Image ${img.attrs.ID ?? ''} has no Pixels element`);
  const parsed = PixelsSchema.safeParse(pixelsEl.attrs);
  if (!parsed.success) {
    throw new Error(`OME-XML Pixels attributes are invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const pixels = parsed.data;
  const warnings: string[] = [];
  const size = (v: number | undefined, unit: string, axis: string): number | undefined => {
    if (v === undefined) return undefined;
    const um = toMicrometres(v, unit);
    if (um === undefined) warnings.push(`PhysicalSize${axis} is in '${unit}', not a length unit; treating the image as uncalibrated`);
    return um;
  };
  const channels = childrenNamed(pixelsEl, 'Channel');
  const channelSamples = channels.map((c) => Number(c.attrs.SamplesPerPixel ?? 1) || 1);
  // With interleaved samples (RGB), SizeC counts samples but planes count Channel elements.
  const planeC = channels.length > 0 && channelSamples.reduce((a, b) => a + b, 0) === pixels.SizeC ? channels.length : pixels.SizeC;
  const sizes = { C: planeC, Z: pixels.SizeZ, T: pixels.SizeT };
  const planeCount = sizes.C * sizes.Z * sizes.T;
  // Plane index → IFD; planes not covered (or stored in another file) stay undefined.
  const ifds = new PlaneMap();
  const tiffData = childrenNamed(pixelsEl, 'TiffData');
  if (tiffData.length === 0) ifds.add(0, planeCount, 0);
  for (const td of tiffData) {
    const t = TiffDataSchema.safeParse(td.attrs);
    if (!t.success) {
      warnings.push('ignoring a TiffData element with invalid attributes');
      continue;
    }
    const uuid = childrenNamed(td, 'UUID')[0];
    // The UUID names the file (a renamed file keeps it); FileName decides only where there is no UUID to compare.
    const id = uuid?.text.trim() ?? '';
    const elsewhere = uuid && (id !== '' && self.uuid !== undefined ? id !== self.uuid
      : uuid.attrs.FileName !== undefined && self.fileName !== undefined && uuid.attrs.FileName !== self.fileName);
    const warning = `TiffData refers to file '${uuid?.attrs.FileName ?? id}'; multi-file OME-TIFF datasets are read as if every plane were in this file`;
    if (elsewhere && !warnings.includes(warning)) warnings.push(warning);
    const start = planeIndex(pixels.DimensionOrder, sizes, { C: t.data.FirstC, Z: t.data.FirstZ, T: t.data.FirstT });
    // With no attributes at all, a TiffData covers every plane from IFD 0 (OME-TIFF spec).
    const count = t.data.PlaneCount ?? (Object.keys(td.attrs).some((k) => k !== 'IFD') ? 1 : planeCount - start);
    if (!ifds.add(start, Math.min(count, planeCount - start), t.data.IFD)) {
      warnings.push(`more than ${MAX_PLANE_RANGES} multi-plane TiffData elements; ignoring the rest`);
      break;
    }
  }
  return {
    name: img.attrs.Name,
    pixels,
    physicalSizeX: size(pixels.PhysicalSizeX, pixels.PhysicalSizeXUnit, 'X'),
    physicalSizeY: size(pixels.PhysicalSizeY, pixels.PhysicalSizeYUnit, 'Y'),
    channelNames: channels.map((c) => c.attrs.Name),
    channelSamples,
    planeChannels: planeC,
    ifdOf: (c, zz, t) => ifds.get(planeIndex(pixels.DimensionOrder, sizes, { C: c, Z: zz, T: t })),
    warnings,
  };
}

/** Multi-plane TiffData ranges kept per image (writers use one, or one single-plane element per plane). */
const MAX_PLANE_RANGES = 4096;

/**
 * Plane index → IFD from TiffData ranges, a later element winning where they overlap (as they apply in
 * document order). Sized by the elements the XML really has, never by SizeC × SizeZ × SizeT, which a
 * header can set to billions (found by fuzzing: an array of that length).
 */
class PlaneMap {
  private readonly single = new Map<number, { order: number; ifd: number }>();
  private readonly ranges: { order: number; start: number; end: number; ifd: number }[] = [];
  private order = 0;

  /** Maps planes start…start+count−1 to IFDs ifd…; false when the multi-plane range budget is spent. */
  add(start: number, count: number, ifd: number): boolean {
    if (count <= 0) return true;
    const order = this.order++;
    if (count === 1) this.single.set(start, { order, ifd });
    else if (this.ranges.length >= MAX_PLANE_RANGES) return false;
    else this.ranges.push({ order, start, end: start + count, ifd });
    return true;
  }

  get(plane: number): number | undefined {
    let best = this.single.get(plane);
    for (const r of this.ranges) {
      if (plane >= r.start && plane < r.end && (!best || r.order > best.order)) best = { order: r.order, ifd: r.ifd + (plane - r.start) };
    }
    return best?.ifd;
  }
}

const OME_TYPE: Partial<Record<DType, string>> = {
  uint8: 'uint8', int8: 'int8', uint16: 'uint16', int16: 'int16', uint32: 'uint32', int32: 'int32', float32: 'float', float64: 'double',
};

export interface BuildOmeXmlOptions {
  width: number;
  height: number;
  dtype: DType;
  channelNames: string[];
  physicalSizeX?: number;
  physicalSizeY?: number;
  imageName?: string;
  /** The file's UUID (without `urn:uuid:`); a random one by default. */
  uuid?: string;
}

/**
 * OME-XML for one image stored as one IFD per channel (C pages of Y×X, DimensionOrder XYCZT).
 * Non-ASCII characters (µ, channel names) are written as UTF-8, as tifffile and Bio-Formats write them.
 */
export function buildOmeXml(o: BuildOmeXmlOptions): string {
  const type = OME_TYPE[o.dtype];
  if (!type) throw new Error(`OME-TIFF pixel type ${o.dtype} is not supported`);
  const phys = [
    o.physicalSizeX !== undefined ? ` PhysicalSizeX="${o.physicalSizeX}" PhysicalSizeXUnit="${escapeXml('µm')}"` : '',
    o.physicalSizeY !== undefined ? ` PhysicalSizeY="${o.physicalSizeY}" PhysicalSizeYUnit="${escapeXml('µm')}"` : '',
  ].join('');
  const sizeC = o.channelNames.length;
  const channels = o.channelNames.map((name, c) => `<Channel ID="Channel:0:${c}" Name="${escapeXml(name)}" SamplesPerPixel="1"><LightPath/></Channel>`).join('');
  const tiffData = o.channelNames.map((_, c) => `<TiffData FirstC="${c}" FirstT="0" FirstZ="0" IFD="${c}" PlaneCount="1"/>`).join('');
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    + ' xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd"'
    + ` UUID="urn:uuid:${o.uuid ?? randomUUID()}" Creator="Tessel">`
    + `<Image ID="Image:0" Name="${escapeXml(o.imageName ?? 'image')}">`
    + `<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="${type}" SizeX="${o.width}" SizeY="${o.height}" SizeC="${sizeC}" SizeZ="1" SizeT="1"`
    + `${phys} BigEndian="false" Interleaved="false">`
    + channels + tiffData
    + '</Pixels></Image></OME>';
}
