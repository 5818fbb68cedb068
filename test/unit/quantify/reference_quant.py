"""Seeded fixtures and an independent reference for Tessel's QuPath-style quantification.

Usage: reference_quant.py OUTDIR [--seed N] [--size N] [--um 0.5]

Writes into OUTDIR:
  wholecell.npy, nucleus.npy (int32 H x W), channels.npy (uint16 C x H x W)
  image.ome.tiff (tifffile, OME-XML with channel names and PhysicalSizeX/Y = --um),
  image_uncal.ome.tiff (same pixels, no physical size), wholecell.tiff, nucleus.tiff (int32)
  expected.json: {channels, umPerPixel, labels, nucleusLabels, unpairedNuclei, cellsWithoutNucleus,
                  columns: {QuPath column name: [value or null per cell]}}

The fixture has irregular touching cells (noisy Voronoi), cells without a nucleus, a nucleus
spanning two cells, a nucleus outside every cell, holes, a hole touching the outside at a corner,
a two-piece (diagonal) cell, cells on the image border, nucleus labels unrelated to cell labels and
three uint16 channels (one with many ties).

Every column is recomputed here from the pixels with numpy / scipy / scikit-image, independently of
Tessel's tracer: areas, centroids and intensity statistics directly from pixel sets; perimeters by
counting label/non-label pixel edges; the exterior ring from scipy's binary_fill_holes; the convex
hull by qhull (scipy.spatial.ConvexHull) over pixel corners; the minimum bounding circle by Welzl's
algorithm; the minimum width by brute force over hull edges.
"""
import argparse
import json
import math
import os
import random

import numpy as np
import tifffile
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull
from skimage.measure import label as cc_label

CHANNELS = ["DAPI", "CD3", "PanCK"]


def make_fixture(seed: int, size: int):
    rng = np.random.default_rng(seed)
    h = w = size
    n = max(8, size * size // 400)
    pts = rng.uniform(0, size, (n, 2))
    radius = rng.uniform(6, 13, n)
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.stack([np.hypot(yy - p[0], xx - p[1]) for p in pts])
    nearest = d.argmin(0)
    dmin = d.min(0)
    noise = ndi.gaussian_filter(rng.normal(size=(h, w)), 2.0)
    noise /= np.abs(noise).max() + 1e-9
    inside = dmin < radius[nearest] * (1 + 0.35 * noise)
    ids = rng.choice(np.arange(1, 50 * n), size=n, replace=False).astype(np.int32)
    cell = np.where(inside, ids[nearest], 0).astype(np.int32)

    # Holes: a 2x2 block inside a few cells.
    for k in range(0, n, 5):
        r, c = int(pts[k, 0]) + 2, int(pts[k, 1]) + 2
        if r + 3 < h and c + 3 < w and np.all(cell[r - 1:r + 3, c - 1:c + 3] == ids[k]):
            cell[r:r + 2, c:c + 2] = 0

    # Hand-made shapes in one corner: a ring whose hole touches the outside at a corner, and a
    # two-piece cell whose pieces meet diagonally.
    special = np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 1, 0, 0, 1, 0, 2, 2, 0],
        [0, 1, 0, 1, 1, 0, 2, 2, 0],
        [0, 1, 1, 0, 0, 0, 0, 0, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    ])
    r0, c0 = h - special.shape[0], w - special.shape[1]
    block = cell[r0:, c0:]
    block[special == 1] = 900001
    block[special == 2] = 900002
    block[(special == 0)] = 0

    # Nuclei: discs at most seeds, labels unrelated to cell labels, some cells without one.
    nuc = np.zeros((h, w), np.int32)
    nuc_ids = rng.choice(np.arange(1, 50 * n), size=n + 3, replace=False).astype(np.int32)
    for k in range(n):
        if rng.random() < 0.2:
            continue
        rr = rng.uniform(2.0, 4.0)
        disc = np.hypot(yy - pts[k, 0] - rng.uniform(-1, 1), xx - pts[k, 1] - rng.uniform(-1, 1)) < rr
        nuc[disc] = nuc_ids[k]
    # A nucleus spanning the border between the two closest seeds.
    dd = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)) + np.eye(n) * 1e9
    a, b = np.unravel_index(dd.argmin(), dd.shape)
    mid = (pts[a] + pts[b]) / 2
    nuc[np.hypot(yy - mid[0], xx - mid[1]) < 3.0] = nuc_ids[n]
    # A nucleus in the background, if there is background far from cells.
    bg = ndi.binary_erosion(cell == 0, iterations=3)
    if bg.any():
        r, c = np.argwhere(bg)[len(np.argwhere(bg)) // 2]
        nuc[r - 1:r + 2, c - 1:c + 2] = nuc_ids[n + 1]
    # The ring cell's nucleus (in its hole-free part) and a tiny nucleus on the two-piece cell.
    nuc[r0 + 1, c0 + 1:c0 + 3] = nuc_ids[n + 2]
    nuc[r0 + 2:r0 + 4, c0 + 6:c0 + 8] = 77

    # Channels: smooth blobs plus noise; the last one is coarsely quantised so medians meet ties.
    chans = []
    for ci in range(len(CHANNELS)):
        base = ndi.gaussian_filter(rng.gamma(2.0, 1.0, (h, w)), 3.0)
        img = base / base.max() * 40000 + rng.normal(0, 800, (h, w)) + 2000
        if ci == 2:
            img = np.round(img / 500) * 500
        chans.append(np.clip(img, 0, 65535).astype(np.uint16))
    return cell, nuc, np.stack(chans)


def welzl(points, seed=0):
    pts = [tuple(p) for p in points]
    random.Random(seed).shuffle(pts)

    def circle2(a, b):
        cx, cy = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        return cx, cy, math.hypot(a[0] - cx, a[1] - cy)

    def circle3(a, b, c):
        d = 2 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]))
        if abs(d) < 1e-12:
            return max((circle2(a, b), circle2(a, c), circle2(b, c)), key=lambda t: t[2])
        ux = ((a[0] ** 2 + a[1] ** 2) * (b[1] - c[1]) + (b[0] ** 2 + b[1] ** 2) * (c[1] - a[1]) + (c[0] ** 2 + c[1] ** 2) * (a[1] - b[1])) / d
        uy = ((a[0] ** 2 + a[1] ** 2) * (c[0] - b[0]) + (b[0] ** 2 + b[1] ** 2) * (a[0] - c[0]) + (c[0] ** 2 + c[1] ** 2) * (b[0] - a[0])) / d
        return ux, uy, math.hypot(a[0] - ux, a[1] - uy)

    def inside(c, p):
        return math.hypot(p[0] - c[0], p[1] - c[1]) <= c[2] + 1e-9

    def trivial(r):
        if not r:
            return 0.0, 0.0, 0.0
        if len(r) == 1:
            return r[0][0], r[0][1], 0.0
        if len(r) == 2:
            return circle2(r[0], r[1])
        return circle3(*r)

    def rec(p, r, n):
        if n == 0 or len(r) == 3:
            return trivial(r)
        q = p[n - 1]
        c = rec(p, r, n - 1)
        if inside(c, q):
            return c
        return rec(p, r + [q], n - 1)

    return rec(pts, [], len(pts))[2]


def min_width_bruteforce(hull_pts):
    best = math.inf
    m = len(hull_pts)
    for i in range(m):
        a, b = hull_pts[i], hull_pts[(i + 1) % m]
        e = b - a
        dist = np.abs(e[0] * (hull_pts[:, 1] - a[1]) - e[1] * (hull_pts[:, 0] - a[0])) / np.hypot(*e)
        best = min(best, dist.max())
    return best


def edge_count(m):
    p = np.pad(m, 1)
    return int(np.sum(p[1:, :] != p[:-1, :]) + np.sum(p[:, 1:] != p[:, :-1]))


def shape_of(m, um):
    rows, cols = np.nonzero(m)
    area = len(rows)
    corners = np.concatenate([np.stack([cols + dx, rows + dy], 1) for dx in (0, 1) for dy in (0, 1)]).astype(float)
    hull = ConvexHull(np.unique(corners, axis=0))
    hull_pts = hull.points[hull.vertices]
    pieces = cc_label(m, connectivity=1).max()
    if pieces == 1:
        filled = ndi.binary_fill_holes(m)  # 4-connected background, as the tracer's holes
        circ = 4 * math.pi * filled.sum() / edge_count(filled) ** 2
    else:
        circ = None
    return {
        "Area": area * um * um,
        "Length": edge_count(m) * um,
        "Circularity": circ,
        "Solidity": area / hull.volume,
        "Max diameter": 2 * welzl(hull_pts) * um,
        "Min diameter": min_width_bruteforce(hull_pts) * um,
    }


def stats_of(values):
    if values.size == 0:
        return [None] * 5
    v = values.astype(np.float64)
    std = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return [float(v.mean()), float(np.median(v)), float(v.min()), float(v.max()), std]


def pair(cell, nuc):
    cell_ids = [int(x) for x in np.unique(cell) if x != 0]
    best = {}
    for nid in [int(x) for x in np.unique(nuc) if x != 0]:
        under = cell[nuc == nid]
        inside = under[under != 0]
        if inside.size == 0:
            continue
        labels, counts = np.unique(inside, return_counts=True)
        k = int(np.argmax(counts))  # first max = lowest label on ties
        covered = int(inside.size == under.size and len(labels) == 1)
        key = (covered, int(counts[k]), -nid)
        c = int(labels[k])
        if c not in best or key > best[c][0]:
            best[c] = (key, nid)
    return cell_ids, {c: v[1] for c, v in best.items()}


def reference(cell, nuc, chans, um):
    h, w = cell.shape
    cell_ids, paired = pair(cell, nuc)
    u = "µm" if um != 1.0 else "px"
    cols = {}

    def put(name, value):
        cols.setdefault(name, []).append(value)

    # Membrane: a 4-neighbour inside the image with another whole-cell label.
    diff = np.zeros((h, w), bool)
    diff[1:, :] |= cell[1:, :] != cell[:-1, :]
    diff[:-1, :] |= cell[:-1, :] != cell[1:, :]
    diff[:, 1:] |= cell[:, 1:] != cell[:, :-1]
    diff[:, :-1] |= cell[:, :-1] != cell[:, 1:]
    objs = ndi.find_objects(cell)
    for cid in cell_ids:
        m = cell == cid
        rows, cols_ = np.nonzero(m)
        put(f"Centroid X {u}", float((cols_ + 0.5).mean() * um))
        put(f"Centroid Y {u}", float((rows + 0.5).mean() * um))
        nid = paired.get(cid)
        nm = (nuc == nid) if nid is not None else None
        cs = shape_of(m, um)
        ns = shape_of(nm, um) if nm is not None else None
        for prefix, s in (("Nucleus", ns), ("Cell", cs)):
            for key, unit in (("Area", f" {u}^2"), ("Length", f" {u}"), ("Circularity", ""), ("Solidity", ""),
                              ("Max diameter", f" {u}"), ("Min diameter", f" {u}")):
                put(f"{prefix}: {key}{unit}", None if s is None else s[key])
        put("Nucleus/Cell area ratio", None if ns is None else min(1.0, max(0.0, ns["Area"] / cs["Area"])))
        compartments = {
            "Nucleus": nm if nm is not None else np.zeros_like(m),
            "Cytoplasm": m & ~nm if nm is not None else m,
            "Membrane": m & diff,
            "Cell": m,
        }
        for comp, cm in compartments.items():
            for ci, name in enumerate(CHANNELS):
                vals = chans[ci][cm] if (comp != "Nucleus" or nm is not None) else np.array([])
                for stat, v in zip(["Mean", "Median", "Min", "Max", "Std.Dev."], stats_of(vals)):
                    put(f"{comp}: {name}: {stat}", v)
    del objs
    return {
        "channels": CHANNELS,
        "umPerPixel": um,
        "labels": cell_ids,
        "nucleusLabels": [paired.get(c, 0) for c in cell_ids],
        "unpairedNuclei": len([x for x in np.unique(nuc) if x != 0]) - len(paired),
        "cellsWithoutNucleus": len(cell_ids) - len(paired),
        "columns": cols,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--um", type=float, default=0.5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cell, nuc, chans = make_fixture(a.seed, a.size)
    np.save(os.path.join(a.out, "wholecell.npy"), cell)
    np.save(os.path.join(a.out, "nucleus.npy"), nuc)
    np.save(os.path.join(a.out, "channels.npy"), chans)
    meta = {"axes": "CYX", "Channel": {"Name": CHANNELS}}
    tifffile.imwrite(os.path.join(a.out, "image.ome.tiff"), chans, ome=True, photometric="minisblack",
                     metadata={**meta, "PhysicalSizeX": a.um, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": a.um, "PhysicalSizeYUnit": "µm"})
    tifffile.imwrite(os.path.join(a.out, "image_uncal.ome.tiff"), chans, ome=True, photometric="minisblack", metadata=meta)
    tifffile.imwrite(os.path.join(a.out, "wholecell.tiff"), cell, compression="zlib")
    tifffile.imwrite(os.path.join(a.out, "nucleus.tiff"), nuc, compression="zlib")
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(reference(cell, nuc, chans, a.um), f)
    with open(os.path.join(a.out, "expected_px.json"), "w") as f:
        json.dump(reference(cell, nuc, chans, 1.0), f)


if __name__ == "__main__":
    main()
