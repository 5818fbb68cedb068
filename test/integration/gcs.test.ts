/**
 * GcsStore against fake-gcs-server over real HTTP with the real @google-cloud/storage client. A fault
 * proxy in front of the emulator injects 503s and lost responses to exercise the retry paths.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NotFoundError, TesselError } from '../../core/errors';
import { GcsStore, WRITE_ID_KEY, parseGcsUri } from '../../core/storage/gcs';
import { configureGcs, storeFor } from '../../core/storage';
import { loadEnvConfig } from '../../core/config/env';
import { runInWorker } from '../../core/parallel/run-in-worker';
import { fakeGcsServerBinary, startGcsEmulator, type GcsEmulator } from '../helpers/gcs-emulator';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';

const bin = fakeGcsServerBinary();
if (!bin.path && !process.env.CI) console.warn(`SKIPPING gcs integration tests: ${bin.reason}`);
const maybe = bin.path || process.env.CI ? describe : describe.skip;

maybe('GcsStore on fake-gcs-server', () => {
  let emu: GcsEmulator;
  let store: GcsStore;
  let root: string;
  const fastRetry = { maxRetries: 4, multiplier: 1.5, maxDelayMs: 2_000, totalTimeoutMs: 30_000 };

  beforeAll(async () => {
    emu = await startGcsEmulator();
    store = new GcsStore({ apiEndpoint: emu.endpoint, retry: fastRetry, resumableThresholdBytes: 1024 * 1024 });
    root = `gs://${emu.bucket}/ws`;
  });
  afterAll(async () => emu?.stop());

  test('round trip of bytes and text, with stat', async () => {
    const bytes = new Uint8Array(randomBytes(70_001));
    await store.writeAtomic(`${root}/a/bytes.bin`, bytes);
    await store.writeAtomic(`${root}/a/text.txt`, 'héllo\n', { contentType: 'text/plain' });
    expect(Buffer.from(await store.readAll(`${root}/a/bytes.bin`)).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(await store.readAll(`${root}/a/text.txt`)).toString('utf8')).toBe('héllo\n');
    const st = await store.stat(`${root}/a/bytes.bin`);
    expect(st).toMatchObject({ uri: `${root}/a/bytes.bin`, size: 70_001 });
    expect(st?.generation).toMatch(/^\d+$/);
    expect(await store.stat(`${root}/a/missing.bin`)).toBeUndefined();
  });

  test('ranged reads return exactly the requested bytes, clipped at the end', async () => {
    const bytes = new Uint8Array(randomBytes(200_000));
    const uri = `${root}/range/r.bin`;
    await store.writeAtomic(uri, bytes);
    const reader = await store.openRange(uri);
    expect(await reader.size()).toBe(200_000);
    for (const [off, len] of [[0, 1], [12_345, 8_192], [199_990, 10], [150_000, 50_000]]) {
      const got = await reader.read(off, len);
      expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(off, off + len)))).toBe(true);
    }
    expect((await reader.read(199_995, 100)).length).toBe(5);
    expect((await reader.read(200_000, 10)).length).toBe(0);
    await reader.close();
  });

  test('putFile streams small (multipart) and large (resumable) files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessel-gcs-'));
    const small = randomBytes(10_000);
    const large = randomBytes(3 * 1024 * 1024 + 7); // above the 1 MiB threshold set here: resumable
    writeFileSync(join(dir, 'small.bin'), small);
    writeFileSync(join(dir, 'large.bin'), large);
    await store.putFile(join(dir, 'small.bin'), `${root}/up/small.bin`);
    await store.putFile(join(dir, 'large.bin'), `${root}/up/large.bin`);
    expect(Buffer.from(await store.readAll(`${root}/up/small.bin`)).equals(small)).toBe(true);
    expect(Buffer.from(await store.readAll(`${root}/up/large.bin`)).equals(large)).toBe(true);
    await expect(store.putFile(join(dir, 'nope.bin'), `${root}/up/nope.bin`)).rejects.toThrow(/nope\.bin/);
  });

  test('ifAbsent fails with ALREADY_EXISTS and leaves the first object intact', async () => {
    const uri = `${root}/claims/once.txt`;
    await store.writeAtomic(uri, 'first', { ifAbsent: true });
    const err = await store.writeAtomic(uri, 'second', { ifAbsent: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesselError);
    expect((err as TesselError).code).toBe('ALREADY_EXISTS');
    expect((err as TesselError).message).toContain(uri);
    expect(Buffer.from(await store.readAll(uri)).toString()).toBe('first');
  });

  test('replace succeeds; a writer holding a stale generation loses instead of clobbering', async () => {
    const uri = `${root}/replace/x.txt`;
    await store.writeAtomic(uri, 'v1');
    await store.writeAtomic(uri, 'v2');
    expect(Buffer.from(await store.readAll(uri)).toString()).toBe('v2');
    // A racing writer: it read generation g, then someone else wrote, then it writes with g.
    const stale = (await store.stat(uri))!.generation!;
    await store.writeAtomic(uri, 'v3');
    const { bucket, key } = parseGcsUri(uri);
    const client = new (await import('@google-cloud/storage')).Storage({ apiEndpoint: emu.endpoint, projectId: 'x' });
    const lost = await client.bucket(bucket).file(key).save('v-stale', { resumable: false, preconditionOpts: { ifGenerationMatch: stale } })
      .catch((e: { code?: number }) => e.code);
    expect(lost).toBe(412);
    expect(Buffer.from(await store.readAll(uri)).toString()).toBe('v3');
  });

  test('list: direct children without recursive (delimiter), everything with recursive, sorted', async () => {
    for (const k of ['l/b.txt', 'l/a.txt', 'l/sub/c.txt', 'l/sub/deep/d.txt', 'lx/not-under-l.txt']) await store.writeAtomic(`${root}/${k}`, k);
    const direct = await store.list(`${root}/l`);
    expect(direct.map((o) => o.uri)).toEqual([`${root}/l/a.txt`, `${root}/l/b.txt`]);
    expect(direct[0].size).toBe('l/a.txt'.length);
    const all = await store.list(`${root}/l/`, { recursive: true });
    expect(all.map((o) => o.uri)).toEqual(['l/a.txt', 'l/b.txt', 'l/sub/c.txt', 'l/sub/deep/d.txt'].map((k) => `${root}/${k}`));
    expect(await store.list(`${root}/empty-folder`)).toEqual([]);
  });

  test('delete removes; deleting a missing object is fine; reading it is NotFoundError naming it', async () => {
    const uri = `${root}/del/gone.txt`;
    await store.writeAtomic(uri, 'x');
    await store.delete(uri);
    await store.delete(uri);
    expect(await store.stat(uri)).toBeUndefined();
    const e1 = await store.readAll(uri).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NotFoundError);
    expect((e1 as Error).message).toContain(uri);
    await expect(store.openRange(uri)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.readAll(`gs://no-such-bucket-${Date.now()}/x`)).rejects.toBeInstanceOf(NotFoundError);
  });

  describe('through a fault-injecting proxy', () => {
    let proxy: FaultProxy;
    let flaky: GcsStore;
    beforeAll(async () => {
      proxy = await startFaultProxy(emu.endpoint);
      flaky = new GcsStore({ apiEndpoint: proxy.url, retry: fastRetry, resumableThresholdBytes: 1024 * 1024 });
    });
    afterAll(async () => proxy?.close());

    const isUpload = (m: string, u: string) => m === 'POST' && u.startsWith('/upload/storage/v1/');

    test('a write whose response is lost is retried, and lands exactly once', async () => {
      const uri = `${root}/retry/once.bin`;
      proxy.addRule({ match: isUpload, action: 'forward-then-fail', status: 503 });
      const before = proxy.requests.length;
      await flaky.writeAtomic(uri, 'payload', { ifAbsent: true });
      const uploads = proxy.requests.slice(before).filter((r) => isUpload(r.method, r.url));
      expect(uploads.length).toBe(2); // the first landed but "failed"; the retry hit the precondition
      expect(uploads[0].injected).toBe(503);
      expect(Buffer.from(await store.readAll(uri)).toString()).toBe('payload');
      const { bucket, key } = parseGcsUri(uri);
      const client = new (await import('@google-cloud/storage')).Storage({ apiEndpoint: emu.endpoint, projectId: 'x' });
      const [versions] = await client.bucket(bucket).getFiles({ prefix: key, versions: true });
      expect(versions.length).toBe(1);
      expect(versions[0].metadata.metadata?.[WRITE_ID_KEY]).toMatch(/^[0-9a-f-]{36}$/);
      // Another writer's object is still a conflict, not mistaken for our own retry.
      await expect(flaky.writeAtomic(uri, 'other', { ifAbsent: true })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    });

    test('429 and 503 on reads and uploads are retried with backoff', async () => {
      const uri = `${root}/retry/throttled.bin`;
      const bytes = new Uint8Array(randomBytes(50_000));
      proxy.addRule({ match: isUpload, action: 'respond', status: 429, times: 2 });
      await flaky.writeAtomic(uri, bytes);
      proxy.addRule({ match: (m, u) => m === 'GET' && u.includes('alt=media'), action: 'respond', status: 503, times: 2 });
      const reader = await flaky.openRange(uri);
      expect(Buffer.from(await reader.read(1000, 500)).equals(Buffer.from(bytes.subarray(1000, 1500)))).toBe(true);
      expect(proxy.requests.filter((r) => r.injected === 429).length).toBeGreaterThanOrEqual(2);
      expect(proxy.requests.filter((r) => r.injected === 503 && r.url.includes('alt=media')).length).toBe(2);
    });

    test('403 becomes a non-retryable STORAGE error that names the object', async () => {
      const uri = `${root}/denied.txt`;
      proxy.addRule({ match: (m, u) => m === 'GET' && u.includes('denied.txt'), action: 'respond', status: 403,
        body: { error: { code: 403, message: 'caller does not have storage.objects.get access' } }, times: 5 });
      const err = (await flaky.readAll(uri).catch((e: unknown) => e)) as TesselError;
      expect(err.code).toBe('STORAGE');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(uri);
      expect(err.message).toMatch(/permission denied/);
    });
  });

  test('storeFor routes gs:// URIs to the configured store', async () => {
    const configured = configureGcs({ apiEndpoint: emu.endpoint });
    const uri = `${root}/via-storeFor.txt`;
    await storeFor(uri).writeAtomic(uri, 'routed');
    expect(Buffer.from(await storeFor(uri).readAll(uri)).toString()).toBe('routed');
    // storeFor hands out the configured store behind a byte counter (core/storage/counted.ts).
    expect(configured).toBeInstanceOf(GcsStore);
    expect(Buffer.from(await configured.readAll(uri)).toString()).toBe('routed');
    const cfgUri = `${root}/config/env.json`;
    await storeFor(cfgUri).writeAtomic(cfgUri, JSON.stringify({ region: 'us-central1', bigquery_benchmarking_table: 'p-123456.d.t' }));
    const cfg = await loadEnvConfig(cfgUri);
    expect(cfg.benchmark_sink).toEqual({ kind: 'bigquery', table: 'p-123456.d.t' });
    await expect(loadEnvConfig(`${root}/config/missing.json`)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('worker threads use the configured endpoint too (an env config\'s gcs.api_endpoint, no STORAGE_EMULATOR_HOST)', async () => {
    expect(process.env.STORAGE_EMULATOR_HOST).toBeUndefined();
    configureGcs({ apiEndpoint: emu.endpoint });
    const uri = `${root}/thread/table.tsv`;
    await storeFor(uri).writeAtomic(uri, 'Image\tObject ID\tName\tClassification\tArea\nim\t1\tcell\t\t42\n');
    // Quantification reads and writes from a worker thread (core/quantify/job.ts); so does this read.
    const table = await runInWorker<{ rows: string[][] }>(require.resolve('../../core/quantify/read-tsv'), 'readQuantTable', [uri]);
    expect(table.rows).toEqual([['im', '1', 'cell', '', '42']]);
  }, 30_000); // without the endpoint the thread retries Google's for minutes
});
