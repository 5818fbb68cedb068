import { ConfigError } from '../errors';
import { writeLabelMask, writeOmeTiff } from '../formats/tiff-write';
import { joinUri } from '../storage/types';
import { storeFor } from '../storage';
import { generateTissue } from './tissue';

/** Options for {@link writeSyntheticWorkspace}. */
export interface SyntheticWorkspaceOptions {
  /** Number of images. */
  images: number;
  /** Width and height of each image in pixels. */
  size: number;
  /** Channels per image (≥ 4). @default 6 */
  channels?: number;
  /** Seed of the first image; image i uses `seed + i`. @default 0 */
  seed?: number;
  /** File-name prefix. @default 'tissue' */
  prefix?: string;
  /** µm per pixel written to PhysicalSizeX/Y. @default 0.5 */
  umPerPixel?: number;
  /**
   * Also write `GROUND_TRUTH/<name>_CellTypes.tsv`: the marker-defined type of every ground-truth cell
   * (columns `label`, `type`; see {@link SyntheticTissue.cellTypes}). The images are the same either way.
   * @default false
   */
  cellTypes?: boolean;
  /** Called after each image is written. */
  onImage?: (done: number, total: number, name: string) => void;
}

export interface SyntheticWorkspaceImage {
  name: string;
  imageUri: string;
  cells: number;
  /** Cells per marker-defined type (when `cellTypes` was asked for). */
  cellTypes?: Record<string, number>;
}

/** `label<TAB>type` lines, header first: the ground-truth cell types of one synthetic image. */
export function formatCellTypes(types: readonly string[]): string {
  let out = 'label\ttype\n';
  for (let id = 1; id < types.length; id++) out += `${id}\t${types[id]}\n`;
  return out;
}

/**
 * Writes a workspace of synthetic images with ground truth, in the deepcell-imaging layout:
 * `<root>/OMETIFF/<name>.ome.tiff` (channel names, PhysicalSizeX/Y in µm) and
 * `<root>/GROUND_TRUTH/<name>_WholeCellMask.tiff` / `<name>_NucleusMask.tiff` (int32), names
 * `<prefix>_000`, `<prefix>_001`… (and `<name>_CellTypes.tsv` beside the masks with `cellTypes`). Every file is written atomically through the storage layer, so the
 * root may be a local path or `gs://…`.
 */
export async function writeSyntheticWorkspace(root: string, opts: SyntheticWorkspaceOptions): Promise<{ images: SyntheticWorkspaceImage[] }> {
  const { images, size } = opts;
  if (!Number.isInteger(images) || images < 1) throw new ConfigError(`images must be a positive integer, got ${images}`);
  if (!Number.isInteger(size) || size < 16) throw new ConfigError(`size must be an integer ≥ 16, got ${size}`);
  const seed = opts.seed ?? 0;
  const prefix = opts.prefix ?? 'tissue';
  const digits = Math.max(3, String(images - 1).length);
  const out: SyntheticWorkspaceImage[] = [];
  for (let i = 0; i < images; i++) {
    const name = `${prefix}_${String(i).padStart(digits, '0')}`;
    const tissue = generateTissue({ width: size, height: size, seed: seed + i, channels: opts.channels, umPerPixel: opts.umPerPixel });
    const imageUri = joinUri(root, 'OMETIFF', `${name}.ome.tiff`);
    await writeOmeTiff(imageUri, {
      channels: tissue.channels, channelNames: tissue.channelNames,
      physicalSizeX: tissue.umPerPixel, physicalSizeY: tissue.umPerPixel, imageName: name,
    });
    await writeLabelMask(joinUri(root, 'GROUND_TRUTH', `${name}_WholeCellMask.tiff`), { data: tissue.wholeCellMask, width: size, height: size });
    await writeLabelMask(joinUri(root, 'GROUND_TRUTH', `${name}_NucleusMask.tiff`), { data: tissue.nucleusMask, width: size, height: size });
    const entry: SyntheticWorkspaceImage = { name, imageUri, cells: tissue.cellCount };
    if (opts.cellTypes) {
      await storeFor(joinUri(root, 'GROUND_TRUTH', `${name}_CellTypes.tsv`)).writeAtomic(joinUri(root, 'GROUND_TRUTH', `${name}_CellTypes.tsv`), formatCellTypes(tissue.cellTypes));
      entry.cellTypes = {};
      for (let id = 1; id < tissue.cellTypes.length; id++) entry.cellTypes[tissue.cellTypes[id]] = (entry.cellTypes[tissue.cellTypes[id]] ?? 0) + 1;
    }
    out.push(entry);
    opts.onImage?.(i + 1, images, name);
  }
  return { images: out };
}
