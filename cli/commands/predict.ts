import { type Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { ConfigError } from '../../core/errors';
import { DEFAULT_BATCH_SIZE } from '../../core/predict/pipeline';
import { predict, type PredictOutcome } from '../../core/predict';
import type { InferenceDevice } from '../../core/predict/session';

/** Shared by `predict` and `segment`: positive number / integer flag parsers. */
export function positive(flag: string, int: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) {
      throw new ConfigError(`--${flag}: expected a positive ${int ? 'integer' : 'number'}, got '${v}'`);
    }
    return n;
  };
}

/** Adds the inference options to a command. */
export function addPredictOptions(cmd: Command): Command {
  return cmd
    .option('--model <zip>', 'model collection ZIP (default: the reference model, built on first use)')
    .option('--batch-size <n>', `tiles per ONNX run (a model with a fixed batch dimension overrides it) (default: ${DEFAULT_BATCH_SIZE.cpu} on cpu, ` +
      `${DEFAULT_BATCH_SIZE.cuda} on cuda: on a CPU larger batches are no faster and each tile holds ~90 MB of activations)`, positive('batch-size', true))
    .addOption(new Option('--device <device>', 'execution provider; cuda needs onnxruntime-node\'s CUDA build (docs/gpu.md)').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', 'CPU threads for inference (default: one per physical core): the model runs as one single-thread onnxruntime session per thread, up to 4, batches on all of them at once', positive('threads', true))
    .option('--um-per-pixel <x>', 'the image\'s µm/pixel (default: the NPZ\'s <name>.json sidecar; else the model\'s, no resampling)', positive('um-per-pixel', false))
    .option('--compress', 'deflate raw_predictions.npz (smaller, several times slower to write)');
}

/** Resolves `--model`, building the reference model when it is absent. */
export async function resolveModel(model: string | undefined): Promise<string> {
  if (model) return model;
  // Loaded lazily: building the reference model pulls in the synthetic-data generator.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureReferenceModel } = require('../../core/reference') as { ensureReferenceModel(o?: { onProgress?: (m: string) => void }): Promise<string> };
  return ensureReferenceModel({ onProgress: (m) => process.stderr.write(`${m}\n`) });
}

/** A tile progress bar on stderr when it is a terminal; nothing otherwise. */
export function tileProgress(label: string): { onProgress?: (done: number, total: number) => void; stop(): void } {
  if (!process.stderr.isTTY) return { stop: () => undefined };
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: ` ${label} |{bar}| {value}/{total} tiles`, clearOnComplete: true, hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    onProgress: (done, total) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => started && bar.stop(),
  };
}

export interface PredictCliOptions {
  model?: string;
  batchSize?: number;
  device: InferenceDevice;
  threads?: number;
  umPerPixel?: number;
  compress?: boolean;
}

/** Runs predict for the CLI with progress; used by `predict` and `segment`. */
export async function runPredict(npz: string, out: string, o: PredictCliOptions): Promise<PredictOutcome & { modelUri: string }> {
  const modelUri = await resolveModel(o.model);
  const progress = tileProgress('predict');
  try {
    const r = await predict({
      npzUri: npz, modelUri, outUri: out, batchSize: o.batchSize, device: o.device, cpuThreads: o.threads,
      umPerPixel: o.umPerPixel, compress: o.compress, onProgress: progress.onProgress,
    });
    return { ...r, modelUri };
  } finally {
    progress.stop();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('predict <npz>')
    .description('Mesmer inference on an NPZ intermediate (input_channels, H×W×2 float32): resample to the model\'s µm/pixel if needed, ' +
      'Mesmer normalisation (99.9th-percentile clip + CLAHE, kernel 128), 256-px tiles at stride ratio 0.75, batched ONNX runs pipelined ' +
      'with tile preparation and spline blending. Writes raw_predictions.npz (arr_0..arr_3, Mesmer\'s four heads, (1,H,W,1|3) float32) atomically.')
    .requiredOption('--out <npz>', 'where raw_predictions.npz goes (local path or gs://)')
    .option('--json', 'print the result (sizes, tiles, model, timings) as JSON on stdout');
  addPredictOptions(cmd).action(async (npz: string, o: PredictCliOptions & { out: string; json?: boolean }) => {
    const r = await runPredict(npz, o.out, o);
    if (o.json) {
      process.stdout.write(JSON.stringify({ out: o.out, ...r }, null, 2) + '\n');
      return;
    }
    const t = r.timings;
    process.stdout.write(`predict: ${r.width}×${r.height}, ${r.tiles} tiles in batches of ${r.batchSize}, ${r.modelName}@${r.modelVersion} -> ${o.out} ` +
      `(load ${t.inputLoadS.toFixed(2)} s, model ${t.modelLoadS.toFixed(2)} s, normalise ${t.normalizeS.toFixed(2)} s, ` +
      `inference ${t.inferenceS.toFixed(2)} s, untile ${t.untileS.toFixed(2)} s, write ${t.outputWriteS.toFixed(2)} s)\n`);
  });
}
