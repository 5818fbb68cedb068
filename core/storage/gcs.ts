import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Bucket, File, Storage, StorageOptions } from '@google-cloud/storage';
import { ConfigError, TesselError } from '../errors';
import { DEFAULT_GCS_RETRY, gcsStatus, mapGcsError, retryTransient, type GcsRetryPolicy } from './gcs-errors';
import { join, relative, sep } from 'node:path';
import type { ObjectInfo, PutFolderOptions, RangeReader, Store, WriteOptions } from './types';

export { DEFAULT_GCS_RETRY, type GcsRetryPolicy } from './gcs-errors';

/** Options of {@link GcsStore}; every one has a default that suits production on GCP. */
export interface GcsStoreOptions {
  /**
   * JSON API endpoint, e.g. `http://127.0.0.1:4443` for an emulator.
   * @default `STORAGE_EMULATOR_HOST` when set, else Google's endpoint
   */
  apiEndpoint?: string;
  /** Project for billing/quota; the client reads it from credentials when omitted. */
  projectId?: string;
  /**
   * Send credentials to a custom endpoint (a private Google endpoint needs them, an emulator does not).
   * @default false for loopback endpoints, true otherwise
   */
  useAuthWithCustomEndpoint?: boolean;
  /** Retry policy for 408/429/5xx and dropped connections. @default {@link DEFAULT_GCS_RETRY} */
  retry?: Partial<GcsRetryPolicy>;
  /** Files at least this large are sent as resumable uploads, smaller ones as one multipart request. @default 8 MiB */
  resumableThresholdBytes?: number;
}

/** Custom metadata key holding a per-write UUID, so a retry can recognise its own earlier success. */
export const WRITE_ID_KEY = 'tessel-write-id';

/** `gs://bucket/key` → parts; the key may be empty (bucket root). */
export function parseGcsUri(uri: string): { bucket: string; key: string } {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) throw new ConfigError(`not a gs:// URI: '${uri}' (expected gs://bucket/path)`);
  return { bucket: m[1], key: m[2] ?? '' };
}

/**
 * Google Cloud Storage behind the {@link Store} boundary.
 *
 * Atomicity comes from generation preconditions instead of temporary names: an upload becomes visible
 * only when complete, `ifAbsent` writes with `ifGenerationMatch: 0`, and a replace writes with the
 * generation read just before (or 0), so a racing writer fails with ALREADY_EXISTS instead of silently
 * clobbering (https://cloud.google.com/storage/docs/request-preconditions). Because every mutation
 * carries a precondition, the client may retry all of them (`IdempotencyStrategy.RetryAlways`): a
 * retry of a write whose first attempt landed fails its precondition, and the store then recognises
 * its own write by a per-write id in the object's metadata and reports success, never a duplicate.
 */
export class GcsStore implements Store {
  private client?: Storage;
  private readonly retry: GcsRetryPolicy;
  private readonly resumableThreshold: number;

  constructor(private readonly opts: GcsStoreOptions = {}) {
    this.retry = { ...DEFAULT_GCS_RETRY, ...opts.retry };
    this.resumableThreshold = opts.resumableThresholdBytes ?? 8 * 1024 * 1024;
  }

  handles(uri: string): boolean {
    return uri.startsWith('gs://');
  }

  /** The client is created on first use so that local-only runs never load the Google libraries. */
  private storage(): Storage {
    if (this.client) return this.client;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gcs = require('@google-cloud/storage') as typeof import('@google-cloud/storage');
    const envHost = process.env.STORAGE_EMULATOR_HOST;
    const endpoint = this.opts.apiEndpoint
      ?? (envHost ? (/^https?:\/\//.test(envHost) ? envHost : `http://${envHost}`).replace(/\/(storage\/v1\/?)?$/, '') : undefined);
    const loopback = endpoint !== undefined && /^(https?:\/\/)?(127\.|localhost|\[::1\])/.test(endpoint);
    const options: StorageOptions = {
      projectId: this.opts.projectId ?? (loopback ? 'tessel-emulator' : undefined),
      retryOptions: {
        autoRetry: true,
        maxRetries: this.retry.maxRetries,
        retryDelayMultiplier: this.retry.multiplier,
        maxRetryDelay: this.retry.maxDelayMs / 1000,
        totalTimeout: this.retry.totalTimeoutMs / 1000,
        // Safe because every write carries a generation precondition and delete ignores 404.
        idempotencyStrategy: gcs.IdempotencyStrategy.RetryAlways,
      },
    };
    if (endpoint) {
      options.apiEndpoint = endpoint;
      options.useAuthWithCustomEndpoint = this.opts.useAuthWithCustomEndpoint ?? !loopback;
    }
    // The client reads STORAGE_EMULATOR_HOST itself, but then sends JSON API calls to <host>/b/… (no
    // /storage/v1) while uploads go to <host>/upload/storage/v1/…: no emulator serves both. The endpoint is
    // passed explicitly instead, with the variable hidden while the client is built (the only place it reads it).
    if (envHost !== undefined) delete process.env.STORAGE_EMULATOR_HOST;
    try {
      this.client = new gcs.Storage(options);
    } finally {
      if (envHost !== undefined) process.env.STORAGE_EMULATOR_HOST = envHost;
    }
    return this.client;
  }

  private bucket(name: string): Bucket {
    return this.storage().bucket(name);
  }

  private file(uri: string, generation?: string): File {
    const { bucket, key } = parseGcsUri(uri);
    if (!key || key.endsWith('/')) throw new ConfigError(`'${uri}' names a folder, not an object`);
    return this.bucket(bucket).file(key, generation ? { generation } : undefined);
  }

  async stat(uri: string): Promise<ObjectInfo | undefined> {
    try {
      const [md] = await this.file(uri).getMetadata();
      return toInfo(uri, md);
    } catch (e) {
      if (gcsStatus(e) === 404) return undefined;
      throw mapGcsError(uri, e);
    }
  }

  async readAll(uri: string): Promise<Uint8Array> {
    const file = this.file(uri);
    try {
      const [buf] = await retryTransient(() => file.download(), this.retry);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      throw mapGcsError(uri, e);
    }
  }

  /**
   * Ranged reads of one generation: the reader pins the generation seen at open, so an object
   * replaced mid-read fails loudly (404 on the old generation) instead of mixing two versions.
   */
  async openRange(uri: string): Promise<RangeReader> {
    const info = await this.stat(uri);
    if (!info) throw mapGcsError(uri, Object.assign(new Error('no such object'), { code: 404 }));
    const file = this.file(uri, info.generation);
    const retry = this.retry;
    return {
      uri,
      size: async () => info.size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        const end = Math.min(offset + length, info.size);
        if (length <= 0 || offset >= end) return new Uint8Array(0);
        try {
          // `end` is inclusive in the client; CRC checks need the whole object, so none on ranges.
          const [buf] = await retryTransient(() => file.download({ start: offset, end: end - 1, validation: false }), retry);
          return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
        } catch (e) {
          throw mapGcsError(uri, e);
        }
      },
      close: async () => undefined,
    };
  }

  async writeAtomic(uri: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
    const file = this.file(uri);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.conditionalWrite(uri, file, opts, (preconditionOpts, metadata) =>
      file.save(bytes, { resumable: bytes.byteLength >= this.resumableThreshold, preconditionOpts, metadata }));
  }

  /** Streams a local file up (resumable above the threshold); the object appears only when complete. */
  async putFile(localPath: string, uri: string, opts: WriteOptions = {}): Promise<void> {
    const file = this.file(uri);
    let size: number;
    try {
      size = (await fs.stat(localPath)).size;
    } catch (e) {
      throw new TesselError('NOT_FOUND', `cannot upload: ${(e as Error).message}`, { file: localPath, cause: e });
    }
    await this.conditionalWrite(uri, file, opts, async (preconditionOpts, metadata) => {
      await file.bucket.upload(localPath, { destination: file, resumable: size >= this.resumableThreshold, preconditionOpts, metadata });
    });
  }

  /** See {@link Store.putFolder}: chunks first, `last` (metadata) after, stale objects removed in between. */
  async putFolder(localDir: string, uri: string, opts: PutFolderOptions = {}): Promise<void> {
    const prefix = uri.replace(/\/+$/, '');
    const files = (await fs.readdir(localDir, { recursive: true, withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => relative(localDir, join(d.parentPath, d.name)).split(sep).join('/'));
    const last = (opts.last ?? []).filter((f) => files.includes(f));
    const first = files.filter((f) => !last.includes(f));
    const keep = new Set(files.map((f) => `${prefix}/${f}`));
    const existing = await this.list(prefix, { recursive: true });
    // Metadata first out, last in: while the upload runs, the old tree is no longer valid and the new one not yet.
    await Promise.all(last.map((f) => this.delete(`${prefix}/${f}`)));
    await eachLimited(first, 16, (f) => this.putFile(join(localDir, f), `${prefix}/${f}`));
    await eachLimited(existing.filter((o) => !keep.has(o.uri)), 16, (o) => this.delete(o.uri));
    for (const f of last) await this.putFile(join(localDir, f), `${prefix}/${f}`);
    await fs.rm(localDir, { recursive: true, force: true });
  }

  private async conditionalWrite(
    uri: string,
    file: File,
    opts: WriteOptions,
    upload: (pre: { ifGenerationMatch: number | string }, metadata: Record<string, unknown>) => Promise<unknown>,
  ): Promise<void> {
    const writeId = randomUUID();
    const expected = opts.ifAbsent ? 0 : (await this.stat(uri))?.generation ?? 0;
    const metadata: Record<string, unknown> = { metadata: { [WRITE_ID_KEY]: writeId } };
    if (opts.contentType) metadata.contentType = opts.contentType;
    try {
      await upload({ ifGenerationMatch: expected }, metadata);
    } catch (e) {
      // A lost response to a write that landed makes the client retry into its own precondition.
      if (gcsStatus(e) === 412 && (await this.writtenBy(file, writeId))) return;
      throw mapGcsError(uri, e);
    }
  }

  private async writtenBy(file: File, writeId: string): Promise<boolean> {
    try {
      const [md] = await file.getMetadata();
      return md.metadata?.[WRITE_ID_KEY] === writeId;
    } catch {
      return false;
    }
  }

  /** Objects under a folder URI; non-recursive lists use the `/` delimiter, so only direct children return. */
  async list(prefixUri: string, opts: { recursive?: boolean } = {}): Promise<ObjectInfo[]> {
    const { bucket, key } = parseGcsUri(prefixUri);
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    try {
      const [files] = await this.bucket(bucket).getFiles({ prefix, delimiter: opts.recursive ? undefined : '/', autoPaginate: true });
      return files
        .filter((f) => !f.name.endsWith('/')) // zero-byte "folder" placeholders made by the console
        .map((f) => toInfo(`gs://${bucket}/${f.name}`, f.metadata))
        .sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
    } catch (e) {
      throw mapGcsError(prefixUri, e);
    }
  }

  /** Deletes an object; a missing object is not an error (same as the local store). */
  async delete(uri: string): Promise<void> {
    try {
      await this.file(uri).delete({ ignoreNotFound: true });
    } catch (e) {
      throw mapGcsError(uri, e);
    }
  }
}

function toInfo(uri: string, md: { size?: string | number; updated?: string; generation?: string | number }): ObjectInfo {
  const updated = md.updated ? Date.parse(md.updated) : NaN;
  return {
    uri,
    size: Number(md.size ?? 0),
    mtimeMs: Number.isFinite(updated) ? updated : undefined,
    generation: md.generation !== undefined ? String(md.generation) : undefined,
  };
}

/** Runs `fn` over `items`, at most `limit` at a time; the first failure rejects (after the running ones settle). */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
