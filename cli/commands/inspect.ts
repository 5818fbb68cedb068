import type { Command } from 'commander';
import { openImage, type ImageInfo } from '../../core/formats/image';
import { printJson } from '../output';

/** The fields `inspect` reports, in order. */
function summary(info: ImageInfo): Record<string, unknown> {
  return {
    uri: info.uri,
    width: info.width,
    height: info.height,
    channels: info.channels,
    dtype: info.dtype,
    physicalSizeX: info.physicalSizeX ?? null,
    physicalSizeY: info.physicalSizeY ?? null,
    calibrated: info.calibrated,
    levels: info.levels,
    tiled: info.tiled,
    compression: info.compression,
    bigtiff: info.bigtiff,
    dimensionOrder: info.dimensionOrder ?? null,
    ...(info.format === 'ome-zarr' ? { format: info.format, ngffVersion: info.ngffVersion, zarrFormat: info.zarrFormat, chunkSize: info.chunkSize } : {}),
    warnings: info.warnings,
  };
}

function human(info: ImageInfo): string {
  const um = (v?: number) => (v === undefined ? 'unknown (uncalibrated)' : `${v} µm`);
  const zarr = info.format === 'ome-zarr'
    ? [`format         OME-Zarr (NGFF ${info.ngffVersion}, Zarr v${info.zarrFormat})`, `chunks         ${info.chunkSize?.width} × ${info.chunkSize?.height} px`]
    : [];
  const lines = [
    `image          ${info.uri}`,
    ...zarr,
    `size           ${info.width} × ${info.height} px`,
    `dtype          ${info.dtype}`,
    `channels       ${info.channels.length}`,
    ...info.channels.map((c, i) => `  ${String(i).padStart(3)}  ${c}`),
    `physicalSizeX  ${um(info.physicalSizeX)}`,
    `physicalSizeY  ${um(info.physicalSizeY)}`,
    `levels         ${info.levels}`,
    `tiled          ${info.tiled}`,
    `compression    ${info.compression}`,
    `bigtiff        ${info.bigtiff}`,
  ];
  if (info.dimensionOrder) lines.push(`dimensionOrder ${info.dimensionOrder}`);
  for (const w of info.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('Show an image\'s size, channels (names in order), dtype, pixel size, pyramid levels, tiling and compression. Reads only the file\'s directories, not its pixels.')
    .argument('<image>', 'OME-TIFF / TIFF / BigTIFF file, or OME-Zarr folder (NGFF 0.4/0.5, *.zarr); local path or gs:// URI')
    .option('--json', 'print JSON (keys: width, height, channels, dtype, physicalSizeX, physicalSizeY [µm, null when uncalibrated], calibrated, levels, tiled, compression, bigtiff, dimensionOrder, warnings; ' +
      'for OME-Zarr also format, ngffVersion, zarrFormat, chunkSize)')
    .action(async (image: string, o: { json?: boolean }) => {
      const src = await openImage(image);
      try {
        if (o.json) printJson(summary(src.info));
        else process.stdout.write(human(src.info));
      } finally {
        await src.close();
      }
    });
}
