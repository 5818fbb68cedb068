import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverImages, globToRegExp, imageNameOf, matchesFilter } from '../../../core/workspace/discover';
import { defaultChannels } from '../../../core/convert/default-channels';

describe('image discovery', () => {
  it('names an image by its basename cut at the first dot (deepcell-imaging)', () => {
    expect(imageNameOf('/a/b/tissue_01.ome.tiff')).toBe('tissue_01');
    expect(imageNameOf('gs://bucket/x/y.tif')).toBe('y');
  });

  it('filters by prefix, or by glob when the pattern has glob characters', () => {
    expect(matchesFilter('tissue_01', [])).toBe(true);
    expect(matchesFilter('tissue_01', ['tissue'])).toBe(true);
    expect(matchesFilter('tissue_01', ['issue'])).toBe(false);
    expect(matchesFilter('tissue_01', ['*_01'])).toBe(true);
    expect(matchesFilter('tissue_02', ['*_01'])).toBe(false);
    expect(matchesFilter('tissue_02', ['tissue_0[12]'])).toBe(true);
    expect(matchesFilter('tissue_03', ['tissue_0[12]', 'tissue_03'])).toBe(true);
    expect(globToRegExp('a.b?').test('a.bc')).toBe(true);
    expect(globToRegExp('a.b?').test('axbc')).toBe(false);
  });

  it('lists image files sorted, skipping other files and duplicate names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessel-disc-'));
    mkdirSync(join(dir, 'sub'));
    for (const f of ['b.ome.tiff', 'a.tif', 'a.ome.tiff', 'notes.txt', 'sub/c.tiff', '.tessel-tmp-x-d.tiff']) writeFileSync(join(dir, f), 'x');
    const { images, skipped } = await discoverImages(dir);
    expect(images.map((i) => i.name)).toEqual(['a', 'b']);
    expect(skipped).toHaveLength(1);
    expect(skipped[0].reason).toMatch(/same image name 'a'/);
    expect((await discoverImages(dir, ['b'])).images.map((i) => i.name)).toEqual(['b']);
  });
});

describe('default channels', () => {
  it('picks a known nuclear stain and known membrane stains by name', () => {
    expect(defaultChannels(['CD3', 'DAPI', 'PanCK', 'Na-K-ATPase', 'CD8'])).toEqual({ nuclear: [1], membrane: [2, 3] });
  });
  it('falls back to channels 0 and 1', () => {
    expect(defaultChannels(['c0', 'c1', 'c2'])).toEqual({ nuclear: [0], membrane: [1] });
    expect(defaultChannels(['only'])).toEqual({ nuclear: [0], membrane: [0] });
  });
});
