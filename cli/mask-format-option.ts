import { type Command, Option } from 'commander';
import { MASK_FORMATS, type MaskFormat } from '../core/formats/mask-writer';

/** `--mask-format`, declared once for the commands that write masks. */
export function addMaskFormatOption(cmd: Command): Command {
  return cmd.addOption(new Option('--mask-format <format>',
    'ome-tiff: <out-dir>/<name>_WholeCellMask.tiff / _NucleusMask.tiff (int32 TIFF); ' +
    'ome-zarr: NGFF 0.4 labels WholeCell / Nucleus of <out-dir>/<name>.ome.zarr, with a pyramid (zarr-python, napari, QuPath read them)')
    .choices(MASK_FORMATS).default('ome-tiff'));
}

/** The parsed `--mask-format`. */
export function maskFormatOf(o: Record<string, unknown>): MaskFormat {
  return (o.maskFormat as MaskFormat | undefined) ?? 'ome-tiff';
}
