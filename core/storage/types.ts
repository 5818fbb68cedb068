/**
 * The storage boundary. Everything above it speaks URIs: a local path (absolute or relative) or
 * `gs://bucket/object`. Writes are atomic: a reader sees either nothing or the whole object.
 */
export interface ObjectInfo {
  uri: string;
  size: number;
  /** Modification time in ms since the epoch, when known. */
  mtimeMs?: number;
  /** Storage generation (GCS) or a stable stand-in (local: `${mtimeMs}-${size}`). */
  generation?: string;
}

/** Random access to one object's bytes, for formats (TIFF) that read by offset. */
export interface RangeReader {
  readonly uri: string;
  size(): Promise<number>;
  /**
   * Reads `length` bytes at `offset` (fewer at the end of the object). A store may read into `into`
   * (when it is large enough) and return a view of it, so callers can reuse one buffer.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface WriteOptions {
  /** Fail with ALREADY_EXISTS instead of replacing an existing object. Default false (replace atomically). */
  ifAbsent?: boolean;
  contentType?: string;
  /**
   * `putFile` only: the local file is Tessel's own temporary and may be moved into place instead of
   * copied (local store, same filesystem). The caller must not use it afterwards, and removes it if
   * it is still there (other stores upload it and leave it).
   */
  move?: boolean;
}

export interface PutFolderOptions {
  /**
   * Paths (relative to the folder, `/`-separated) published after every other file, in this order, and
   * removed first from the target: a store without folder renames (GCS) writes a Zarr array's chunks
   * before its metadata, so a reader never finds metadata whose chunks are not all there yet.
   */
  last?: string[];
}

export interface Store {
  /** Whether this store handles the URI (scheme match). */
  handles(uri: string): boolean;
  stat(uri: string): Promise<ObjectInfo | undefined>;
  readAll(uri: string): Promise<Uint8Array>;
  openRange(uri: string): Promise<RangeReader>;
  /** Atomic write: temporary name then rename (local) or a generation precondition (GCS). */
  writeAtomic(uri: string, data: Uint8Array | string, opts?: WriteOptions): Promise<void>;
  /** Atomic write of a file already on local disk (moves or uploads it). */
  putFile(localPath: string, uri: string, opts?: WriteOptions): Promise<void>;
  /**
   * Publishes a local folder's files under a folder URI, replacing what was there. Local store: the folder
   * is moved (or copied, across filesystems) to a hidden temporary name beside the target, then swapped
   * in by rename, so the target holds either the old tree, nothing for an instant, or the whole new tree.
   * GCS (no renames): `opts.last` is removed, every other file is uploaded, objects under the prefix that
   * the folder lacks are deleted, then `opts.last` is uploaded in order. The local folder is consumed.
   */
  putFolder(localDir: string, uri: string, opts?: PutFolderOptions): Promise<void>;
  /** Objects directly or recursively under a prefix/folder URI, sorted by URI. */
  list(prefixUri: string, opts?: { recursive?: boolean }): Promise<ObjectInfo[]>;
  delete(uri: string): Promise<void>;
}

/** Join URI parts with single slashes, keeping a `gs://` scheme intact. */
export function joinUri(base: string, ...parts: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const p of parts) {
    if (!p) continue;
    out += '/' + p.replace(/^\/+/, '').replace(/\/+$/, '');
  }
  return out;
}

/** Last path component of a URI. */
export function basename(uri: string): string {
  const s = uri.replace(/\/+$/, '');
  return s.slice(s.lastIndexOf('/') + 1);
}

export function isGcsUri(uri: string): boolean {
  return uri.startsWith('gs://');
}
