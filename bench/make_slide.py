"""
A synthetic whole slide of any size, written tile by tile (memory set by a tile, not the slide): a tiled,
pyramidal OME-TIFF (BigTIFF) with channels DAPI, Na-K-ATPase, CD3, Ki67 (uint16, 0.5 µm/pixel), for the
blockwise benchmarks (bench/blockwise.ts) and the gigapixel run.

Cells: a jittered grid of centres ~30 px apart (12–18 µm cells, as core/synth), each pixel belongs to its
nearest centre within 16 px (a Voronoi tessellation cut at the cell radius); nuclei are the inner 40–55 %
of a cell's radius. DAPI fills nuclei with texture, Na-K-ATPase marks pixels whose second-nearest centre
is almost as near (cell borders), CD3 and Ki67 are on in a random fifth of cells. Centres come from a
hash of their grid cell, so tiles agree at their edges and any tile can be made alone. Regions outside
`--tissue x0,y0,x1,y1` (fractions of the slide) are empty glass: zeros, which the tissue check skips.

  python bench/make_slide.py OUT.ome.tiff --width 32768 --height 32768 [--tissue 0,0,1,1] [--seed 1]

The pyramid's levels (in SubIFDs) are the mean of 8×8 and 64×64 pixel squares. Level 0 is made in a
scratch .npy beside the output (8 bytes/pixel of disk, removed at the end) because tifffile writes it
channel by channel; memory holds a tile and the two small levels.
"""
import argparse
import os
import sys

import numpy as np
import tifffile

TILE = 512
SPACING = 30.0
CHANNELS = ['DAPI', 'Na-K-ATPase', 'CD3', 'Ki67']


def centres(gx0, gy0, gx1, gy1, seed):
    """Cell centres of grid cells [gx0, gx1) × [gy0, gy1): deterministic per cell (a hash, not a stream)."""
    gy, gx = np.mgrid[gy0:gy1, gx0:gx1]
    h = (gx.astype(np.uint64) * np.uint64(73856093)) ^ (gy.astype(np.uint64) * np.uint64(19349663)) ^ np.uint64(seed * 83492791)
    def unit(k):
        v = (h * np.uint64(2654435761 + 97 * k)) % np.uint64(1 << 31)
        return v.astype(np.float64) / float(1 << 31)
    x = (gx + 0.15 + 0.7 * unit(1)) * SPACING
    y = (gy + 0.15 + 0.7 * unit(2)) * SPACING
    return np.stack([x.ravel(), y.ravel()], 1), unit(3).ravel(), unit(4).ravel(), unit(5).ravel()


def tile(x0, y0, w, h, seed, rng):
    """The four channels of one tile. A pixel's nearest centres lie in the 5×5 grid cells around its own."""
    gx0, gy0 = int(np.floor(x0 / SPACING)) - 2, int(np.floor(y0 / SPACING)) - 2
    gx1, gy1 = int(np.floor((x0 + w - 1) / SPACING)) + 3, int(np.floor((y0 + h - 1) / SPACING)) + 3
    pts, size, cd3, ki67 = centres(gx0, gy0, gx1, gy1, seed)
    cols = gx1 - gx0
    yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w]
    px, py = xx.ravel() + 0.5, yy.ravel() + 0.5
    cx, cy = (np.floor(px / SPACING).astype(np.int64) - gx0), (np.floor(py / SPACING).astype(np.int64) - gy0)
    near = np.stack([(cy + dy) * cols + (cx + dx) for dy in range(-2, 3) for dx in range(-2, 3)], 1)
    d = np.hypot(pts[near, 0] - px[:, None], pts[near, 1] - py[:, None])
    order = np.argpartition(d, 1, axis=1)[:, :2]
    d2 = np.take_along_axis(d, order, 1)
    swap = d2[:, 0] > d2[:, 1]
    d2[swap] = d2[swap][:, ::-1]
    first = np.take_along_axis(near, order, 1)
    first = np.where(swap, first[:, 1], first[:, 0])
    radius = 12 + 4 * size[first]
    inside = d2[:, 0] < radius
    nucleus = inside & (d2[:, 0] < radius * (0.4 + 0.15 * size[first]))
    border = inside & (d2[:, 1] - d2[:, 0] < 2.0)
    noise = rng.normal(0, 4, (4, w * h))
    out = np.zeros((4, w * h), np.float32)
    out[0] = np.where(nucleus, 1800 + 900 * rng.random(w * h), 30) + noise[0]
    out[1] = np.where(border, 1400, np.where(inside, 90, 20)) + noise[1]
    out[2] = np.where(inside & (cd3[first] < 0.2) & ~nucleus, 900, 15) + noise[2]
    out[3] = np.where(nucleus & (ki67[first] < 0.2), 1200, 15) + noise[3]
    return np.clip(out, 0, 65535).astype(np.uint16).reshape(4, h, w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--width', type=int, required=True)
    ap.add_argument('--height', type=int, required=True)
    ap.add_argument('--tissue', default='0,0,1,1', help='x0,y0,x1,y1 as fractions of the slide')
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    W, H = a.width, a.height
    fx0, fy0, fx1, fy1 = (float(v) for v in a.tissue.split(','))
    tx0, ty0, tx1, ty1 = int(fx0 * W), int(fy0 * H), int(fx1 * W), int(fy1 * H)
    levels = [np.zeros((4, -(-H // f), -(-W // f)), np.float32) for f in (8, 64)]
    # Level 0 goes to a scratch file (tifffile writes a slide page by page, channel after channel, and a
    # tile's four channels are made together), so memory holds a tile and the small levels.
    scratch = np.lib.format.open_memmap(a.out + '.scratch.npy', mode='w+', dtype=np.uint16, shape=(4, H, W))
    for y0 in range(0, H, TILE):
        for x0 in range(0, W, TILE):
            w, h = min(TILE, W - x0), min(TILE, H - y0)
            if not (x0 < tx1 and x0 + w > tx0 and y0 < ty1 and y0 + h > ty0):
                continue  # glass (the scratch file starts as zeros)
            t = tile(x0, y0, w, h, a.seed, np.random.default_rng([a.seed, x0, y0]))
            yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w]
            t[:, ~((xx >= tx0) & (xx < tx1) & (yy >= ty0) & (yy < ty1))] = 0
            scratch[:, y0:y0 + h, x0:x0 + w] = t
            full = np.zeros((4, TILE, TILE), np.float32)
            full[:, :h, :w] = t
            for lv, f in zip(levels, (8, 64)):
                # Tiles start on multiples of 512, so a level's cells never straddle two tiles.
                sums = full.reshape(4, TILE // f, f, TILE // f, f).sum((2, 4))
                ly, lx = y0 // f, x0 // f
                part = lv[:, ly:ly + TILE // f, lx:lx + TILE // f]
                part += sums[:, :part.shape[1], :part.shape[2]]
        sys.stderr.write(f'\rrows {min(H, y0 + TILE)}/{H}')
    sys.stderr.write('\n')

    with tifffile.TiffWriter(a.out, bigtiff=True) as tw:
        tw.write(scratch, tile=(TILE, TILE), compression='zlib', subifds=2,
                 metadata={'axes': 'CYX', 'Channel': {'Name': CHANNELS}, 'PhysicalSizeX': 0.5, 'PhysicalSizeY': 0.5})
        for lv, f in zip(levels, (8, 64)):
            lv /= float(f * f)
            tw.write(lv.astype(np.uint16), tile=(TILE, TILE), compression='zlib', subfiletype=1)
    del scratch
    os.remove(a.out + '.scratch.npy')


if __name__ == '__main__':
    main()
