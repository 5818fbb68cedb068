import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnvConfig } from '../../../core/config/env';
import { applyEnvConfig } from '../../../cli/env-config';
import { buildProgram } from '../../../cli/main';
import { buildRunInput, workspaceLocations, type RunCliOptions } from '../../../cli/run-input';
import { temporalSettingsFromEnv } from '../../../core/config/temporal';
import { KEY_FILE_ENV } from '../../../core/config/encryption-keys';
import { imageWorkflowId } from '../../../core/contracts';

/**
 * The one setting that turns encryption on, wherever it comes from (flag, environment, env config), and
 * what it changes: the key ring the client and workers load, and child workflow ids without names.
 */
let dir: string;
let keys: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-enc-settings-'));
  keys = join(dir, 'keys');
  writeFileSync(keys, `k1 ${randomBytes(32).toString('base64')}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('loads the key ring named by TESSEL_ENCRYPTION_KEY_FILE into the Temporal settings, and none without it', () => {
  expect(temporalSettingsFromEnv({ [KEY_FILE_ENV]: keys }).encryption?.keys.map((k) => k.id)).toEqual(['k1']);
  expect(temporalSettingsFromEnv({}).encryption).toBeUndefined();
  expect(() => temporalSettingsFromEnv({ [KEY_FILE_ENV]: join(dir, 'missing') })).toThrow(/missing: cannot read the encryption key file \(ENOENT\)/);
});

it('takes encryption.key_file from the env config unless the environment already names a file', () => {
  const cfg = parseEnvConfig({ encryption: { key_file: '/etc/tessel/keys' } });
  const env: NodeJS.ProcessEnv = {};
  applyEnvConfig(cfg, env);
  expect(env[KEY_FILE_ENV]).toBe('/etc/tessel/keys');
  const set: NodeJS.ProcessEnv = { [KEY_FILE_ENV]: '/from/env' };
  applyEnvConfig(cfg, set);
  expect(set[KEY_FILE_ENV]).toBe('/from/env');
  expect(() => parseEnvConfig({ encryption: { key_file: ' ' } })).toThrow(/encryption\.key_file: encryption\.key_file must not be blank/);
});

it('--encryption-key-file (before or after the command\'s arguments) sets the key file for the command, over the environment', async () => {
  const saved = process.env[KEY_FILE_ENV];
  try {
    const missing = join(dir, 'no-such.tif');
    for (const argv of [['--encryption-key-file', keys, 'inspect', missing], ['inspect', missing, '--encryption-key-file', keys]]) {
      process.env[KEY_FILE_ENV] = '/from/env';
      const program = buildProgram(['node', 'tessel', ...argv]);
      // The command itself fails (no such image); the option is applied before it runs.
      await expect(program.parseAsync(['node', 'tessel', ...argv])).rejects.toThrow(/no-such\.tif/);
      expect(process.env[KEY_FILE_ENV]).toBe(keys);
    }
  } finally {
    if (saved === undefined) delete process.env[KEY_FILE_ENV];
    else process.env[KEY_FILE_ENV] = saved;
  }
});

it('asks for child workflow ids without image names when encryption is on', () => {
  const opts: RunCliOptions = {
    imageFilter: [], model: '/m.zip', combine: 'sum', compartment: 'both', batchSize: 8, device: 'cpu', maxConcurrent: 4, maxAttempts: 5, geojson: true,
  };
  const saved = process.env[KEY_FILE_ENV];
  try {
    delete process.env[KEY_FILE_ENV];
    expect(buildRunInput(workspaceLocations('/ws', {}), opts).opaqueChildIds).toBeUndefined();
    process.env[KEY_FILE_ENV] = keys;
    expect(buildRunInput(workspaceLocations('/ws', {}), opts).opaqueChildIds).toBe(true);
  } finally {
    if (saved === undefined) delete process.env[KEY_FILE_ENV];
    else process.env[KEY_FILE_ENV] = saved;
  }
  expect(imageWorkflowId('run-1', 'patient-17', 3, true)).toBe('run-1--image-3');
  expect(imageWorkflowId('run-1', 'patient-17', 3, undefined)).toBe('run-1--patient-17');
});
