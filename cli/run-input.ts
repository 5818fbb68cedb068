import { Option, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { DUCKDB_NEEDS_LOCAL_FILE } from '../core/bench/sinks';
import { ConfigError } from '../core/errors';
import { isGcsUri, joinUri } from '../core/storage';
import { taskQueuesFromEnv } from '../core/config/temporal';
import { KEY_FILE_ENV } from '../core/config/encryption-keys';
import type { EnvConfig } from '../core/config/env';
import { addWatershedOptions, watershedOverrides } from './watershed-options';
import { DEFAULT_BLOCK_SIZE, DEFAULT_BLOCKWISE_ABOVE_PIXELS, DEFAULT_HALO, checkBlockSettings } from '../core/blocks/grid';
import type { ChannelSpec, Locations, ResumableStage, RunInput } from '../core/contracts';

/** deepcell-imaging's workspace folders; each overridable. */
export const WORKSPACE_DEFAULTS = {
  imagesSubdir: 'OMETIFF', npzSubdir: 'NPZ_INTERMEDIATE', segmasksSubdir: 'SEGMASK', projectSubdir: 'PROJ',
  reportsSubdir: 'REPORTS', benchmarksSubdir: 'BENCHMARKS', jobsSubdir: 'jobs',
};

/** Options shared by `run workspace` and `run paths`. */
export function addRunOptions(cmd: Command): Command {
  return addWatershedOptions(cmd)
    .option('--image-filter <patterns>', 'only images whose name starts with this prefix, or matches this glob (*, ?, [..]); comma-separated for several', collectList, [])
    .option('--model <zip>', 'model collection (ZIP, local or gs://); default: the env config\'s segment_model_path, else the reference model, built on first use')
    .option('--classifier <zip>', 'cell classifier (tessel classify train): after quantify, a classify stage fills the tables\' Classification column and the GeoJSON classification')
    .option('--nuclear-channels <list>', 'nuclear channel names or 0-based indices, summed (default: a known nuclear stain such as DAPI, else channel 0)')
    .option('--membrane-channels <list>', 'membrane channel names or indices, summed (default: known membrane stains, else channel 1)')
    .addOption(new Option('--combine <how>', 'how several channels combine').choices(['sum', 'max']).default('sum'))
    .addOption(new Option('--compartment <which>', 'masks to produce').choices(['both', 'whole-cell', 'nuclear']).default('both'))
    .option('--batch-size <n>', 'tiles per inference batch', toInt, 8)
    .addOption(new Option('--device <device>', 'inference execution provider (a GPU worker can also force it)').choices(['cpu', 'cuda']).default('cpu'))
    .option('--max-concurrent <n>', 'images in flight at once', toInt, 4)
    .option('--max-attempts <n>', 'attempts per stage for transient failures', toInt, 5)
    .addOption(new Option('--children-per-segment <n>', 'image workflows per history segment before continue-as-new').argParser(toInt).default(500).hideHelp())
    .option('--fused-max-pixels <n>', 'images of at most this many pixels run postprocess, quantify and record as one CPU activity (two server round trips fewer per image; a retry redoes all three); 0: never', toNonNegativeInt, DEFAULT_FUSED_MAX_PIXELS)
    .option('--heartbeat-timeout <s>', 'seconds without a heartbeat before a stage counts as lost (crashed worker) and is retried', toInt, 60)
    .option('--no-geojson', 'skip the QuPath GeoJSON export')
    .option('--legacy-names', 'QuPath < 0.6 measurement names (CD3: Cell: Mean)')
    .addOption(new Option('--benchmark-sink <sink>', 'where benchmark rows go (default: the env config\'s benchmark_sink, else duckdb)').choices(['duckdb', 'bigquery', 'none']))
    .option('--bigquery-table <table>', 'project.dataset.table for --benchmark-sink bigquery (default: the env config\'s)')
    .option('--cloud-region <region>', 'recorded in benchmark rows (default: the env config\'s region)')
    .option('--run-id <id>', 'run id (the parent workflow id); default: tessel-<time>-<random>')
    .option('--detach', 'start the run and print its id as the last line, without waiting')
    .option('--json', 'print the final summary as JSON')
    .option('--embedded', 'start a local Temporal dev server and workers in this process for the run')
    .option('--dry-run', 'list each matching image and what the run would do with it (new, done, failed before, input or settings changed), then exit')
    .option('--force', 'redo images whose outputs are complete and current (default: skip them)')
    .option('--blockwise-above-pixels <n>', 'images with more pixels run block by block (predict per block on the GPU queue, watershed per block on the CPU queue, ' +
      'stitched, measured per block; results equal to a whole-image run); 0: never', toNonNegativeInt, DEFAULT_BLOCKWISE_ABOVE_PIXELS)
    .option('--block-size <n>', 'edge of a block in pixels (a multiple of 256)', toInt, DEFAULT_BLOCK_SIZE)
    .option('--halo <n>', 'pixels a block sees past its edges (≥ 2 cell diameters; at most block size − 128)', toNonNegativeInt, DEFAULT_HALO)
    .option('--tissue-threshold <x>', 'blocks whose nuclear and membrane pixels are all ≤ x (on a low-resolution level when the image has one) are skipped', (v: string) => {
      const n = Number(v);
      if (v.trim() === '' || !(n >= 0)) throw new ConfigError(`--tissue-threshold: expected a number ≥ 0, got '${v}'`);
      return n;
    }, 0)
    .option('--max-blocks-in-flight <n>', 'block activities in flight at once per image and queue', toInt, 16)
    .addOption(new Option('--blocks-per-segment <n>', 'block activities per history segment of a blockwise image before continue-as-new').argParser(toInt).default(1000).hideHelp())
    .addOption(new Option('--from-stage <stage>', 'start every image at this stage, reusing kept intermediates (e.g. re-run the watershed without the GPU)').choices(['predict', 'postprocess', 'quantify', 'classify']));
}

/** Only the compartments with overrides, so runs without any keep the same settings hash. */
function givenOverrides(o: ReturnType<typeof watershedOverrides>): Pick<RunInput['settings']['postprocess'], 'wholeCell' | 'nuclear'> {
  return {
    wholeCell: Object.keys(o.wholeCell).length ? o.wholeCell : undefined,
    nuclear: Object.keys(o.nuclear).length ? o.nuclear : undefined,
  };
}

export function collectList(value: string, prev: string[] = []): string[] {
  return prev.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}

function integerAtLeast(value: string, min: 0 | 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`expected a ${min === 1 ? 'positive' : 'non-negative'} integer, got '${value}'`);
  return n;
}

export const toInt = (value: string): number => integerAtLeast(value, 1);
export const toNonNegativeInt = (value: string): number => integerAtLeast(value, 0);

/**
 * 512×512. Measured with `npx tsx bench/scale.ts --size S --fused-max-pixels 0` on 2 cores: postprocess +
 * quantify + record take ~75 + 90 + 80 ms at 64², ~630 ms at 256², ~1.4 s at 512², against 12–30 ms per
 * hand-over through the server. Past 512² the two hand-overs saved are under ~3% of the work, and
 * per-stage retries (a failed quantify not redoing the watershed) are worth more.
 */
export const DEFAULT_FUSED_MAX_PIXELS = 512 * 512;

/** Splits `A,B,3` into specs; all-digit items become 0-based indices. */
export function parseChannelList(value: string): ChannelSpec[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new ConfigError(`empty channel list '${value}'`);
  return items.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function channelList(value?: string): ChannelSpec[] | undefined {
  return value ? parseChannelList(value) : undefined;
}

/** Local paths become absolute (workers may run elsewhere in the tree); gs:// stays as is. */
export function absoluteUri(p: string): string {
  return isGcsUri(p) ? p.replace(/\/+$/, '') : resolve(p);
}

export function workspaceLocations(root: string, o: Record<string, string | undefined>): Locations {
  const r = absoluteUri(root);
  const sub = (k: keyof typeof WORKSPACE_DEFAULTS) => joinUri(r, o[k] ?? WORKSPACE_DEFAULTS[k]);
  return {
    images: sub('imagesSubdir'), npz: sub('npzSubdir'), segmasks: sub('segmasksSubdir'), project: sub('projectSubdir'),
    reports: sub('reportsSubdir'), benchmarks: sub('benchmarksSubdir'), jobs: sub('jobsSubdir'),
  };
}

export function pathsLocations(o: Record<string, string | undefined>): Locations {
  const need = (k: string, flag: string) => {
    if (!o[k]) throw new ConfigError(`run paths needs ${flag}`);
    return absoluteUri(o[k]!);
  };
  const reports = need('reportsPath', '--reports-path');
  const parent = reports.replace(/\/[^/]+$/, '');
  return {
    images: need('imagesPath', '--images-path'), npz: need('numpyPath', '--numpy-path'), segmasks: need('segmasksPath', '--segmasks-path'),
    project: need('projectPath', '--project-path'), reports,
    jobs: o.jobsPath ? absoluteUri(o.jobsPath) : joinUri(parent, 'jobs'),
    benchmarks: o.benchmarksPath ? absoluteUri(o.benchmarksPath) : joinUri(parent, 'BENCHMARKS'),
  };
}

/** The blockwise settings from the flags, checked. */
function blockwiseSettings(o: RunCliOptions): RunInput['blockwise'] {
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE, halo = o.halo ?? DEFAULT_HALO;
  checkBlockSettings(blockSize, halo);
  return {
    abovePixels: o.blockwiseAbovePixels ?? DEFAULT_BLOCKWISE_ABOVE_PIXELS, blockSize, halo, tissueThreshold: o.tissueThreshold ?? 0,
    maxInFlight: o.maxBlocksInFlight ?? 16, tasksPerSegment: o.blocksPerSegment ?? 1000,
  };
}

export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `tessel-${t}-${randomBytes(3).toString('hex')}`;
}

export interface RunCliOptions {
  imageFilter: string[]; model: string; nuclearChannels?: string; membraneChannels?: string; combine: 'sum' | 'max';
  compartment: 'both' | 'whole-cell' | 'nuclear'; batchSize: number; device: 'cpu' | 'cuda'; maxConcurrent: number;
  maxAttempts: number; geojson: boolean; legacyNames?: boolean; benchmarkSink?: 'duckdb' | 'bigquery' | 'none';
  bigqueryTable?: string; cloudRegion?: string; runId?: string; commandLine?: string; heartbeatTimeout?: number; childrenPerSegment?: number; fusedMaxPixels?: number; force?: boolean; fromStage?: ResumableStage;
  classifier?: string;
  blockwiseAbovePixels?: number; blockSize?: number; halo?: number; tissueThreshold?: number; maxBlocksInFlight?: number; blocksPerSegment?: number;
}

/** Run settings from the flags, then the env config (if any), then defaults. */
export function buildRunInput(locations: Locations, o: RunCliOptions, cfg?: EnvConfig): RunInput {
  const cfgSink = cfg?.benchmark_sink;
  const sink = o.benchmarkSink ?? cfgSink?.kind ?? 'duckdb';
  const bigqueryTable = o.bigqueryTable ?? (cfgSink?.kind === 'bigquery' ? cfgSink.table : cfg?.bigquery_benchmarking_table) ?? undefined;
  if (sink === 'bigquery' && !bigqueryTable) {
    throw new ConfigError('--benchmark-sink bigquery needs --bigquery-table (or bigquery_benchmarking_table in the env config)');
  }
  const duckdbPath = cfgSink?.kind === 'duckdb' && cfgSink.path && !o.benchmarkSink ? absoluteUri(cfgSink.path) : joinUri(locations.benchmarks, 'benchmarks.duckdb');
  if (sink === 'duckdb' && isGcsUri(duckdbPath)) throw new ConfigError(DUCKDB_NEEDS_LOCAL_FILE);
  if (o.fromStage === 'classify' && !o.classifier) throw new ConfigError('--from-stage classify needs --classifier <zip>');
  return {
    runId: o.runId ?? newRunId(),
    locations,
    imageFilter: o.imageFilter,
    maxConcurrentImages: o.maxConcurrent,
    taskQueues: taskQueuesFromEnv(),
    maxAttempts: o.maxAttempts,
    heartbeatTimeoutS: o.heartbeatTimeout ?? 60,
    childrenPerSegment: o.childrenPerSegment ?? 500,
    fusedMaxPixels: o.fusedMaxPixels ?? DEFAULT_FUSED_MAX_PIXELS,
    blockwise: blockwiseSettings(o),
    // Workflow ids are plaintext on the server: with payloads encrypted, they must not carry image names.
    opaqueChildIds: Boolean(process.env[KEY_FILE_ENV]) || undefined,
    force: Boolean(o.force),
    fromStage: o.fromStage,
    settings: {
      channels: { nuclear: channelList(o.nuclearChannels), membrane: channelList(o.membraneChannels), combine: o.combine },
      model: { uri: absoluteUri(o.model), batchSize: o.batchSize, device: o.device },
      postprocess: { compartment: o.compartment, ...givenOverrides(watershedOverrides(o as unknown as Record<string, unknown>)) },
      quantify: { geojson: o.geojson, legacyNames: Boolean(o.legacyNames) },
      ...(o.classifier ? { classify: { uri: absoluteUri(o.classifier) } } : {}),
      benchmark: {
        sink, duckdbPath, bigqueryTable: sink === 'bigquery' ? bigqueryTable : undefined,
        cloudRegion: o.cloudRegion ?? (cfg?.region || undefined),
        commandLine: o.commandLine ?? commandLineOf(process.argv),
      },
    },
  };
}

/** `tessel <args>` as typed, each argument quoted for a POSIX shell where it needs it (for benchmark rows). */
export function commandLineOf(argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['tessel', ...argv.slice(2).map(quote)].join(' ');
}
