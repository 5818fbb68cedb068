import { ChannelNotFoundError, ConfigError, InvalidImageError, UnsupportedFormatError, isTesselError } from '../../errors';
import { joinUri } from '../../storage';
import type { ImageInfo, ImageSource, ReadChannelOptions } from '../image';
import type { DType, Plane, TypedArray } from '../ndarray';
import { loadZarrita, type Zarrita } from './esm';
import { axisRoles, ngffToMicrometres, parseNgffImage, type AxisRoles, type NgffImage } from './ngff';
import { ZarrStoreReader } from './store';

/**
 * OME-Zarr images (NGFF 0.4 on Zarr v2, 0.5 on Zarr v3) behind {@link ImageSource}: metadata from the
 * image group, one zarrita array per pyramid level, and region reads that fetch only the chunks the
 * region touches. A chunk that was never written reads as the array's fill value (Zarr's rule, and
 * what zarr-python does for chunks equal to the fill value); a chunk that exists but cannot be
 * decoded is an {@link InvalidImageError} naming the array.
 */

/** Sample types Tessel reads from Zarr arrays; int64, float16, bool and strings are refused. */
const DTYPES: readonly string[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'];

/** Chunk requests in flight per region read. */
const CONCURRENCY = 16;

type ZArray = Awaited<ReturnType<Zarrita['open']['v2']>> & { kind: 'array' };

interface Level {
  path: string;
  uri: string;
  array: ZArray;
  width: number;
  height: number;
}

/** Whether a URI names an OME-Zarr by its name (`.zarr`, `.ome.zarr`, with or without a trailing slash). */
export function isZarrUri(uri: string): boolean {
  return /\.zarr\/*$/i.test(uri);
}

/**
 * Whether a folder holds Zarr metadata at its top (`zarr.json`, `.zattrs` or `.zgroup`): for OME-Zarr
 * images whose folder name does not end in `.zarr`.
 */
export async function looksLikeZarr(uri: string): Promise<boolean> {
  const r = new ZarrStoreReader(uri);
  for (const key of ['/zarr.json', '/.zattrs', '/.zgroup'] as const) {
    try {
      if (await r.get(key)) return true;
    } catch {
      // not readable as a folder key (e.g. the URI is a file): not a Zarr
    }
  }
  return false;
}

class ZarrImageSource implements ImageSource {
  constructor(readonly info: ImageInfo, private readonly z: Zarrita, private readonly levels: Level[], private readonly roles: AxisRoles) {}

  async levelSize(level: number): Promise<{ width: number; height: number }> {
    const l = this.level(level);
    return { width: l.width, height: l.height };
  }

  private level(level: number): Level {
    if (!Number.isInteger(level) || level < 0 || level >= this.levels.length) {
      throw new ConfigError(`pyramid level ${level} requested; the image has ${this.levels.length} level(s) (0–${this.levels.length - 1})`, { file: this.info.uri });
    }
    return this.levels[level];
  }

  async readChannel(index: number, opts: ReadChannelOptions = {}): Promise<Plane> {
    if (!Number.isInteger(index) || index < 0 || index >= this.info.channels.length) {
      throw new ChannelNotFoundError(this.info.uri, String(index), this.info.channels);
    }
    const l = this.level(opts.level ?? 0);
    const { x, y, width, height } = opts.region ?? { x: 0, y: 0, width: l.width, height: l.height };
    if (![x, y, width, height].every(Number.isInteger) || x < 0 || y < 0 || width < 1 || height < 1 || x + width > l.width || y + height > l.height) {
      throw new ConfigError(`region x=${x} y=${y} ${width}×${height} is outside the ${l.width}×${l.height} image (level ${opts.level ?? 0})`, { file: this.info.uri });
    }
    const selection = l.array.shape.map((_, d) => {
      if (d === this.roles.y) return this.z.slice(y, y + height);
      if (d === this.roles.x) return this.z.slice(x, x + width);
      if (d === this.roles.c) return index;
      return 0; // t = 0, z = 0 (warned at open when there are more)
    });
    let out;
    try {
      out = await this.z.get(l.array, selection, { createQueue: limitedQueue } as never);
    } catch (e) {
      if (isTesselError(e)) throw e;
      throw new InvalidImageError(l.uri, `cannot read region x=${x} y=${y} ${width}×${height} of channel ${index}: ${(e as Error).message}`, { cause: e });
    }
    return { data: rowMajor(out.data as TypedArray, out.stride, width, height), width, height };
  }

  async close(): Promise<void> {}
}

/** The region as a row-major plane, copying only when the array's order is not C (v2 `order: F`, v3 transpose). */
function rowMajor(data: TypedArray, stride: number[], width: number, height: number): TypedArray {
  if (stride[1] === 1 && stride[0] === width) return data;
  const ctor = data.constructor as new (n: number) => TypedArray;
  const out = new ctor(width * height) as unknown as number[];
  const src = data as unknown as number[];
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) out[r * width + c] = src[r * stride[0] + c * stride[1]];
  return out as unknown as TypedArray;
}

/** zarrita's queue, at most {@link CONCURRENCY} chunk fetches at a time (a whole-plane read may touch thousands). */
function limitedQueue(): { add(fn: () => Promise<void>): void; onIdle(): Promise<unknown> } {
  const waiting: (() => Promise<void>)[] = [];
  const running = new Set<Promise<void>>();
  let failure: unknown;
  let idle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const next = (): void => {
    while (running.size < CONCURRENCY && waiting.length > 0 && failure === undefined) {
      const p: Promise<void> = waiting.shift()!().then(() => { running.delete(p); next(); }, (e) => { failure ??= e; running.delete(p); next(); });
      running.add(p);
    }
    if (idle && running.size === 0 && (waiting.length === 0 || failure !== undefined)) {
      if (failure !== undefined) idle.reject(failure);
      else idle.resolve();
    }
  };
  return {
    add(fn) { waiting.push(fn); next(); },
    onIdle: () => new Promise<void>((resolve, reject) => { idle = { resolve, reject }; next(); }),
  };
}

/**
 * Opens an OME-Zarr image group (or a bioformats2raw container, whose series 0 is read).
 * @throws InvalidImageError for missing or malformed metadata, a missing array, axes Tessel cannot map;
 *   UnsupportedFormatError for a sample type or codec Tessel does not read.
 */
export async function openZarrImage(uri: string): Promise<ImageSource> {
  const root = uri.replace(/\/+$/, '');
  const z = await loadZarrita();
  let groupUri = root;
  let reader = new ZarrStoreReader(groupUri);
  let group = await groupMetadata(reader);
  let ngff = parseOrThrow(groupUri, group.attributes);
  const warnings: string[] = [];
  if (!ngff && 'bioformats2raw.layout' in group.attributes) {
    // bioformats2raw writes each series as a numbered image group below the container.
    groupUri = joinUri(root, '0');
    reader = new ZarrStoreReader(groupUri);
    group = await groupMetadata(reader);
    ngff = parseOrThrow(groupUri, group.attributes);
    warnings.push('bioformats2raw container: series 0 is read');
  }
  if (!ngff) throw new InvalidImageError(groupUri, 'the Zarr group has no NGFF "multiscales" metadata: not an OME-Zarr image');
  if (!['0.4', '0.5'].includes(ngff.version)) warnings.push(`NGFF version ${ngff.version}; Tessel is tested with 0.4 and 0.5`);
  let roles: AxisRoles;
  try {
    roles = axisRoles(ngff.axes);
  } catch (e) {
    throw new InvalidImageError(groupUri, (e as Error).message);
  }
  const levels: Level[] = [];
  let dtype: DType | undefined;
  let compression = 'none';
  for (const d of ngff.datasets) {
    const arrayUri = joinUri(groupUri, d.path);
    const meta = await arrayMetadata(reader, d.path, group.format, arrayUri);
    const array = await openArray(z, reader, d.path, group.format, arrayUri);
    if (array.shape.length !== ngff.axes.length) {
      throw new InvalidImageError(arrayUri, `the array has ${array.shape.length} dimensions, the NGFF axes ${ngff.axes.map((a) => a.name).join(',')} name ${ngff.axes.length}`);
    }
    if (!DTYPES.includes(array.dtype)) {
      throw new UnsupportedFormatError(arrayUri, `sample type ${array.dtype} is not one Tessel reads (${DTYPES.join(', ')})`);
    }
    if (dtype !== undefined && array.dtype !== dtype) throw new UnsupportedFormatError(arrayUri, `pyramid level ${levels.length} is ${array.dtype}, level 0 is ${dtype}`);
    if (levels.length === 0) {
      dtype = array.dtype as DType;
      compression = checkCodecs(z, meta, arrayUri);
    }
    const prev = levels[levels.length - 1];
    for (const role of ['t', 'c', 'z'] as const) {
      const dim = roles[role];
      if (prev && dim !== undefined && array.shape[dim] !== prev.array.shape[dim]) {
        throw new InvalidImageError(arrayUri, `pyramid level ${levels.length} has ${role} size ${array.shape[dim]}, level 0 has ${prev.array.shape[dim]}`);
      }
    }
    levels.push({ path: d.path, uri: arrayUri, array, width: array.shape[roles.x], height: array.shape[roles.y] });
  }
  const shape = levels[0].array.shape;
  const sizeC = roles.c !== undefined ? shape[roles.c] : 1;
  const sizeZ = roles.z !== undefined ? shape[roles.z] : 1;
  const sizeT = roles.t !== undefined ? shape[roles.t] : 1;
  if (sizeZ > 1 || sizeT > 1) warnings.push(`image has z size ${sizeZ}, t size ${sizeT}; Tessel reads z=0, t=0`);
  const { x: physicalSizeX, y: physicalSizeY } = pixelSize(ngff, roles, warnings);
  const info: ImageInfo = {
    uri,
    width: levels[0].width,
    height: levels[0].height,
    channels: channelNames(ngff, sizeC, warnings),
    dtype: dtype!,
    physicalSizeX,
    physicalSizeY,
    calibrated: physicalSizeX !== undefined,
    levels: levels.length,
    tiled: true,
    compression,
    bigtiff: false,
    dimensionOrder: ngff.axes.map((a) => a.name).join('').toUpperCase(),
    warnings,
    format: 'ome-zarr',
    ngffVersion: ngff.version,
    zarrFormat: group.format,
    chunkSize: { width: levels[0].array.chunks[roles.x], height: levels[0].array.chunks[roles.y] },
  };
  return new ZarrImageSource(info, z, levels, roles);
}

function parseOrThrow(groupUri: string, attributes: Record<string, unknown>): NgffImage | undefined {
  try {
    return parseNgffImage(attributes);
  } catch (e) {
    throw new InvalidImageError(groupUri, (e as Error).message);
  }
}

async function groupMetadata(reader: ZarrStoreReader): Promise<{ format: 2 | 3; attributes: Record<string, unknown> }> {
  const uri = reader.rootUri;
  try {
    const v3 = await reader.json('/zarr.json');
    if (v3) {
      if (v3.node_type === 'array') throw new InvalidImageError(uri, 'is a Zarr array, not an OME-Zarr image group (open the group that holds it)');
      return { format: 3, attributes: (v3.attributes as Record<string, unknown> | undefined) ?? {} };
    }
    const attrs = await reader.json('/.zattrs');
    if (attrs) return { format: 2, attributes: attrs };
    if (await reader.get('/.zgroup')) return { format: 2, attributes: {} };
    if (await reader.get('/.zarray')) throw new InvalidImageError(uri, 'is a Zarr array, not an OME-Zarr image group (open the group that holds it)');
  } catch (e) {
    if (isTesselError(e)) throw e;
    throw new InvalidImageError(uri, `Zarr metadata is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  throw new InvalidImageError(uri, 'no Zarr metadata (zarr.json, .zattrs or .zgroup): not an OME-Zarr image, or the folder does not exist');
}

async function arrayMetadata(reader: ZarrStoreReader, path: string, format: 2 | 3, arrayUri: string): Promise<Record<string, unknown>> {
  const key = `/${path.replace(/^\/+|\/+$/g, '')}/${format === 3 ? 'zarr.json' : '.zarray'}` as const;
  let meta;
  try {
    meta = await reader.json(key);
  } catch (e) {
    if (isTesselError(e)) throw e;
    throw new InvalidImageError(arrayUri, `array metadata ${key.slice(1)} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!meta) throw new InvalidImageError(arrayUri, `pyramid level '${path}' has no array metadata (${key.slice(key.lastIndexOf('/') + 1)} missing)`);
  return meta;
}

async function openArray(z: Zarrita, reader: ZarrStoreReader, path: string, format: 2 | 3, arrayUri: string): Promise<ZArray> {
  const location = z.root(reader).resolve(path);
  try {
    return (format === 3 ? await z.open.v3(location, { kind: 'array' }) : await z.open.v2(location, { kind: 'array', attrs: false })) as ZArray;
  } catch (e) {
    if (isTesselError(e)) throw e;
    throw new InvalidImageError(arrayUri, `cannot open the array: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Checks up front that every codec of the array is one zarrita decodes (it would otherwise fail only at
 * the first chunk), and names the compression for `inspect`: `blosc-lz4`, `zlib`, `gzip`, `zstd`, `none`…
 */
function checkCodecs(z: Zarrita, meta: Record<string, unknown>, arrayUri: string): string {
  const known = z.registry as unknown as Map<string, unknown>;
  const names: string[] = [];
  const compressors: string[] = [];
  const visit = (name: string, config: Record<string, unknown> | undefined, v2: boolean): void => {
    const key = v2 ? `numcodecs.${name}` : name;
    if (name === 'sharding_indexed') {
      for (const c of (config?.codecs as { name: string; configuration?: Record<string, unknown> }[] | undefined) ?? []) visit(c.name, c.configuration, false);
      return;
    }
    if (name !== 'bytes' && !known.has(key)) throw new UnsupportedFormatError(arrayUri, `codec '${name}' is not one Tessel decodes (blosc, zlib, gzip, zstd, lz4, …)`);
    names.push(name);
    if (['blosc', 'zlib', 'gzip', 'zstd', 'lz4'].includes(name)) {
      compressors.push(name === 'blosc' && typeof config?.cname === 'string' ? `blosc-${config.cname}` : name);
    }
  };
  if (meta.zarr_format === 3) {
    for (const c of (meta.codecs as { name: string; configuration?: Record<string, unknown> }[] | undefined) ?? []) visit(c.name, c.configuration, false);
  } else {
    for (const f of (meta.filters as { id: string }[] | null | undefined) ?? []) visit(f.id, f as Record<string, unknown>, true);
    const comp = meta.compressor as { id: string } | null | undefined;
    if (comp) visit(comp.id, comp as Record<string, unknown>, true);
  }
  return compressors.length ? compressors.join('+') : 'none';
}

function pixelSize(ngff: NgffImage, roles: AxisRoles, warnings: string[]): { x?: number; y?: number } {
  const scale = ngff.datasets[0].scale;
  const ax = ngff.axes[roles.x];
  const ay = ngff.axes[roles.y];
  if (!scale || !ax.unit || !ay.unit) {
    warnings.push('no physical pixel size in the metadata (no scale with a unit on y and x): the image is uncalibrated (µm per pixel unknown; sizes stay in pixels, 1 µm is NOT assumed)');
    return {};
  }
  const x = ngffToMicrometres(scale[roles.x], ax.unit);
  const y = ngffToMicrometres(scale[roles.y], ay.unit);
  if (x === undefined || y === undefined || !(x > 0) || !(y > 0)) {
    warnings.push(`pixel size ${scale[roles.y]} ${ay.unit} × ${scale[roles.x]} ${ax.unit} is not a length Tessel knows; treating the image as uncalibrated`);
    return {};
  }
  return { x, y };
}

function channelNames(ngff: NgffImage, sizeC: number, warnings: string[]): string[] {
  const labels = ngff.channelLabels;
  if (labels && labels.length !== sizeC) warnings.push(`omero metadata names ${labels.length} channels, the array has ${sizeC}`);
  const names = Array.from({ length: sizeC }, (_, i) => labels?.[i]?.trim() || `Channel ${i}`);
  const dupes = names.filter((n, i) => names.indexOf(n) !== i);
  if (dupes.length) warnings.push(`duplicate channel names (${[...new Set(dupes)].join(', ')}); select those channels by index`);
  return names;
}
