import { posix } from 'node:path';
import { InvalidImageError } from '../errors';
import type { DType } from './ndarray';
import { looksLikeOmeXml, parseOmeXml, toMicrometres, type OmeImage } from './ome-xml';
import type { Ifd, TiffFile } from './tiff-ifd';
import { chunkTable, parsePage, type TiffPage } from './tiff-page';
import { ResolutionUnit, Tag } from './tiff-tags';

/**
 * Works out what a TIFF holds: which page and sample is each channel, which pages are the
 * pyramid levels, channel names and physical pixel size. Three conventions, tried in order:
 * OME-XML in the first ImageDescription; ImageJ hyperstacks (`ImageJ=` description); plain
 * multi-page or multi-sample TIFFs.
 *
 * References: OME-TIFF specification; ImageJ TiffEncoder/FileSaver (description keys `channels`,
 * `slices`, `frames`, `unit`); TIFF 6.0 section 8 (XResolution, ResolutionUnit).
 */

/** Where one channel's pixels live at each pyramid level: IFD offsets, level 0 first, and the sample index. */
export interface ChannelRef {
  levels: number[];
  sample: number;
}

export interface TiffLayout {
  channelNames: string[];
  channels: ChannelRef[];
  first: TiffPage;
  dtype: DType;
  physicalSizeX?: number;
  physicalSizeY?: number;
  dimensionOrder?: string;
  warnings: string[];
}

/** Reads every page of the chain that might hold pixels. */
async function pagesOf(tf: TiffFile, chain: Ifd[]): Promise<TiffPage[]> {
  const out: TiffPage[] = [];
  for (const ifd of chain) out.push(await parsePage(tf, ifd));
  return out;
}

function sameRaster(a: TiffPage, b: TiffPage): boolean {
  return a.width === b.width && a.height === b.height && a.dtype === b.dtype && a.samplesPerPixel === b.samplesPerPixel;
}

/** Levels below `page`: its SubIFDs if any. */
function subIfdLevels(page: TiffPage): number[] {
  return [page.offset, ...page.subIfds];
}

/**
 * Extra-IFD pyramids: after the full-resolution group of `n` pages, further groups of `n` pages,
 * each smaller than the last, are levels. Returns per-group page lists.
 */
function extraIfdLevels(pages: TiffPage[], start: number, n: number): TiffPage[][] {
  const groups: TiffPage[][] = [];
  let prev = pages[0];
  for (let at = start; at + n <= pages.length; at += n) {
    const g = pages.slice(at, at + n);
    if (!g.every((p) => sameRaster(p, g[0]) && p.dtype === prev.dtype)) break;
    if (!(g[0].width < prev.width && g[0].height < prev.height)) break;
    groups.push(g);
    prev = g[0];
  }
  return groups;
}

/** Resolution tags are rationals (e.g. 1/0.65 stored as 1538461/1000000); 10 significant digits undo the round trip. */
function tidy(um: number): number {
  return Number(um.toPrecision(10));
}

function tiffResolution(xres: number | undefined, yres: number | undefined, unit: number, ijUnit: string | undefined, warnings: string[]): { x?: number; y?: number } {
  if (!xres || !yres || !Number.isFinite(xres) || !Number.isFinite(yres)) return {};
  if (ijUnit !== undefined) {
    // ImageJ: XResolution is pixels per `unit` from the description.
    const normal = ijUnit.replace(/\\u00[bB]5/g, 'µ').replace(/^microns?$/i, 'µm').replace(/^inch(es)?$/i, 'in');
    const perUnit = normal === 'in' ? 25400 : toMicrometres(1, normal);
    if (perUnit === undefined) {
      if (!/^pixels?$/i.test(normal)) warnings.push(`ImageJ unit '${ijUnit}' is not a length unit`);
      return {};
    }
    return { x: tidy(perUnit / xres), y: tidy(perUnit / yres) };
  }
  if (unit === ResolutionUnit.None) return {};
  const perUnit = unit === ResolutionUnit.Centimeter ? 1e4 : 25400;
  if (unit === ResolutionUnit.Inch && [72, 96, 150, 300, 600].includes(xres) && xres === yres) {
    warnings.push(`resolution ${xres} dpi looks like a writer's screen/print default, not a microscope calibration; ignored`);
    return {};
  }
  return { x: tidy(perUnit / xres), y: tidy(perUnit / yres) };
}

function parseImageJ(desc: string): Record<string, string> | undefined {
  if (!desc.startsWith('ImageJ=')) return undefined;
  const out: Record<string, string> = {};
  for (const line of desc.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

async function omeLayout(tf: TiffFile, chain: Ifd[], image: OmeImage, images: OmeImage[]): Promise<TiffLayout> {
  const warnings = [...image.warnings];
  const { pixels } = image;
  if (pixels.SizeZ > 1 || pixels.SizeT > 1) warnings.push(`image has SizeZ=${pixels.SizeZ}, SizeT=${pixels.SizeT}; Tessel reads z=0, t=0`);
  const pageAt = new Map<number, TiffPage>();
  const page = async (ifdIndex: number, c: number): Promise<TiffPage> => {
    if (ifdIndex >= chain.length) throw new InvalidImageError(tf.uri, `OME-XML places channel ${c} in IFD ${ifdIndex}, but the file has ${chain.length} pages (truncated?)`);
    let p = pageAt.get(ifdIndex);
    if (!p) pageAt.set(ifdIndex, (p = await parsePage(tf, chain[ifdIndex])));
    return p;
  };
  const names: string[] = [];
  const refs: ChannelRef[] = [];
  const planeIfds: number[] = [];
  for (let c = 0; c < image.planeChannels; c++) {
    const ifdIndex = image.ifdOf(c, 0, 0);
    if (ifdIndex === undefined) throw new InvalidImageError(tf.uri, `OME-XML gives no TiffData for channel ${c} (z=0, t=0)`);
    planeIfds.push(ifdIndex);
    const p = await page(ifdIndex, c);
    if (p.width !== pixels.SizeX || p.height !== pixels.SizeY) {
      throw new InvalidImageError(tf.uri, `OME-XML says ${pixels.SizeX}×${pixels.SizeY} but IFD ${ifdIndex} is ${p.width}×${p.height}`);
    }
    const base = image.channelNames[c] ?? `Channel ${c}`;
    for (let s = 0; s < p.samplesPerPixel; s++) {
      names.push(p.samplesPerPixel > 1 ? `${base} ${s}` : base);
      refs.push({ levels: subIfdLevels(p), sample: s });
    }
  }
  // Pyramids without SubIFDs: later OME Images that are smaller copies (one Image per level).
  if (refs.every((r) => r.levels.length === 1)) {
    for (const next of images.slice(1)) {
      if (next.planeChannels !== image.planeChannels || next.pixels.SizeX >= pixels.SizeX) break;
      const ifds = Array.from({ length: image.planeChannels }, (_, c) => next.ifdOf(c, 0, 0));
      if (ifds.some((i) => i === undefined || i >= chain.length)) break;
      let k = 0;
      for (let c = 0; c < image.planeChannels; c++) {
        const p = await page(ifds[c]!, c);
        for (let s = 0; s < p.samplesPerPixel; s++) refs[k++]?.levels.push(p.offset);
      }
    }
  }
  const first = await page(planeIfds[0], 0);
  const names2 = dedupe(names, warnings);
  return {
    channelNames: names2, channels: refs, first, dtype: first.dtype,
    physicalSizeX: image.physicalSizeX, physicalSizeY: image.physicalSizeY,
    dimensionOrder: pixels.DimensionOrder, warnings,
  };
}

function dedupe(names: string[], warnings: string[]): string[] {
  const seen = new Set<string>();
  const dupes = names.filter((n) => (seen.has(n) ? true : (seen.add(n), false)));
  if (dupes.length) warnings.push(`duplicate channel names (${[...new Set(dupes)].join(', ')}); select those channels by index`);
  return names;
}

/** Determines the channel and level layout of an opened TIFF. */
export async function layoutOf(tf: TiffFile): Promise<TiffLayout> {
  const chain = await tf.readChain();
  const desc = (await tf.text(chain[0], Tag.ImageDescription)) ?? '';
  const warnings: string[] = [];
  let layout: TiffLayout | undefined;
  if (looksLikeOmeXml(desc)) {
    let images: OmeImage[] | undefined;
    try {
      images = parseOmeXml(desc, posix.basename(tf.uri));
    } catch (err) {
      warnings.push(`${tf.uri}: its OME-XML description cannot be used (${(err as Error).message}); reading it as a plain TIFF, without the channel names and pixel size the OME-XML holds`);
    }
    if (images) layout = await omeLayout(tf, chain, images[0], images);
  }
  if (!layout) {
    const pages = await pagesOf(tf, chain);
    const ij = parseImageJ(desc);
    const first = pages[0];
    // Full-resolution channel pages: the leading run of same-size pages that are not reduced-resolution copies.
    let n = 1;
    while (n < pages.length && sameRaster(pages[n], first) && (pages[n].newSubfileType & 1) === 0) n++;
    if (ij) {
      const c = Number(ij.channels ?? 1);
      if (Number.isInteger(c) && c >= 1 && c <= n) n = c;
      else warnings.push(`ImageJ description says channels=${ij.channels}, the file has ${n} matching pages`);
      const z = Number(ij.slices ?? 1);
      const t = Number(ij.frames ?? 1);
      if (z > 1 || t > 1) warnings.push(`ImageJ hyperstack has ${z} slices and ${t} frames; Tessel reads slice 1, frame 1`);
    }
    const extra = first.subIfds.length === 0 ? extraIfdLevels(pages, n, n) : [];
    // Leftover pages that are neither channels nor levels (thumbnails, label images) are ignored.
    const used = n + extra.length * n;
    if (!ij && used < pages.length) warnings.push(`${pages.length - used} further page(s) of other sizes or types ignored`);
    const names: string[] = [];
    const refs: ChannelRef[] = [];
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < pages[i].samplesPerPixel; s++) {
        refs.push({ levels: [...subIfdLevels(pages[i]), ...extra.map((g) => g[i].offset)], sample: s });
        names.push(`Channel ${refs.length - 1}`);
      }
    }
    const xres = await tf.number(chain[0], Tag.XResolution);
    const yres = await tf.number(chain[0], Tag.YResolution);
    const unit = await tf.number(chain[0], Tag.ResolutionUnit, ResolutionUnit.Inch);
    const res = tiffResolution(xres, yres, unit, ij ? (ij.unit ?? 'pixel') : undefined, warnings);
    layout = {
      channelNames: names, channels: refs, first, dtype: first.dtype,
      physicalSizeX: res.x, physicalSizeY: res.y, dimensionOrder: ij ? 'XYCZT' : undefined, warnings,
    };
  } else {
    layout.warnings.unshift(...warnings);
  }
  if (layout.physicalSizeX === undefined || layout.physicalSizeY === undefined) {
    layout.physicalSizeX = layout.physicalSizeY = undefined;
    layout.warnings.push('no physical pixel size in the file: the image is uncalibrated (µm per pixel unknown; sizes stay in pixels, 1 µm is NOT assumed)');
  }
  // Validate level-0 chunk tables now, so truncated files fail at open rather than mid-run.
  const checked = new Set<number>();
  for (const ref of layout.channels) {
    if (checked.has(ref.levels[0])) continue;
    checked.add(ref.levels[0]);
    const p = ref.levels[0] === layout.first.offset ? layout.first : await parsePage(tf, await tf.readIfd(ref.levels[0]));
    await chunkTable(tf, p);
  }
  return layout;
}
