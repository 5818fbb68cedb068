import { generateTissue } from '../../../core/synth';
import { innerDistanceTarget, pixelwiseClass, squaredDistanceTransform } from '../../../core/reference/targets';
import { runPython } from '../../helpers/python';

/**
 * Training targets against an independent reference: deepcell's `inner_distance_transform_2d`
 * (alpha='auto', beta=1, erosion_width=1) and `pixelwise_transform` re-implemented with scipy/skimage
 * in the venv, on a synthetic mask with touching cells.
 */
describe('Mesmer training targets', () => {
  const size = 96;
  const mask = generateTissue({ width: size, height: size, seed: 5 }).wholeCellMask;

  test('inner distance and pixelwise classes match a scipy/skimage port of deepcell', () => {
    const out = JSON.parse(runPython(`
import json, sys, numpy as np
from scipy import ndimage
from skimage.measure import regionprops
from skimage.segmentation import find_boundaries
n = int(sys.argv[1]); mask = np.array(json.loads(sys.stdin.read()), dtype=np.int32).reshape(n, n)
edge = find_boundaries(mask, mode='inner', connectivity=1) & (mask > 0)
# find_boundaries treats the image edge as no neighbour, like Tessel; erosion_width=1 removes the inner boundary
eroded = np.where(edge, 0, mask)
distance = ndimage.distance_transform_edt(eroded > 0)
inner = np.zeros(mask.shape, np.float64)
for prop in regionprops(eroded, distance):
    c = prop.centroid_weighted
    d2 = np.sum((prop.coords - c) ** 2, axis=1)
    inner[prop.coords[:, 0], prop.coords[:, 1]] = 1 / (1 + d2 / np.sqrt(prop.area))
cls = np.where(mask == 0, 2, np.where(edge, 0, 1))
edt = ndimage.distance_transform_edt(mask > 0) ** 2
print(json.dumps(dict(inner=inner.ravel().tolist(), cls=cls.ravel().tolist(), edt=edt.ravel().tolist())))
`, [String(size)], { input: JSON.stringify(Array.from(mask)) })) as { inner: number[]; cls: number[]; edt: number[] };
    const inner = innerDistanceTarget(mask, size, size);
    const cls = pixelwiseClass(mask, size, size);
    const fg = new Uint8Array(mask.length);
    for (let i = 0; i < mask.length; i++) fg[i] = mask[i] ? 1 : 0;
    const edt = squaredDistanceTransform(fg, size, size);
    let maxInner = 0, maxEdt = 0, classDiff = 0;
    for (let i = 0; i < mask.length; i++) {
      maxInner = Math.max(maxInner, Math.abs(inner[i] - out.inner[i]));
      maxEdt = Math.max(maxEdt, Math.abs(edt[i] - out.edt[i]));
      if (cls[i] !== out.cls[i]) classDiff++;
    }
    expect(maxEdt).toBeLessThan(1e-9);
    expect(classDiff).toBe(0);
    expect(maxInner).toBeLessThan(1e-5);
    expect(Math.max(...inner)).toBeGreaterThan(0.9); // cell centres reach ≈ 1
  });
});
