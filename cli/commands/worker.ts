import { Command, Option } from 'commander';
import { runWorkerProcess } from '../../workers/process';
import type { QueueKind } from '../../workers/create';
import { activeEnvConfig } from '../env-config';
import { toInt, toNonNegativeInt } from '../run-input';

export function register(program: Command): void {
  program.command('worker')
    .description('Run Temporal workers until interrupted. Honours TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (and TEMPORAL_API_KEY or\n' +
      'TEMPORAL_TLS_CERT/KEY), TESSEL_QUEUE_WORKFLOWS/_CPU/_GPU, TESSEL_INSTANCE_TYPE (priced by the env config\'s price_table), or --env-config. A GPU worker holds its ONNX sessions for its lifetime.')
    .addOption(new Option('--queue <queue>', 'which task queue(s) to serve').choices(['workflows', 'cpu', 'gpu', 'all']).default('all'))
    .option('--cpu-slots <n>', 'concurrent CPU activities (default: number of cores)', toInt)
    .option('--gpu-slots <n>', 'concurrent predictions (default: from --gpu-memory-gb, else 1)', toInt)
    .option('--gpu-memory-gb <gb>', 'GPU memory budget; with --prediction-memory-gb gives the number of prediction slots', Number)
    .option('--prediction-memory-gb <gb>', 'memory one prediction needs (see `tessel model inspect`)', Number)
    .addOption(new Option('--device <device>', 'force the inference execution provider for this worker').choices(['cpu', 'cuda']))
    .option('--inference-threads <n>', 'onnxruntime threads per prediction on the CPU (default: one per physical core); on a machine that also serves the CPU queue, fewer leave cores to it', toInt)
    .option('--look-ahead <n>', 'activities a CPU or GPU worker takes ahead of its slots while its recent activities average under 5 s, so the next one is in hand when a slot frees; 0: take one only when a slot is free', toNonNegativeInt, 1)
    .action(async (o: { queue: string; cpuSlots?: number; gpuSlots?: number; gpuMemoryGb?: number; predictionMemoryGb?: number; device?: 'cpu' | 'cuda'; inferenceThreads?: number; lookAhead: number }) => {
      const queues: QueueKind[] = o.queue === 'all' ? ['workflows', 'cpu', 'gpu'] : [o.queue as QueueKind];
      let gpuSlots = o.gpuSlots;
      if (gpuSlots === undefined && o.gpuMemoryGb && o.predictionMemoryGb) gpuSlots = Math.max(1, Math.floor(o.gpuMemoryGb / o.predictionMemoryGb));
      await runWorkerProcess({
        queues, cpuSlots: o.cpuSlots, gpuSlots, lookAhead: o.lookAhead,
        deps: { device: o.device, gpuMemoryGb: o.gpuMemoryGb, inferenceThreads: o.inferenceThreads, priceTable: activeEnvConfig()?.price_table },
        onReady: (i) => process.stderr.write(`worker ready: ${i.queues.join(', ')} on ${i.address} (namespace ${i.namespace})${gpuSlots ? `, ${gpuSlots} prediction slot(s)` : ''}\n`),
      });
    });
}
