import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { deflate as deflateCb, gzip as gzipCb } from 'node:zlib';
import { ConfigError, isTesselError } from '../errors';
import { isGcsUri, joinUri, storeFor } from '../storage';
import { freshTempSibling } from '../storage/local';
import { pyramidLevels } from './mask-pyramid';
import type { MaskBackend } from './mask-tiff-writer';

const deflate = promisify(deflateCb);
const gzip = promisify(gzipCb);

/**
 * The OME-Zarr half of the streaming mask writer: an NGFF label image at `<root>/labels/<label>`
 * (image-label metadata with multiscales), int32, one chunk per tile, a nearest-neighbour pyramid
 * ('0', '1', …). NGFF 0.4 writes Zarr v2 with the zlib compressor; NGFF 0.5 writes Zarr v3 with the
 * gzip codec (both core codecs every Zarr reader has). Every chunk is written, empty ones included, so
 * a replaced array never keeps a stale chunk.
 *
 * Chunks go to a local staging folder as they come; commit adds the metadata and publishes the folder
 * with `Store.putFolder`: locally a rename (the label appears whole or not at all), on GCS chunks
 * first and metadata last (the label is absent while it uploads, never half-valid), then adds the label
 * to `<root>/labels` (and creates the root and labels groups when missing).
 *
 * Reference: OME-NGFF 0.4 and 0.5, "labels" and "multiscales"; Zarr v2 and v3 specifications.
 */
export interface ZarrMaskOptions {
  width: number;
  height: number;
  tileSize: number;
  umPerPixel?: number;
  /** Name under `labels/`. */
  labelName: string;
  /**
   * Every label written into this root together with this one (whole-cell and nucleus): `labels/` lists
   * them all from the first commit, so writers on other threads or in other processes write the same list
   * instead of each adding its own name to what it read.
   */
  listedWith?: string[];
  /** @default '0.4' */
  ngffVersion: '0.4' | '0.5';
}

async function stagingDir(labelUri: string): Promise<string> {
  if (isGcsUri(labelUri)) return join(tmpdir(), `tessel-zarr-${randomBytes(6).toString('hex')}`);
  return freshTempSibling(resolve(labelUri.startsWith('file://') ? labelUri.slice('file://'.length) : labelUri));
}

const json = (v: unknown): string => JSON.stringify(v, null, 2);

/**
 * Commits into one root run one at a time in this process, so two labels (whole-cell and nucleus)
 * committed together both end up in `labels/`'s list. Writers on other threads or in other processes
 * share no lock: they name each other in `listedWith`.
 */
const rootLocks = new Map<string, Promise<unknown>>();
function underRootLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const run = (rootLocks.get(root) ?? Promise.resolve()).then(fn, fn);
  const settled = run.then(() => undefined, () => undefined);
  rootLocks.set(root, settled);
  void settled.then(() => { if (rootLocks.get(root) === settled) rootLocks.delete(root); });
  return run;
}

export async function openZarrMaskBackend(rootUri: string, o: ZarrMaskOptions): Promise<MaskBackend> {
  if (!/^[A-Za-z0-9._-]+$/.test(o.labelName) || o.labelName.startsWith('.')) {
    throw new ConfigError(`label name '${o.labelName}' must be letters, digits, '.', '_' or '-' (and not start with '.')`, { file: rootUri });
  }
  const root = rootUri.replace(/\/+$/, '');
  const v3 = o.ngffVersion === '0.5';
  const store = storeFor(root);
  const existing = v3 ? await store.stat(joinUri(root, '.zgroup')) : await store.stat(joinUri(root, 'zarr.json'));
  if (existing) throw new ConfigError(`the Zarr at this URI is Zarr v${v3 ? 2 : 3}; NGFF ${o.ngffVersion} labels would need v${v3 ? 3 : 2}`, { file: root });
  const labelUri = joinUri(root, 'labels', o.labelName);
  const staging = await stagingDir(labelUri);
  // Folders made only to hold the staging folder are removed again if nothing is published.
  const made = isGcsUri(labelUri) ? undefined : await fs.mkdir(dirname(staging), { recursive: true });
  await fs.mkdir(staging, { recursive: true });
  const levels = pyramidLevels(o.width, o.height, o.tileSize);
  const t = o.tileSize;

  let published = false;
  const discard = async (): Promise<void> => {
    await fs.rm(staging, { recursive: true, force: true });
    if (made === undefined || published) return;
    for (let d = dirname(staging); d.length >= made.length; d = dirname(d)) {
      if (!(await fs.rmdir(d).then(() => true, () => false))) break; // not empty (or gone): stop
    }
  };

  const arrayMeta = (l: { width: number; height: number }): [string, string] => (v3
    ? ['zarr.json', json({
      zarr_format: 3, node_type: 'array', shape: [l.height, l.width], data_type: 'int32',
      chunk_grid: { name: 'regular', configuration: { chunk_shape: [t, t] } },
      chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
      fill_value: 0, codecs: [{ name: 'bytes', configuration: { endian: 'little' } }, { name: 'gzip', configuration: { level: 6 } }],
      dimension_names: ['y', 'x'], attributes: {},
    })]
    : ['.zarray', json({
      zarr_format: 2, shape: [l.height, l.width], chunks: [t, t], dtype: '<i4', compressor: { id: 'zlib', level: 6 },
      fill_value: 0, order: 'C', filters: null, dimension_separator: '/',
    })]);

  const multiscales = (): Record<string, unknown> => {
    const um = o.umPerPixel;
    const axis = (name: string) => ({ name, type: 'space', ...(um !== undefined ? { unit: 'micrometer' } : {}) });
    return {
      ...(v3 ? {} : { version: '0.4' }),
      name: o.labelName,
      axes: [axis('y'), axis('x')],
      datasets: levels.map((_, k) => ({ path: String(k), coordinateTransformations: [{ type: 'scale', scale: [(um ?? 1) * 2 ** k, (um ?? 1) * 2 ** k] }] })),
      // Levels sample every 2^k-th pixel of level 0: nearest neighbour, labels are never averaged.
      type: 'nearest',
    };
  };

  const ours = [...new Set([...(o.listedWith ?? []), o.labelName])];
  /** Adds the label (and those written with it) to `<root>/labels` and creates the groups above it when missing. */
  const register = async (): Promise<void> => {
    if (v3) {
      const rootMeta = joinUri(root, 'zarr.json');
      if (!(await store.stat(rootMeta))) await store.writeAtomic(rootMeta, json({ zarr_format: 3, node_type: 'group', attributes: {} }), { ifAbsent: true }).catch(ignoreExists);
      const labelsMeta = joinUri(root, 'labels', 'zarr.json');
      const names = new Set([...(((await readJson(labelsMeta))?.attributes as { ome?: { labels?: string[] } } | undefined)?.ome?.labels ?? []), ...ours]);
      await store.writeAtomic(labelsMeta, json({ zarr_format: 3, node_type: 'group', attributes: { ome: { version: '0.5', labels: [...names] } } }));
    } else {
      for (const g of [joinUri(root, '.zgroup'), joinUri(root, 'labels', '.zgroup')]) {
        if (!(await store.stat(g))) await store.writeAtomic(g, json({ zarr_format: 2 }), { ifAbsent: true }).catch(ignoreExists);
      }
      const labelsAttrs = joinUri(root, 'labels', '.zattrs');
      const prev = (await readJson(labelsAttrs)) ?? {};
      const names = new Set([...((prev.labels as string[] | undefined) ?? []), ...ours]);
      await store.writeAtomic(labelsAttrs, json({ ...prev, labels: [...names] }));
    }
  };

  const readJson = async (uri: string): Promise<Record<string, unknown> | undefined> => {
    if (!(await store.stat(uri))) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(await store.readAll(uri))) as Record<string, unknown>;
    } catch {
      return undefined; // unreadable: rewritten with this label only
    }
  };

  return {
    async writeTile(level, tx, ty, tile) {
      const raw = Buffer.from(tile.buffer, tile.byteOffset, t * t * 4);
      const packed = v3 ? await gzip(raw, { level: 6 }) : await deflate(raw, { level: 6 });
      const file = v3 ? join(staging, String(level), 'c', String(ty), String(tx)) : join(staging, String(level), String(ty), String(tx));
      await fs.mkdir(dirname(file), { recursive: true });
      await fs.writeFile(file, packed);
    },

    async finish() {
      try {
        const last: string[] = [];
        for (let k = 0; k < levels.length; k++) {
          const [name, body] = arrayMeta(levels[k]);
          await fs.mkdir(join(staging, String(k)), { recursive: true });
          await fs.writeFile(join(staging, String(k), name), body);
          last.push(`${k}/${name}`);
        }
        // No `source`: the root may hold only labels (Tessel writes masks beside, not into, the input image).
        const label = v3 ? {} : { version: '0.4' };
        if (v3) {
          await fs.writeFile(join(staging, 'zarr.json'), json({
            zarr_format: 3, node_type: 'group', attributes: { ome: { version: '0.5', multiscales: [multiscales()], 'image-label': label } },
          }));
          last.push('zarr.json');
        } else {
          await fs.writeFile(join(staging, '.zgroup'), json({ zarr_format: 2 }));
          await fs.writeFile(join(staging, '.zattrs'), json({ multiscales: [multiscales()], 'image-label': label }));
          last.push('.zgroup', '.zattrs');
        }
        await underRootLock(root, async () => {
          await store.putFolder(staging, labelUri, { last });
          published = true;
          await register();
        });
      } finally {
        await discard();
      }
    },

    discard,
  };
}

function ignoreExists(e: unknown): void {
  if (!(isTesselError(e) && e.code === 'ALREADY_EXISTS')) throw e;
}
