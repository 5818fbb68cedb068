/**
 * A whole run on a gs:// workspace: fake-gcs-server (PyPI) over real HTTP, the real @google-cloud/storage
 * client in `tessel worker` processes (STORAGE_EMULATOR_HOST), a real Temporal dev server. Inputs are
 * uploaded to the bucket; every output must land in the bucket with the right content, and nothing
 * temporary may be left there.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { configureGcs } from '../../core/storage';
import type { GcsStore } from '../../core/storage/gcs';
import { readNpz } from '../../core/formats/npz';
import { readLabelMask } from '../../core/formats/image';
import type { DevServer } from '../../infra/temporal/dev-server';
import type { RunSummary } from '../../core/contracts';
import { startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import { fakeGcsServerBinary, startGcsEmulator, type GcsEmulator } from '../helpers/gcs-emulator';

jest.setTimeout(600_000);

const bin = fakeGcsServerBinary();
if (!bin.path && !process.env.CI) console.warn(`SKIPPING gs:// run test: ${bin.reason}`);
const maybe = bin.path || process.env.CI ? describe : describe.skip;

maybe('a run on a gs:// workspace', () => {
  let emu: GcsEmulator;
  let server: DevServer;
  let env: NodeJS.ProcessEnv;
  let store: GcsStore;
  let root: string;
  let summary: RunSummary;
  const workers: Awaited<ReturnType<typeof startWorker>>[] = [];

  beforeAll(async () => {
    emu = await startGcsEmulator('tessel-run');
    let dir: string;
    ({ server, env, dir } = await startTestServer());
    env = { ...env, STORAGE_EMULATOR_HOST: emu.endpoint };
    store = configureGcs({ apiEndpoint: emu.endpoint }); // this process reads the outputs back through storeFor too
    root = `gs://${emu.bucket}/ws`;
    const local = join(dir, 'local');
    expect((await tessel(['synth', local, '--images', '2', '--size', '320', '--channels', '4', '--seed', '5'])).code).toBe(0);
    for (const f of readdirSync(join(local, 'OMETIFF'))) await store.putFile(join(local, 'OMETIFF', f), `${root}/OMETIFF/${f}`);
    await store.writeAtomic(`${root}/OMETIFF/broken.ome.tiff`, 'II*\0 truncated');
    workers.push(await startWorker(['--queue', 'all'], env));
    const res = await tessel(['run', 'workspace', root, '--json', '--benchmark-sink', 'none', '--heartbeat-timeout', '10'], env);
    if (!res.stdout.trim()) throw new Error(`run printed no summary (exit ${res.code}):\n${res.stderr}`);
    summary = JSON.parse(res.stdout) as RunSummary;
  });

  afterAll(async () => {
    for (const w of workers) await stopChild(w);
    await server?.stop();
    await emu?.stop();
  });

  it('completes the good images and names the bad one', () => {
    expect(summary.images).toMatchObject({ done: 2, failed: 1, total: 3 });
    expect(summary.failures[0]).toMatchObject({ name: 'broken', stage: 'convert' });
    expect(summary.failures[0].error).toContain(`${root}/OMETIFF/broken.ome.tiff`);
  });

  it('writes every output into the bucket, readable and consistent', async () => {
    const objects = (await store.list(root, { recursive: true })).map((o) => o.uri.slice(root.length + 1));
    expect(objects.filter((o) => o.includes('.tessel-tmp-'))).toEqual([]);
    const good = summary.results.filter((r) => r.status === 'done').map((r) => r.name).sort();
    expect(good).toHaveLength(2);
    for (const name of good) {
      for (const want of [`NPZ_INTERMEDIATE/${name}.npz`, `SEGMASK/${name}_WholeCellMask.tiff`, `SEGMASK/${name}_NucleusMask.tiff`,
        `REPORTS/${name}_QUANT.tsv`, `REPORTS/${name}.geojson`, `jobs/manifests/${name}.json`]) expect(objects).toContain(want);
      const npz = await readNpz(`${root}/NPZ_INTERMEDIATE/${name}.npz`);
      expect([...npz.keys()]).toEqual(['input_channels']);
      expect(npz.get('input_channels')!.shape).toEqual([320, 320, 2]);
      const mask = await readLabelMask(`${root}/SEGMASK/${name}_WholeCellMask.tiff`);
      expect([mask.width, mask.height]).toEqual([320, 320]);
      const labels = new Set(mask.data);
      labels.delete(0);
      expect(labels.size).toBeGreaterThan(5);
      const tsv = Buffer.from(await store.readAll(`${root}/REPORTS/${name}_QUANT.tsv`)).toString('utf8').trim().split('\n');
      expect(tsv.length - 1).toBe(labels.size);
    }
    expect(objects.filter((o) => o.startsWith('SEGMASK/broken') || o.startsWith('REPORTS/broken') || o.startsWith('NPZ_INTERMEDIATE/broken'))).toEqual([]);
    const project = JSON.parse(Buffer.from(await store.readAll(`${root}/PROJ/project.qpproj`)).toString('utf8')) as { images: unknown[] };
    expect(project.images).toHaveLength(2);
  });

  it('refuses a DuckDB file in the bucket before starting, with the way out', async () => {
    const res = await tessel(['run', 'workspace', root, '--dry-run'], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/DuckDB benchmarks file must be on a local.*--benchmark-sink bigquery/);
  });
});
