"""DeepCell itself, as the oracle for Tessel's tests and bench/deepcell.ts. Runs in DeepCell's environment
(infra/python/requirements-deepcell.txt, Python 3.10; `npx tsx infra/deepcell-env.ts`).

  build-mesmer --out DIR [--seed 7]
      Mesmer's network as deepcell 0.12.10 builds it (PanopticNet, ResNet50 backbone, four semantic heads with
      1, 3, 1, 3 classes, location layer) with seeded random weights — the real MultiplexSegmentation weights need
      a DeepCell access token — saved as a Keras SavedModel folder.
  mesmer --model DIR --image NPY [--raw-out NPZ] [--masks-out NPZ] [--batch-size 4] [--kwargs JSON] [--warm-up]
      On an H×W×2 raw image (.npy, or Tessel's NPZ intermediate): --raw-out gets the raw heads through Mesmer's own
      steps (`_preprocess`, `_tile_input`, `_batch_predict`, `_untile_output`) as arr_0…arr_3 (1,H,W,C), the layout
      of Tessel's raw_predictions.npz; --masks-out gets `Mesmer.predict(compartment='both')`'s masks as whole_cell /
      nuclear (H,W) int32, with --kwargs {"whole_cell": {...}, "nuclear": {...}} merged over Mesmer's post-processing
      defaults. Prints JSON timings.
  watershed --predictions NPZ --out NPZ [--kwargs JSON]
      deepcell_toolbox's deep_watershed on raw_predictions.npz (arr_0…arr_3), with Mesmer's default kwargs per
      compartment (as Mesmer.predict passes them); prints the compute time only (no file I/O).
"""
import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')

import numpy as np  # noqa: E402

# Mesmer.predict's own defaults (deepcell/applications/mesmer.py, 0.12.10).
WHOLE_CELL = dict(maxima_threshold=0.075, maxima_smooth=0, interior_threshold=0.2, interior_smooth=2,
                  small_objects_threshold=15, fill_holes_threshold=15, radius=2)
NUCLEAR = dict(WHOLE_CELL, maxima_threshold=0.1)


def build_mesmer(a):
    import tensorflow as tf
    from deepcell.model_zoo.panopticnet import PanopticNet
    tf.keras.utils.set_random_seed(a.seed)
    model = PanopticNet('resnet50', input_shape=(256, 256, 2), norm_method=None, num_semantic_heads=4,
                        num_semantic_classes=[1, 3, 1, 3], location=True, include_top=True, use_imagenet=False)
    tmp = a.out.rstrip('/') + '.part'
    model.save(tmp, include_optimizer=False)
    os.replace(tmp, a.out)
    print(json.dumps({'saved': a.out, 'params': int(model.count_params())}))


def load(path):
    import tensorflow as tf
    import deepcell.layers as layers
    custom = {k: v for k, v in vars(layers).items() if isinstance(v, type) and issubclass(v, tf.keras.layers.Layer)}
    return tf.keras.models.load_model(path, compile=False, custom_objects=custom)


def read_image(path):
    """H×W×2 float32 from a .npy, or from a Tessel NPZ intermediate (`input_channels`)."""
    return (np.load(path)['input_channels'] if path.endswith('.npz') else np.load(path)).astype(np.float32)


def mesmer(a):
    from deepcell.applications import Mesmer
    kwargs = json.loads(a.kwargs) if a.kwargs else {}
    image = read_image(a.image)[None]
    t = time.perf_counter()
    app = Mesmer(load(a.model))
    times = {'load_s': time.perf_counter() - t}
    if a.raw_out:
        t = time.perf_counter()
        x = app._preprocess(image)
        tiles, info = app._tile_input(x, pad_mode='constant')
        heads = app._untile_output(app._batch_predict(tiles, batch_size=a.batch_size), info)
        times['raw_s'] = time.perf_counter() - t
        times['tiles'] = int(tiles.shape[0])
        np.savez(a.raw_out, **{f'arr_{k}': h.astype(np.float32) for k, h in enumerate(heads)})
    if a.masks_out:
        if a.warm_up:  # trace Keras' predict function first, so the timing is of the steady state
            app.predict(image[:, :256, :256], batch_size=a.batch_size, compartment='both')
        t = time.perf_counter()
        masks = app.predict(image, batch_size=a.batch_size, compartment='both',
                            postprocess_kwargs_whole_cell=kwargs.get('whole_cell', {}),
                            postprocess_kwargs_nuclear=kwargs.get('nuclear', {}))
        times['predict_s'] = time.perf_counter() - t
        np.savez(a.masks_out, whole_cell=masks[0, ..., 0].astype(np.int32), nuclear=masks[0, ..., 1].astype(np.int32))
    print(json.dumps(times))


def watershed(a):
    from deepcell_toolbox.deep_watershed import deep_watershed
    kwargs = json.loads(a.kwargs) if a.kwargs else {}
    p = np.load(a.predictions)
    heads = [p[f'arr_{k}'] for k in range(4)]
    t = time.perf_counter()
    whole = deep_watershed([heads[0], heads[1][..., 1:2]], **dict(WHOLE_CELL, **kwargs.get('whole_cell', {})))
    nuclear = deep_watershed([heads[2], heads[3][..., 1:2]], **dict(NUCLEAR, **kwargs.get('nuclear', {})))
    compute_s = time.perf_counter() - t
    np.savez(a.out, whole_cell=whole[0, ..., 0].astype(np.int32), nuclear=nuclear[0, ..., 0].astype(np.int32))
    print(json.dumps({'compute_s': compute_s}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build-mesmer')
    b.add_argument('--out', required=True)
    b.add_argument('--seed', type=int, default=7)
    m = sub.add_parser('mesmer')
    m.add_argument('--model', required=True)
    m.add_argument('--image', required=True)
    m.add_argument('--raw-out')
    m.add_argument('--masks-out')
    m.add_argument('--batch-size', type=int, default=4)
    m.add_argument('--kwargs')
    m.add_argument('--warm-up', action='store_true', help='run predict once on a 256² crop before timing it')
    w = sub.add_parser('watershed')
    w.add_argument('--predictions', required=True)
    w.add_argument('--out', required=True)
    w.add_argument('--kwargs')
    a = ap.parse_args()
    {'build-mesmer': build_mesmer, 'mesmer': mesmer, 'watershed': watershed}[a.cmd](a)
    sys.stdout.flush()


if __name__ == '__main__':
    main()
