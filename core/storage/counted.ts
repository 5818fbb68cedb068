import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BroadcastChannel, isMainThread } from 'node:worker_threads';
import type { PutFolderOptions, RangeReader, Store, WriteOptions } from './types';

/**
 * Bytes moved through the storage boundary in this process, by URI scheme (`file` or `gs`), since it
 * started. Plain numbers, so core stays free of any metrics library: the worker's `/metrics` reads them.
 */
export interface StorageTraffic { readBytes: Record<string, number>; writtenBytes: Record<string, number> }

const traffic: StorageTraffic = { readBytes: {}, writtenBytes: {} };

// Stages also write from worker threads (quantification, for one), each with its own copy of this
// module: they post their counts to the main thread, which keeps the totals.
const CHANNEL = 'tessel:storage-traffic';
type Count = [kind: keyof StorageTraffic, scheme: string, bytes: number];
let toMain: BroadcastChannel | undefined;
if (isMainThread) {
  const fromThreads = new BroadcastChannel(CHANNEL);
  fromThreads.unref();
  fromThreads.onmessage = (m) => bump(...((m as MessageEvent).data as Count));
}

function bump(kind: keyof StorageTraffic, s: string, n: number): void {
  traffic[kind][s] = (traffic[kind][s] ?? 0) + n;
}

/** A snapshot of the bytes read and written so far. */
export function storageTraffic(): StorageTraffic {
  return { readBytes: { ...traffic.readBytes }, writtenBytes: { ...traffic.writtenBytes } };
}

function scheme(uri: string): string {
  return uri.startsWith('gs://') ? 'gs' : 'file';
}

function add(kind: keyof StorageTraffic, uri: string, n: number): void {
  if (isMainThread) return bump(kind, scheme(uri), n);
  if (!toMain) {
    toMain = new BroadcastChannel(CHANNEL);
    toMain.unref();
  }
  toMain.postMessage([kind, scheme(uri), n] satisfies Count);
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
      add('readBytes', uri, data.byteLength);
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
          add('readBytes', uri, data.byteLength);
          return data;
        },
      };
    },
    async writeAtomic(uri, data: Uint8Array | string, opts?: WriteOptions) {
      await inner.writeAtomic(uri, data, opts);
      add('writtenBytes', uri, typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength);
    },
    async putFile(localPath, uri, opts?: WriteOptions) {
      const size = (await stat(localPath)).size; // before: a local put moves the file away
      await inner.putFile(localPath, uri, opts);
      add('writtenBytes', uri, size);
    },
    async putFolder(localDir, uri, opts?: PutFolderOptions) {
      const size = await folderBytes(localDir); // before: the folder is consumed
      await inner.putFolder(localDir, uri, opts);
      add('writtenBytes', uri, size);
    },
  };
}

/** Bytes of the files under a local folder. */
async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size;
  }
  return n;
}
