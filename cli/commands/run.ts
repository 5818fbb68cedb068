import { Command } from 'commander';
import { ConfigError } from '../../core/errors';
import { digestObject } from '../../core/workspace/manifest';
import { activeEnvConfig } from '../env-config';
import { planImages } from '../../core/workspace/plan';
import { ensureReferenceModel } from '../../core/reference';
import { connectClient } from '../client';
import { embeddedLogFile, startEmbedded } from '../embedded';
import { printJson } from '../output';
import { followRun } from '../progress';
import { absoluteUri, addRunOptions, buildRunInput, pathsLocations, workspaceLocations, WORKSPACE_DEFAULTS, type RunCliOptions } from '../run-input';
import { formatSummary } from '../summary';
import { taskQueuesFromEnv } from '../../core/config/temporal';
import { RUN_WORKFLOW_TYPE, type RunInput, type RunSummary } from '../../core/contracts';
import { keyRingFromEnv } from '../../workers/encryption';

/** Exit status when the run finished but some images failed. */
export const EXIT_SOME_FAILED = 3;

type Opts = RunCliOptions & { detach?: boolean; json?: boolean; embedded?: boolean; dryRun?: boolean; model?: string; verbose?: boolean };

export function register(program: Command): void {
  const run = program.command('run').description(
    'Run segment-and-measure on a workspace or explicit paths through Temporal, showing progress per stage.\n' +
    'Needs a Temporal server and workers (tessel server; tessel worker --queue all), or --embedded.\n' +
    `Exit status: 0 all images done, ${EXIT_SOME_FAILED} some images failed, 1 the run could not run.`);
  addRunOptions(run.command('workspace <root>')
    .description('deepcell-imaging workspace mode: <root>/OMETIFF in, NPZ_INTERMEDIATE, SEGMASK, REPORTS, PROJ, BENCHMARKS out (local path or gs://)')
    .option('--images-subdir <dir>', 'images folder', WORKSPACE_DEFAULTS.imagesSubdir)
    .option('--npz-subdir <dir>', 'NPZ intermediates folder', WORKSPACE_DEFAULTS.npzSubdir)
    .option('--segmasks-subdir <dir>', 'label masks folder', WORKSPACE_DEFAULTS.segmasksSubdir)
    .option('--project-subdir <dir>', 'QuPath project folder', WORKSPACE_DEFAULTS.projectSubdir)
    .option('--reports-subdir <dir>', 'measurement reports folder', WORKSPACE_DEFAULTS.reportsSubdir)
    .option('--benchmarks-subdir <dir>', 'DuckDB benchmarks folder', WORKSPACE_DEFAULTS.benchmarksSubdir)
    .option('--jobs-subdir <dir>', 'per-run intermediates folder', WORKSPACE_DEFAULTS.jobsSubdir))
    .action(async (root: string, o: Opts & Record<string, string>) => {
      process.exitCode = await runCommand(workspaceLocations(root, o), { ...o, verbose: program.opts().verbose });
    });
  addRunOptions(run.command('paths')
    .description('deepcell-imaging paths mode: every location explicit')
    .option('--images-path <dir>', 'folder of input images')
    .option('--numpy-path <dir>', 'folder for NPZ intermediates')
    .option('--segmasks-path <dir>', 'folder for label masks')
    .option('--project-path <dir>', 'folder for the QuPath project')
    .option('--reports-path <dir>', 'folder for measurement reports')
    .option('--jobs-path <dir>', 'folder for per-run intermediates (default: beside the reports folder)')
    .option('--benchmarks-path <dir>', 'folder for the DuckDB benchmarks file (default: beside the reports folder)'))
    .action(async (o: Opts & Record<string, string>) => {
      process.exitCode = await runCommand(pathsLocations(o), { ...o, verbose: program.opts().verbose });
    });
}

async function runCommand(locations: RunInput['locations'], o: Opts): Promise<number> {
  const cfg = activeEnvConfig();
  const model = o.model ?? (cfg?.segment_model_path || undefined)
    ?? (await ensureReferenceModel({ onProgress: (m: string) => process.stderr.write(`${m}\n`) }));
  if (cfg?.segment_model_hash) await checkModelHash(model, cfg.segment_model_hash);
  const input = buildRunInput(locations, { ...o, model }, cfg);
  if (o.dryRun) return dryRun(input);
  return executeRun(input, { embedded: o.embedded, detach: o.detach, json: o.json, verbose: o.verbose });
}

/** deepcell-imaging's segment_model_hash: the collection's bytes must match (SHA-256, or MD5 as GCS reports it). */
async function checkModelHash(uri: string, want: string): Promise<void> {
  const algo = want.length === 32 ? 'md5' : 'sha256';
  const { hex: got } = await digestObject(absoluteUri(uri), algo);
  if (got !== want.toLowerCase()) {
    throw new ConfigError(`model collection ${algo} is ${got}, but the env config's segment_model_hash says ${want.toLowerCase()}`, { file: uri });
  }
}

/** Lists each matching image (name, plan, action, URI) without running anything. */
async function dryRun(input: RunInput): Promise<number> {
  const { images, skipped } = await planImages({ locations: input.locations, imageFilter: input.imageFilter, settings: input.settings });
  for (const im of images) {
    const action = input.fromStage ? `run from ${input.fromStage}` : im.plan === 'done' && !input.force ? 'skip' : 'run';
    process.stdout.write(`${im.name}\t${im.plan ?? 'new'}\t${action}\t${im.imageUri}\n`);
  }
  for (const s of skipped) process.stderr.write(`ignored ${s.uri}: ${s.reason}\n`);
  process.stderr.write(`${images.length} image(s) match\n`);
  return 0;
}

/**
 * Starts the run and (unless detached) follows it to the end, printing the summary. Returns the exit status.
 * Embedded, the workers' log lines go to `.tessel/logs/<run id>.log` (named in the summary), and with
 * `verbose` to stderr too.
 */
export async function executeRun(input: RunInput, o: { embedded?: boolean; detach?: boolean; json?: boolean; verbose?: boolean }): Promise<number> {
  const started = Date.now();
  const embedded = o.embedded ? await startEmbedded({ logFile: embeddedLogFile(input.runId), verbose: o.verbose }) : undefined;
  const { client, close } = await connectClient(embedded ? { address: embedded.address, namespace: embedded.namespace, encryption: keyRingFromEnv() } : undefined);
  try {
    const handle = await client.workflow.start(RUN_WORKFLOW_TYPE, {
      taskQueue: taskQueuesFromEnv().workflows, workflowId: input.runId, args: [input],
    });
    if (o.detach && !embedded) {
      process.stderr.write(`started run; follow it with: tessel status ${input.runId} --wait\n`);
      process.stdout.write(`${input.runId}\n`);
      return 0;
    }
    process.stderr.write(`run ${input.runId}: ${input.locations.images}\n`);
    const summary: RunSummary = await followRun(handle, { quiet: o.json });
    if (o.json) {
      printJson(summary);
      if (embedded?.log.file) process.stderr.write(`worker log: ${embedded.log.file}\n`);
    } else {
      process.stdout.write(formatSummary(summary, {
        wallS: (Date.now() - started) / 1000, uiUrl: embedded?.uiUrl, log: embedded?.log,
        peakMemoryGb: embedded ? (process.resourceUsage().maxRSS * 1024) / 1e9 : undefined,
        outputs: {
          NPZ: input.locations.npz, masks: input.locations.segmasks, reports: input.locations.reports,
          project: input.locations.project, benchmarks: input.settings.benchmark.sink === 'duckdb' ? input.settings.benchmark.duckdbPath! : input.settings.benchmark.sink,
        },
      }) + '\n');
    }
    return summary.images.failed > 0 ? EXIT_SOME_FAILED : 0;
  } finally {
    await close();
    await embedded?.stop();
  }
}
