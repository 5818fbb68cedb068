import { Option, type Command } from 'commander';
import { convert } from '../../core/convert';
import { printJson } from '../output';
import { parseChannelList } from '../run-input';

export function register(program: Command): void {
  program
    .command('convert')
    .description('Convert an image to Mesmer input: an NPZ holding exactly one array, input_channels (H×W×2 float32: nuclear, membrane), plus a <name>.json sidecar with the source, the channels used and µm/pixel. Both are written atomically.')
    .argument('<image>', 'OME-TIFF / TIFF file or OME-Zarr folder (NGFF 0.4/0.5); path or gs:// URI')
    .requiredOption('--out <name.npz>', 'output NPZ path or gs:// URI (the sidecar goes beside it as <name>.json)')
    .option('--nuclear-channels <list>', 'comma-separated channel names (exact, then case-insensitive) or 0-based indices, combined into the nuclear channel (default: a known nuclear stain such as DAPI, else channel 0)', parseChannelList)
    .option('--membrane-channels <list>', 'comma-separated channel names or 0-based indices, combined into the membrane channel (default: known membrane stains, else channel 1)', parseChannelList)
    .addOption(new Option('--combine <how>', 'how several channels combine (float32)').choices(['sum', 'max']).default('sum'))
    .option('--json', 'print the result as JSON')
    .action(async (image: string, o: { out: string; nuclearChannels?: (string | number)[]; membraneChannels?: (string | number)[]; combine: 'sum' | 'max'; json?: boolean }) => {
      const tty = process.stderr.isTTY === true;
      const r = await convert({
        imageUri: image, outUri: o.out, nuclearChannels: o.nuclearChannels, membraneChannels: o.membraneChannels, combine: o.combine,
        onProgress: tty ? (f) => process.stderr.write(`\rconvert ${(f * 100).toFixed(0).padStart(3)}%${f >= 1 ? '\n' : ''}`) : undefined,
      });
      for (const w of r.warnings) process.stderr.write(`tessel: warning: ${w}\n`);
      if (o.json) {
        printJson({ out: o.out, ...r, umPerPixel: r.umPerPixel ?? null });
        return;
      }
      process.stdout.write(`${o.out}: ${r.height}×${r.width}×2 float32 (${(r.bytes / 2 ** 20).toFixed(1)} MiB); nuclear = ${r.nuclear.join(' + ')}, membrane = ${r.membrane.join(' + ')} (${o.combine}); ${r.umPerPixel === undefined ? 'uncalibrated' : `${r.umPerPixel} µm/pixel`}\n`);
      process.stdout.write(`${r.sidecarUri}: sidecar\n`);
    });
}
