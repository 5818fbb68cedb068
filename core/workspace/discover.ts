import { storeFor, basename } from '../storage';

/** Image files Tessel discovers in an images folder. */
const IMAGE_EXTENSIONS = /\.(ome\.tiff?|tiff?|btf|ome\.btf)$/i;

/** Image name = file basename cut at the first '.', as deepcell-imaging names it. */
export function imageNameOf(uri: string): string {
  const base = basename(uri);
  const dot = base.indexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** Translate a glob (`*`, `?`, `[abc]`) to an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether an image name passes the filter: each entry is a glob when it holds `*`, `?` or `[`, else a
 * prefix. An empty filter passes everything; several entries pass what any of them passes.
 */
export function matchesFilter(name: string, filter: readonly string[]): boolean {
  if (filter.length === 0) return true;
  return filter.some((f) => (/[*?[]/.test(f) ? globToRegExp(f).test(name) : name.startsWith(f)));
}

export interface FoundImage { name: string; imageUri: string; size: number }

/**
 * Images directly in `imagesUri`, filtered and sorted by name. Two files with the same image name
 * (e.g. `a.ome.tif` and `a.tiff`) would write the same outputs, so the second is reported as skipped.
 */
export async function discoverImages(imagesUri: string, filter: readonly string[] = []): Promise<{ images: FoundImage[]; skipped: { uri: string; reason: string }[] }> {
  const objects = await storeFor(imagesUri).list(imagesUri);
  const images: FoundImage[] = [];
  const skipped: { uri: string; reason: string }[] = [];
  const seen = new Map<string, string>();
  for (const o of objects) {
    if (!IMAGE_EXTENSIONS.test(o.uri)) continue;
    const name = imageNameOf(o.uri);
    if (!matchesFilter(name, filter)) continue;
    const prior = seen.get(name);
    if (prior) {
      skipped.push({ uri: o.uri, reason: `same image name '${name}' as ${prior}` });
      continue;
    }
    seen.set(name, o.uri);
    images.push({ name, imageUri: o.uri, size: o.size });
  }
  images.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { images, skipped };
}
