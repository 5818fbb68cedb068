/**
 * The container images, without a Docker engine (none runs here): infra/docker's Dockerfiles parsed with
 * dockerfile-ast and checked for the rules (bases pinned by digest, non-root numeric USER, tini as PID 1,
 * exec-form entrypoint, no dev dependencies, the GPU image's CUDA provider installed at build time), and
 * each image's exact ENTRYPOINT + CMD run as a process, from an image-like folder (compiled `dist/`,
 * `bin/`, package.json) with the image's environment, against a real dev server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCompiledCli } from '../../infra/build-cli';
import type { DevServer } from '../../infra/temporal/dev-server';
import type { RunSummary } from '../../core/contracts';
import { ROOT, startTestServer, startWorker, stopChild, tessel } from '../helpers/cluster';
import { readImageSpec, type ImageSpec } from '../helpers/dockerfile';
import { MEMORY_ENV } from '../../bin/memory-env';

jest.setTimeout(600_000);

const images: Record<string, ImageSpec> = { cpu: readImageSpec('cpu.Dockerfile'), gpu: readImageSpec('gpu.Dockerfile') };
const DIGEST = /^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/;

describe.each(Object.entries(images))('%s.Dockerfile', (kind, img) => {
  it('pins every base image by digest through an ARG', () => {
    const stageNames = new Set(img.stages.map((s) => s.name).filter(Boolean));
    for (const [name, value] of Object.entries(img.args)) expect(`${name}=${value}`).toMatch(new RegExp(`^${name}=${DIGEST.source.slice(1)}`));
    for (const s of img.stages) expect(stageNames.has(s.base) || DIGEST.test(s.base)).toBe(true);
  });

  it('runs as a numeric non-root user, tini first, exec form', () => {
    expect(img.user).toMatch(/^[1-9]\d*:[1-9]\d*$/); // numeric, so Kubernetes' runAsNonRoot can verify it
    expect(img.entrypoint?.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(img.entrypoint?.slice(2)).toEqual(['node', 'bin/tessel.js', 'worker']);
    expect(img.cmd?.slice(0, 2)).toEqual(['--queue', kind]);
    expect(img.workdir).toBe('/app');
    expect(img.env.NODE_ENV).toBe('production');
    // What bin/tessel.js gives one-shot commands, the image gives its worker.
    expect(img.env).toMatchObject(MEMORY_ENV);
  });

  it('ships the compiled build with production dependencies only', () => {
    const build = img.stages.find((s) => s.name === 'build')!;
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.text);
    expect(runs.some((r) => /npm run build/.test(r) && /npm prune --omit=dev/.test(r))).toBe(true);
    const final = img.stages[img.stages.length - 1];
    const copies = final.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.text);
    expect(copies).toEqual(expect.arrayContaining(['--from=build /src/node_modules ./node_modules', '--from=build /src/dist ./dist']));
    expect(final.instructions.some((i) => i.keyword === 'RUN' && /npm (ci|install)/.test(i.text))).toBe(false);
  });
});

it('the GPU image is CUDA 12 with cuDNN and installs onnxruntime-node\'s CUDA build at build time', () => {
  const img = images.gpu;
  expect(img.stages[img.stages.length - 1].base).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/);
  const build = img.stages.find((s) => s.name === 'build')!;
  expect(build.instructions.some((i) => i.keyword === 'RUN' && /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/.test(i.text))).toBe(true);
});

describe('the entrypoints, run as the images run them', () => {
  const appRoot = join(ROOT, '.tessel', 'image-root');
  let server: DevServer;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  const helpers: Awaited<ReturnType<typeof startWorker>>[] = [];
  const haveTini = existsSync('/usr/bin/tini');
  if (!haveTini && !process.env.CI) console.warn('SKIPPING tini in the entrypoint test: /usr/bin/tini missing (apt-get install tini); running the rest of the command');

  /** ENTRYPOINT + CMD with the image's WORKDIR (this folder) and ENV; tini as installed by .ci/run. */
  function entrypoint(img: ImageSpec): ChildProcess & { output: () => string } {
    const argv = [...img.entrypoint!, ...img.cmd!].map((a) => (a === '9464' ? '0' : a)); // any free metrics port here
    const [bin, ...args] = haveTini || process.env.CI ? argv : argv.slice(2);
    const child = spawn(bin, args, { cwd: appRoot, env: { ...process.env, ...env, ...img.env, TINI_SUBREAPER: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    return Object.assign(child, { output: () => out });
  }

  beforeAll(async () => {
    // /app as the images lay it out: package.json, bin/, dist/ (compiled here), node_modules.
    rmSync(appRoot, { recursive: true, force: true });
    mkdirSync(appRoot, { recursive: true });
    buildCompiledCli(join(appRoot, 'dist'));
    cpSync(join(ROOT, 'bin'), join(appRoot, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(appRoot, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(appRoot, 'node_modules'));
    writeFileSync(join(appRoot, '.gitignore'), '*\n');
    ({ server, env, dir } = await startTestServer());
  }, 300_000);

  afterAll(async () => {
    for (const w of helpers) await stopChild(w, 'SIGKILL');
    await server?.stop();
    rmSync(appRoot, { recursive: true, force: true });
  });

  it('the CPU image serves a run and drains on SIGTERM through tini, exit 0', async () => {
    const cpu = entrypoint(images.cpu);
    for (let i = 0; !cpu.output().includes('worker ready'); i++) {
      if (cpu.exitCode !== null || i > 600) throw new Error(`cpu entrypoint did not start:\n${cpu.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The compiled build under /app/dist, its build id from the image's TESSEL_GIT_REVISION.
    expect(cpu.output()).toMatch(/worker ready: tessel-cpu on .*metrics http:\/\/127\.0\.0\.1:\d+\/metrics/);
    helpers.push(await startWorker(['--queue', 'workflows'], env), await startWorker(['--queue', 'gpu'], env));
    expect((await tessel(['synth', join(dir, 'ws'), '--images', '1', '--size', '192', '--channels', '4'])).code).toBe(0);
    const run = await tessel(['run', 'workspace', join(dir, 'ws'), '--json', '--benchmark-sink', 'none'], env);
    expect((JSON.parse(run.stdout) as RunSummary).images).toMatchObject({ done: 1, failed: 0 });
    const exited = new Promise<number | null>((res) => cpu.once('exit', (code) => res(code)));
    cpu.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(cpu.output()).toContain('SIGTERM: draining');
  });

  it('the GPU image on a host without a GPU stops at once with the reason', async () => {
    const gpu = entrypoint(images.gpu);
    const code = await new Promise<number | null>((res) => gpu.once('exit', (c) => res(c)));
    expect(code).toBe(1);
    expect(gpu.output().trim().split('\n')).toEqual([expect.stringMatching(/^tessel: --device cuda: the CUDA execution provider is unavailable on this host/)]);
  });
});
