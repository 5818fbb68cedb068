#!/usr/bin/env python3
"""Small seed inputs for Tessel's fuzz targets, written by independent writers, seeded.

Usage: make_seeds.py OUT_DIR

Writes OUT_DIR/tiff/*.tif (tifffile + imagecodecs: every compression Tessel reads, with and without
predictors, strips and tiles, planar and interleaved, big-endian, BigTIFF, OME-TIFF with channel names,
SubIFD pyramids), OUT_DIR/npz/*.npz (numpy: savez and savez_compressed, several dtypes, Fortran order,
big-endian, 0-d and empty arrays, .npy format 2.0), OUT_DIR/zip/*.zip (Python's zipfile: stored and
deflated, comments, ZIP64, data descriptors). Images are tiny (a few dozen pixels a side) so each fuzz
execution is cheap; the full-size fixtures of test/fixtures/make_tiff_corpus.py are added by the
harness as well.
"""
import io
import os
import sys
import zipfile

import numpy as np
import tifffile

OUT = sys.argv[1]
rng = np.random.default_rng(20241201)
for sub in ('tiff', 'npz', 'zip'):
    os.makedirs(os.path.join(OUT, sub), exist_ok=True)


def img(dtype, c=2, h=13, w=21):
    dt = np.dtype(dtype)
    if dt.kind == 'f':
        return (rng.standard_normal((c, h, w)) * 100).astype(dt)
    info = np.iinfo(dt)
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx * 5 + yy * 3)[None] + rng.integers(0, 9, (c, h, w))).clip(info.min, info.max).astype(dt)


def tif(name, data, **kw):
    tifffile.imwrite(os.path.join(OUT, 'tiff', name + '.tif'), data, **kw)


for comp in (None, 'lzw', 'zlib', 'packbits', 'zstd'):
    tag = comp or 'none'
    for dtype in ('uint8', 'uint16', 'int32', 'float32'):
        tif(f'{tag}-{dtype}-strips', img(dtype), compression=comp, rowsperstrip=4, photometric='minisblack', metadata=None)
    tif(f'{tag}-uint16-tiles', img('uint16', h=40, w=35), compression=comp, tile=(16, 16), photometric='minisblack', metadata=None)
    tif(f'{tag}-uint16-bigendian', img('uint16'), compression=comp, byteorder='>', photometric='minisblack', metadata=None)
    if comp in ('lzw', 'zlib', 'zstd'):
        tif(f'{tag}-uint16-predictor', img('uint16'), compression=comp, predictor=True, photometric='minisblack', metadata=None)
        tif(f'{tag}-float32-fppredictor', img('float32'), compression=comp, predictor=3, photometric='minisblack', metadata=None)
        tif(f'{tag}-uint8-rgb', img('uint8', c=3).transpose(1, 2, 0), compression=comp, predictor=True, photometric='rgb', metadata=None)
tif('planar-rgb', img('uint8', c=3), photometric='rgb', planarconfig='separate', metadata=None)
tif('bigtiff', img('uint16'), bigtiff=True, photometric='minisblack', metadata=None)
tif('ome', img('uint16', c=3), ome=True, compression='zlib', photometric='minisblack',
    metadata={'axes': 'CYX', 'Channel': {'Name': ['DAPI', 'CD45', 'PanCK']}, 'PhysicalSizeX': 0.5, 'PhysicalSizeY': 0.5})
tif('imagej', img('uint16', c=2)[None], imagej=True, metadata={'axes': 'ZCYX', 'unit': 'um'}, resolution=(2.0, 2.0))
with tifffile.TiffWriter(os.path.join(OUT, 'tiff', 'pyramid-subifds.ome.tif')) as tw:
    base = img('uint16', c=1, h=48, w=48)
    tw.write(base, subifds=1, tile=(16, 16), compression='zlib', photometric='minisblack', metadata={'axes': 'CYX'})
    tw.write(base[:, ::2, ::2], subfiletype=1, tile=(16, 16), compression='zlib', photometric='minisblack')


def npz(name, compressed=False, **arrays):
    (np.savez_compressed if compressed else np.savez)(os.path.join(OUT, 'npz', name + '.npz'), **arrays)


npz('input-channels', input_channels=rng.random((9, 7, 2), dtype=np.float32))
npz('input-channels-compressed', True, input_channels=rng.random((9, 7, 2), dtype=np.float32))
npz('predictions', arr_0=rng.random((1, 8, 8, 1), dtype=np.float32), arr_1=rng.random((1, 8, 8, 3), dtype=np.float32))
npz('dtypes', u1=np.arange(5, dtype=np.uint8), i2=np.arange(6, dtype='<i2'), u4=np.arange(3, dtype=np.uint32),
    f8=np.linspace(0, 1, 4), i8=np.arange(4, dtype=np.int64), b=np.array([True, False]))
npz('fortran-bigendian', f=np.asfortranarray(rng.random((3, 4, 2)).astype('>f4')), be=np.arange(6, dtype='>u2').reshape(2, 3))
npz('scalar-empty', s=np.float32(3.5), e=np.zeros((0, 4), np.int32))
with zipfile.ZipFile(os.path.join(OUT, 'npz', 'npy-v2.npz'), 'w') as zf:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, rng.random((4, 3), dtype=np.float32), version=(2, 0))
    zf.writestr('v2.npy', buf.getvalue())
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.arange(5, dtype=np.int16), version=(3, 0))
    zf.writestr('v3.npy', buf.getvalue())


def zf(name, **kw):
    return zipfile.ZipFile(os.path.join(OUT, 'zip', name + '.zip'), 'w', **kw)


with zf('stored') as z:
    z.writestr('a.txt', b'hello ' * 20)
    z.writestr('dir/b.bin', bytes(range(256)))
with zf('deflated', compression=zipfile.ZIP_DEFLATED) as z:
    z.writestr('manifest.json', b'{"schemaVersion": 1, "files": {}}\n')
    z.writestr('segmentation/model.onnx', rng.integers(0, 255, 300, dtype=np.uint8).tobytes())
    z.comment = b'a comment at the end'
with zf('zip64', compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
    with z.open('big.bin', 'w', force_zip64=True) as f:
        f.write(b'x' * 1000)
# A data descriptor: zipfile writes one when the output cannot seek.
class Unseekable(io.RawIOBase):
    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


sink = Unseekable()
with zipfile.ZipFile(sink, 'w', compression=zipfile.ZIP_DEFLATED) as z:
    with z.open('streamed.txt', 'w') as f:
        f.write(b'streamed ' * 30)
with open(os.path.join(OUT, 'zip', 'data-descriptor.zip'), 'wb') as f:
    f.write(bytes(sink.buf))
