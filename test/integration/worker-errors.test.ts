/**
 * A worker that cannot start says why in one line and exits non-zero (so a crash-looping pod shows the
 * reason in `kubectl logs --previous` and its termination message): a wrong Temporal address, namespace,
 * API key (TLS against a plaintext server), certificate (a real TLS endpoint with an untrusted
 * certificate, unreadable or non-PEM files), a GPU asked for where there is none, flag values out of range.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import type { DevServer } from '../../infra/temporal/dev-server';
import { ROOT, startTestServer, tessel } from '../helpers/cluster';

jest.setTimeout(300_000);

let server: DevServer;
let env: NodeJS.ProcessEnv;
let tlsProxy: Server;
let tlsAddress: string;
const sockets: Socket[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'tessel-worker-errors-'));

beforeAll(async () => {
  ({ server, env } = await startTestServer());
  // A real TLS endpoint in front of the dev server, with a self-signed certificate no worker trusts.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(tmp, 'server.key'), '-out', join(tmp, 'server.crt')], { stdio: 'ignore' });
  const [host, port] = env.TEMPORAL_ADDRESS!.split(':');
  tlsProxy = createServer({ key: readFileSync(join(tmp, 'server.key')), cert: readFileSync(join(tmp, 'server.crt')), ALPNProtocols: ['h2'] }, (client) => {
    const upstream = connect(Number(port), host);
    sockets.push(client, upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => tlsProxy.listen(0, '127.0.0.1', () => resolve()));
  tlsAddress = `localhost:${(tlsProxy.address() as { port: number }).port}`;
  writeFileSync(join(tmp, 'not-a-cert.pem'), 'hello\n');
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => tlsProxy?.close(r));
  await server?.stop();
});

/** `tessel worker …` as a process, bounded in time. */
async function worker(args: string[], extraEnv: NodeJS.ProcessEnv) {
  const res = await tessel(['worker', ...args], { ...env, ...extraEnv }, 60_000);
  return { code: res.code, lines: res.stderr.trim().split('\n').filter(Boolean) };
}

it.each([
  ['a wrong address', {}, { TEMPORAL_ADDRESS: '127.0.0.1:1' }, /^tessel: cannot reach Temporal at 127\.0\.0\.1:1: connection refused \(TEMPORAL_ADDRESS; is the server up\?\)$/],
  ['a host that does not resolve', {}, { TEMPORAL_ADDRESS: 'no-such-host.invalid:7233' }, /^tessel: cannot reach Temporal at no-such-host\.invalid:7233: host name does not resolve \(TEMPORAL_ADDRESS\)$/],
  ['a wrong namespace', {}, { TEMPORAL_NAMESPACE: 'no-such-namespace' }, /^tessel: namespace 'no-such-namespace' does not exist on Temporal at .* \(TEMPORAL_NAMESPACE\)$/],
  ['an API key against a plaintext server', {}, { TEMPORAL_API_KEY: 'wrong-key' }, /^tessel: TLS \(on because TEMPORAL_API_KEY is set\) handshake with Temporal at .* failed: the server does not speak TLS there/],
  ['a client certificate that cannot be read', {}, { TEMPORAL_TLS_CERT: '/nonexistent/client.pem', TEMPORAL_TLS_KEY: '/nonexistent/client.key' }, /^tessel: TEMPORAL_TLS_CERT=\/nonexistent\/client\.pem: cannot read \(ENOENT\)$/],
  ['a certificate file that is not PEM', {}, { TEMPORAL_TLS_CERT: join(tmp, 'not-a-cert.pem'), TEMPORAL_TLS_KEY: join(tmp, 'not-a-cert.pem') }, /^tessel: TEMPORAL_TLS_CERT=.*not-a-cert\.pem: not a PEM certificate/],
])('%s: one line, exit 1', async (_what, _flags, extraEnv, line) => {
  const r = await worker(['--queue', 'cpu'], extraEnv);
  expect(r.code).toBe(1);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(line);
});

it('a server certificate it does not trust: one line naming TEMPORAL_TLS_CA', async () => {
  const r = await worker(['--queue', 'cpu'], { TEMPORAL_ADDRESS: tlsAddress, TEMPORAL_API_KEY: 'some-key' });
  expect(r.code).toBe(1);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(new RegExp(`^tessel: Temporal at ${tlsAddress} presented a certificate this worker does not trust .*TEMPORAL_TLS_CA`));
});

it('--device cuda on a host without a usable GPU: one line, before polling', async () => {
  const r = await worker(['--queue', 'gpu', '--device', 'cuda'], {});
  expect(r.code).toBe(1);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^tessel: --device cuda: the CUDA execution provider is unavailable on this host \(.+\); install onnxruntime-node's CUDA build/);
});

it.each([
  [['--gpu-memory-gb', '0'], /option '--gpu-memory-gb <gb>' argument '0' is invalid\. must be a number of GB above 0, at most 1024/],
  [['--cpu-slots', '0'], /option '--cpu-slots <n>' argument '0' is invalid\. must be an integer from 1 to 1024/],
  [['--metrics-port', '70000'], /option '--metrics-port <port>' argument '70000' is invalid/],
  [['--shutdown-grace', '-5'], /option '--shutdown-grace <s>' argument '-5' is invalid/],
  [['--gpu-memory-gb', '8', '--prediction-memory-gb', '12'], /^tessel: --prediction-memory-gb 12 exceeds --gpu-memory-gb 8: not one prediction fits$/],
  [['--worker-versioning', '--build-id', 'has spaces'], /^tessel: build id 'has spaces' must be 1–63 letters/],
])('out-of-range %j: the flag and the rule in the first line, exit 1', async (args, line) => {
  const r = await worker(['--queue', 'gpu', ...args], {});
  expect(r.code).toBe(1);
  expect(r.lines[0]).toMatch(line);
  expect(r.lines.length).toBeLessThanOrEqual(2); // commander may add '(add --help for usage)'
});

it('TESSEL_WORKER_VERSIONING with a value that is not a switch', async () => {
  const r = await worker(['--queue', 'cpu'], { TESSEL_WORKER_VERSIONING: 'yes please' });
  expect(r.code).toBe(1);
  expect(r.lines).toEqual(["tessel: TESSEL_WORKER_VERSIONING must be 1, 0, true or false, got 'yes please'"]);
});

it('the production entry point (workers/cpu.ts) reports the same one line', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'workers', 'cpu.ts')], { cwd: ROOT, env: { ...process.env, ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((res) => child.on('exit', res));
  expect(code).toBe(1);
  expect(err.trim()).toBe('tessel worker: cannot reach Temporal at 127.0.0.1:1: connection refused (TEMPORAL_ADDRESS; is the server up?)');
});
