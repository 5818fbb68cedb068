import { stat } from 'node:fs/promises';
import type { RangeReader, Store, WriteOptions } from './types';

/**
 * Bytes moved through the storage boundary in this process, by URI scheme (`file` or `gs`), since it
 * started. Plain numbers, so core stays free of any metrics library: the worker's `/metrics` reads them.
 */
export interface StorageTraffic { readBytes: Record<string, number>; writtenBytes: Record<string, number> }

const traffic: StorageTraffic = { readBytes: {}, writtenBytes: {} };

/** A snapshot of the bytes read and written so far. */
export function storageTraffic(): StorageTraffic {
  return { readBytes: { ...traffic.readBytes }, writtenBytes: { ...traffic.writtenBytes } };
}

function scheme(uri: string): string {
  return uri.startsWith('gs://') ? 'gs' : 'file';
}

function add(into: Record<string, number>, uri: string, n: number): void {
  const s = scheme(uri);
  into[s] = (into[s] ?? 0) + n;
}

/**
 * Wraps a store so every byte read or written through it is counted in {@link storageTraffic}
 * (a decorator in zarrita's manner: the store itself knows nothing of it). Failed calls count nothing.
 */
export function countingStore(inner: Store): Store {
  return {
    handles: (uri) => inner.handles(uri),
    stat: (uri) => inner.stat(uri),
    list: (prefix, opts) => inner.list(prefix, opts),
    delete: (uri) => inner.delete(uri),
    async readAll(uri) {
      const data = await inner.readAll(uri);
      add(traffic.readBytes, uri, data.byteLength);
      return data;
    },
    async openRange(uri): Promise<RangeReader> {
      const r = await inner.openRange(uri);
      return {
        uri: r.uri,
        size: () => r.size(),
        close: () => r.close(),
        async read(offset, length, into) {
          const data = await r.read(offset, length, into);
          add(traffic.readBytes, uri, data.byteLength);
          return data;
        },
      };
    },
    async writeAtomic(uri, data: Uint8Array | string, opts?: WriteOptions) {
      await inner.writeAtomic(uri, data, opts);
      add(traffic.writtenBytes, uri, typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength);
    },
    async putFile(localPath, uri, opts?: WriteOptions) {
      const size = (await stat(localPath)).size; // before: a local put moves the file away
      await inner.putFile(localPath, uri, opts);
      add(traffic.writtenBytes, uri, size);
    },
  };
}
