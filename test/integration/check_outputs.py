"""Independent check of a Tessel workspace's outputs with numpy, tifffile and csv (no Tessel code).

Usage: check_outputs.py <workspace-root> <image-name>...  → prints one JSON object per image name.
"""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import tifffile

root = Path(sys.argv[1])
report = {}
for name in sys.argv[2:]:
    r = {}
    with tifffile.TiffFile(root / "OMETIFF" / f"{name}.ome.tiff") as tf:
        page = tf.series[0]
        r["image_shape"] = list(page.shape)
    with np.load(root / "NPZ_INTERMEDIATE" / f"{name}.npz") as z:
        r["npz_keys"] = sorted(z.files)
        a = z["input_channels"]
        r["npz_shape"] = list(a.shape)
        r["npz_dtype"] = str(a.dtype)
        r["npz_finite"] = bool(np.isfinite(a).all())
        r["npz_channel_max"] = [float(a[..., 0].max()), float(a[..., 1].max())]
    for kind in ("WholeCell", "Nucleus"):
        m = tifffile.imread(root / "SEGMASK" / f"{name}_{kind}Mask.tiff")
        labels = np.unique(m)
        labels = labels[labels != 0]
        r[kind] = {"dtype": str(m.dtype), "shape": list(m.shape), "labels": int(labels.size),
                   "min_label": int(labels.min()) if labels.size else 0, "max_label": int(labels.max()) if labels.size else 0,
                   "label_set": [int(x) for x in labels]}
        if kind == "WholeCell":
            wc = m
    with open(root / "REPORTS" / f"{name}_QUANT.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    r["tsv_rows"] = len(rows)
    r["tsv_columns"] = list(rows[0].keys()) if rows else []
    r["tsv_names"] = sorted(int(row["Name"]) for row in rows)
    # Area and centroid recomputed from the mask for every row: must agree with the report.
    area_col = next(c for c in r["tsv_columns"] if c.startswith("Cell: Area"))
    cx_col = next(c for c in r["tsv_columns"] if c.startswith("Centroid X"))
    cy_col = next(c for c in r["tsv_columns"] if c.startswith("Centroid Y"))
    um = None
    bad = 0
    for row in rows:
        lab = int(row["Name"])
        ys, xs = np.nonzero(wc == lab)
        area_px = ys.size
        if um is None and area_px:
            um = (float(row[area_col]) / area_px) ** 0.5
        scale = um or 1.0
        if abs(float(row[area_col]) - area_px * scale * scale) > 1e-3 * max(1.0, area_px * scale * scale):
            bad += 1
        if abs(float(row[cx_col]) - (xs.mean() + 0.5) * scale) > 1e-3 or abs(float(row[cy_col]) - (ys.mean() + 0.5) * scale) > 1e-3:
            bad += 1
    r["tsv_mismatches"] = bad
    r["um_per_pixel_from_tsv"] = um
    report[name] = r
print(json.dumps(report))
