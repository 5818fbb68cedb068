import { NotFoundError, isTesselError } from '../../errors';
import { joinUri, storeFor, type Store } from '../../storage';

/** zarrita's read interface (`@zarrita/storage` AsyncReadable), declared here so callers need not import ESM types. */
export interface ZarrReadable {
  get(key: `/${string}`): Promise<Uint8Array | undefined>;
  getRange(key: `/${string}`, range: { offset: number; length: number } | { suffixLength: number }): Promise<Uint8Array | undefined>;
}

const METADATA = /(^|\/)(\.zarray|\.zattrs|\.zgroup|zarr\.json)$/;

/**
 * A Zarr hierarchy at `rootUri` (local folder or gs:// prefix) read through Tessel's storage layer:
 * each key is one object, a missing object is `undefined` (which Zarr reads as "chunk not written, use
 * the fill value"), and other failures (permissions, network) propagate as Tessel errors. Metadata
 * documents are fetched once per open image.
 */
export class ZarrStoreReader implements ZarrReadable {
  private readonly store: Store;
  private readonly metadata = new Map<string, Promise<Uint8Array | undefined>>();

  constructor(readonly rootUri: string) {
    this.store = storeFor(rootUri);
  }

  /** The URI of a key (`/0/.zarray` → `<root>/0/.zarray`). */
  uriOf(key: string): string {
    return joinUri(this.rootUri, key);
  }

  get(key: `/${string}`): Promise<Uint8Array | undefined> {
    if (!METADATA.test(key)) return this.fetch(key);
    let p = this.metadata.get(key);
    if (!p) {
      p = this.fetch(key);
      this.metadata.set(key, p);
      p.catch(() => this.metadata.delete(key)); // a failed read may be retried
    }
    return p;
  }

  private async fetch(key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.store.readAll(this.uriOf(key));
    } catch (e) {
      if (e instanceof NotFoundError || (isTesselError(e) && e.code === 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  /** Byte ranges, for sharded Zarr v3 arrays (the shard index sits at the end of each shard). */
  async getRange(key: `/${string}`, range: { offset: number; length: number } | { suffixLength: number }): Promise<Uint8Array | undefined> {
    let reader;
    try {
      reader = await this.store.openRange(this.uriOf(key));
    } catch (e) {
      if (isTesselError(e) && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
    try {
      if ('suffixLength' in range) {
        const size = await reader.size();
        const n = Math.min(range.suffixLength, size);
        return (await reader.read(size - n, n)).slice();
      }
      return (await reader.read(range.offset, range.length)).slice();
    } finally {
      await reader.close();
    }
  }

  /** Reads and parses a JSON metadata document; `undefined` when it does not exist. */
  async json(key: `/${string}`): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.get(key);
    if (!bytes) return undefined;
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SyntaxError(`${key.slice(1)} is not a JSON object`);
    return value as Record<string, unknown>;
  }
}
