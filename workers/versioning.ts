import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors';
import { PACKAGE_ROOT } from '../core/package-root';

/**
 * Temporal Worker Versioning for this worker: every worker of one release (workflows, cpu and gpu
 * alike) joins the same Worker Deployment Version, `deploymentName` + `buildId`. Workflows are pinned to
 * the version that started them, so a new release never replays a running workflow with new code; the
 * operator moves new runs to a release with `temporal worker deployment set-current-version`.
 */
export interface VersioningSettings { deploymentName: string; buildId: string }

/** Default Worker Deployment name (override: `--deployment-name` / `TESSEL_DEPLOYMENT_NAME`). */
export const DEFAULT_DEPLOYMENT_NAME = 'tessel';

/** Tessel's package version (package.json beside the sources or `dist/`). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The git revision of this checkout: `TESSEL_GIT_REVISION` (set by the container build, which has no
 * `.git`), else `git rev-parse --short=12 HEAD` with `-dirty` when tracked files changed, else undefined.
 */
export function gitRevision(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TESSEL_GIT_REVISION) return env.TESSEL_GIT_REVISION;
  const git = (args: string[]) => execFileSync('git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  try {
    const rev = git(['rev-parse', '--short=12', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) ? `${rev}-dirty` : rev;
  } catch {
    return undefined;
  }
}

/**
 * The build id: `TESSEL_BUILD_ID` if set (a deployment names its release), else `<version>-<git revision>`
 * (e.g. `0.1.0-be2985b1c0de`), else the package version alone.
 */
export function defaultBuildId(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TESSEL_BUILD_ID) return env.TESSEL_BUILD_ID;
  const rev = gitRevision(env);
  return rev ? `${packageVersion()}-${rev}` : packageVersion();
}

// A version is named `<deployment>:<build id>` by the server and the build id also serves as a
// Kubernetes label value in the manifests: keep both to label-safe characters.
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;

/** Checks names the server and Kubernetes both accept; one clear line when not. */
export function checkVersioning(v: VersioningSettings): VersioningSettings {
  if (!NAME.test(v.deploymentName) || v.deploymentName.includes('.')) {
    throw new ConfigError(`deployment name '${v.deploymentName}' must be 1–63 letters, digits, '-' or '_', starting and ending with a letter or digit`);
  }
  if (!NAME.test(v.buildId)) {
    throw new ConfigError(`build id '${v.buildId}' must be 1–63 letters, digits, '.', '-' or '_', starting and ending with a letter or digit (TESSEL_BUILD_ID)`);
  }
  return v;
}

/**
 * Versioning when asked for (`--worker-versioning`, or `TESSEL_WORKER_VERSIONING=1|true`), else
 * undefined: development runs stay unversioned, since a versioned worker receives no work until its
 * version is made current.
 */
export function versioningFromEnv(
  flags: { enabled?: boolean; deploymentName?: string; buildId?: string } = {}, env: NodeJS.ProcessEnv = process.env,
): VersioningSettings | undefined {
  const fromEnv = env.TESSEL_WORKER_VERSIONING;
  if (fromEnv && !/^(1|0|true|false)$/i.test(fromEnv)) throw new ConfigError(`TESSEL_WORKER_VERSIONING must be 1, 0, true or false, got '${fromEnv}'`);
  const enabled = flags.enabled ?? /^(1|true)$/i.test(fromEnv ?? '');
  if (!enabled) return undefined;
  return checkVersioning({
    deploymentName: flags.deploymentName ?? env.TESSEL_DEPLOYMENT_NAME ?? DEFAULT_DEPLOYMENT_NAME,
    buildId: flags.buildId ?? defaultBuildId(env),
  });
}
