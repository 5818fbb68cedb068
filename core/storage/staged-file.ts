import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { storeFor } from './index';
import { freshTempSibling, LocalStore } from './local';

/**
 * An output written piece by piece into a temporary file and published at its URI in one step: renamed
 * into place beside a local target (the temporary name is one `list` skips), or uploaded through the
 * store (`putFile`, a generation precondition on GCS) from the OS temp folder. Until {@link commit},
 * nothing appears at the URI; {@link abort} leaves nothing behind.
 */
export class StagedFile {
  private closed = false;
  private position = 0;

  private constructor(readonly uri: string, readonly path: string, private readonly handle: fs.FileHandle) {}

  /** Creates the temporary file for `uri` (local path or gs://). */
  static async create(uri: string): Promise<StagedFile> {
    const local = localPath(uri);
    const path = local ? await freshTempSibling(local) : join(tmpdir(), `.tessel-tmp-${randomBytes(6).toString('hex')}`);
    await fs.mkdir(dirname(path), { recursive: true });
    return new StagedFile(uri, path, await fs.open(path, 'w'));
  }

  /** Appends bytes (or UTF-8 text) after what was appended before. */
  async append(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await this.writeAt(bytes, this.position);
    this.position += bytes.length;
  }

  /** Writes bytes at a byte offset (for formats whose parts have known places). */
  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    if (this.closed) throw new Error(`staged output for ${this.uri} is already committed or aborted`);
    let done = 0;
    while (done < bytes.length) done += (await this.handle.write(bytes, done, bytes.length - done, position + done)).bytesWritten;
  }

  /** Closes the file and publishes it at its URI atomically. On failure nothing is published. */
  async commit(): Promise<void> {
    if (this.closed) throw new Error(`staged output for ${this.uri} is already committed or aborted`);
    this.closed = true;
    try {
      await this.handle.close();
      // Beside a local target this is a rename; elsewhere an upload. Through the store, so the bytes
      // count in its traffic like any other write.
      await storeFor(this.uri).putFile(this.path, this.uri, { move: true });
    } finally {
      await fs.rm(this.path, { force: true });
    }
  }

  /** Runs the output's last writes (headers, a closing bracket), then commits; aborts if they fail. */
  async commitAfter(lastWrites: () => Promise<void>): Promise<void> {
    try {
      await lastWrites();
    } catch (e) {
      await this.abort();
      throw e;
    }
    await this.commit();
  }

  /** Drops the temporary file; nothing appears at the URI. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await fs.rm(this.path, { force: true });
  }
}

const localStore = new LocalStore();

/**
 * The file path of a URI the local store handles, else undefined. Asked of a LocalStore itself:
 * `storeFor` hands out stores wrapped (byte counting), and the local store is always the first tried.
 */
function localPath(uri: string): string | undefined {
  if (!localStore.handles(uri)) return undefined;
  return resolve(uri.startsWith('file://') ? uri.slice('file://'.length) : uri);
}
