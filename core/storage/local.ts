import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NotFoundError, TesselError } from '../errors';
import type { ObjectInfo, PutFolderOptions, RangeReader, Store, WriteOptions } from './types';

/** Local filesystem store. Atomic writes go to a hidden temporary file beside the target, then rename. */
export class LocalStore implements Store {
  handles(uri: string): boolean {
    return !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) || uri.startsWith('file://');
  }

  private path(uri: string): string {
    return resolve(uri.startsWith('file://') ? uri.slice('file://'.length) : uri);
  }

  async stat(uri: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fs.stat(this.path(uri));
      if (!st.isFile()) return undefined;
      return { uri, size: st.size, mtimeMs: st.mtimeMs, generation: `${Math.round(st.mtimeMs)}-${st.size}` };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async readAll(uri: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await fs.readFile(this.path(uri)));
    } catch (e) {
      throw mapFsError(uri, e);
    }
  }

  async openRange(uri: string): Promise<RangeReader> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(this.path(uri), 'r');
    } catch (e) {
      throw mapFsError(uri, e);
    }
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw new TesselError('INVALID_IMAGE', 'is a directory, not a file', { file: uri });
    }
    return {
      uri,
      size: async () => st.size,
      async read(offset: number, length: number, into?: Uint8Array) {
        const buf = into && into.length >= length ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return new Uint8Array(buf.buffer, buf.byteOffset, got);
      },
      close: () => fh.close(),
    };
  }

  async writeAtomic(uri: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
    const target = this.path(uri);
    await fs.mkdir(dirname(target), { recursive: true });
    const tmp = tempSibling(target);
    try {
      await fs.writeFile(tmp, data);
      await this.commit(tmp, target, uri, opts);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async putFile(localPath: string, uri: string, opts: WriteOptions = {}): Promise<void> {
    const target = this.path(uri);
    await fs.mkdir(dirname(target), { recursive: true });
    if (opts.move) {
      try {
        await this.commit(localPath, target, uri, opts);
        await fs.rm(localPath, { force: true }); // still there after link() (ifAbsent)
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      }
    }
    const tmp = tempSibling(target);
    try {
      await fs.copyFile(localPath, tmp);
      await this.commit(tmp, target, uri, opts);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  private async commit(tmp: string, target: string, uri: string, opts: WriteOptions): Promise<void> {
    if (opts.ifAbsent) {
      // link() fails if the target exists, which gives create-if-absent atomically.
      try {
        await fs.link(tmp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new TesselError('ALREADY_EXISTS', 'already exists', { file: uri });
        }
        throw e;
      }
    } else {
      await fs.rename(tmp, target);
    }
  }

  async putFolder(localDir: string, uri: string, _opts: PutFolderOptions = {}): Promise<void> {
    const target = this.path(uri);
    await fs.mkdir(dirname(target), { recursive: true });
    const incoming = tempSibling(target);
    try {
      await fs.rename(localDir, incoming);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      await fs.cp(localDir, incoming, { recursive: true });
      await fs.rm(localDir, { recursive: true, force: true });
    }
    const old = tempSibling(target);
    let moved = false;
    try {
      try {
        await fs.rename(target, old);
        moved = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      await fs.rename(incoming, target);
    } catch (e) {
      if (moved) await fs.rename(old, target).catch(() => undefined);
      await fs.rm(incoming, { recursive: true, force: true });
      throw mapFsError(uri, e);
    }
    if (moved) await fs.rm(old, { recursive: true, force: true });
  }

  async list(prefixUri: string, opts: { recursive?: boolean } = {}): Promise<ObjectInfo[]> {
    const root = this.path(prefixUri);
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const ent of entries) {
        if (ent.name.startsWith('.tessel-tmp-')) continue;
        const childRel = rel ? `${rel}/${ent.name}` : ent.name;
        if (ent.isDirectory()) {
          if (opts.recursive) await walk(join(dir, ent.name), childRel);
        } else if (ent.isFile()) {
          const st = await fs.stat(join(dir, ent.name));
          out.push({ uri: `${prefixUri.replace(/\/+$/, '')}/${childRel}`, size: st.size, mtimeMs: st.mtimeMs });
        }
      }
    };
    await walk(root, '');
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async delete(uri: string): Promise<void> {
    await fs.rm(this.path(uri), { force: true });
  }
}

/** Temporary files are hidden siblings so rename stays on one filesystem; `list` skips them. */
export function tempSibling(target: string): string {
  return join(dirname(target), `.tessel-tmp-${randomBytes(6).toString('hex')}-${target.slice(dirname(target).length + 1)}`);
}

/**
 * A temporary sibling for an output written over a long time (streamed predictions, masks), after
 * removing the ones an earlier attempt at the same target left when it was killed mid-write, so a
 * retried stage leaves nothing behind. A writer still going under such a name (an attempt Temporal has
 * already given up on) then fails to publish, which is what should happen to it.
 */
export async function freshTempSibling(target: string): Promise<string> {
  const dir = dirname(target);
  const name = target.slice(dir.length + 1);
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  const stale = entries.filter((e) => /^\.tessel-tmp-[0-9a-f]{12}-/.test(e) && e.slice('.tessel-tmp-'.length + 13) === name);
  await Promise.all(stale.map((e) => fs.rm(join(dir, e), { recursive: true, force: true })));
  return tempSibling(target);
}

function mapFsError(uri: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new NotFoundError(uri, { cause: e });
  if (code === 'EISDIR') return new TesselError('INVALID_IMAGE', 'is a directory, not a file', { file: uri, cause: e });
  return new TesselError('STORAGE', (e as Error).message, { file: uri, cause: e, retryable: true });
}

