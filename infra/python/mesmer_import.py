"""Convert a Keras Mesmer model (SavedModel folder, .h5 or Keras 2 .keras) to ONNX, for `tessel model import-mesmer`.

Runs in DeepCell's own environment (infra/python/requirements-deepcell.txt, Python 3.10). It

1. loads the model with tf.keras (deepcell's layers registered, as deepcell's Mesmer loads MultiplexSegmentation),
2. checks it has Mesmer's shape: one NHWC input with 2 channels (nuclear, membrane) and square or dynamic tiles,
   four NHWC outputs with 1, 3, 1, 3 channels (whole-cell inner distance, whole-cell pixelwise, nuclear inner
   distance, nuclear pixelwise — Mesmer's order),
3. converts it with tf2onnx (`from_keras`, NHWC kept at the boundary, the batch dimension fixed or dynamic as the
   model has it), and with --half also writes float16 weights (onnxconverter-common, float32 inputs/outputs kept),
4. computes the test tensors: `--test-image` (a normalised H×W×2 image) cut into tiles of the model's size, and
   TensorFlow's outputs for them (`model.predict`, as deepcell's `_batch_predict` does).

Writes into --out-dir: model.onnx, [model_fp16.onnx], test_input.npy, test_output_<k>.npy and result.json. On
failure result.json says {"ok": false, "kind": "unreadable" | "not-mesmer" | "conversion", "message": ...} and the
exit status is 2; Tessel turns that into one line naming the file.
"""
import argparse
import json
import os
import sys
import warnings
import zipfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')

MESMER_CHANNELS = [1, 3, 1, 3]
DEFAULT_TILE = 256


class ImportFailure(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def dims(shape):
    return [None if d is None else int(d) for d in shape]


def load_model(path):
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, 'saved_model.pb')):
            raise ImportFailure('unreadable', 'is a folder without saved_model.pb (not a TensorFlow SavedModel)')
    elif zipfile.is_zipfile(path):
        raise ImportFailure('unreadable', 'is a Keras 3 .keras archive, which TensorFlow 2.8 cannot read: re-save it '
                            'as a SavedModel folder (model.export) or as HDF5 (.h5)')
    import tensorflow as tf
    import deepcell.layers as layers
    custom = {name: obj for name, obj in vars(layers).items() if isinstance(obj, type) and issubclass(obj, tf.keras.layers.Layer)}
    try:
        return tf.keras.models.load_model(path, compile=False, custom_objects=custom)
    except Exception as e:  # TensorFlow raises many types for corrupt files
        first = str(e).strip().split('\n')[0][:300] or type(e).__name__
        raise ImportFailure('unreadable', f'cannot be read as a Keras model ({type(e).__name__}: {first})')


def check_mesmer_shape(model):
    """Input/output shapes, or ImportFailure('not-mesmer') saying what differs from Mesmer."""
    if len(model.inputs) != 1:
        raise ImportFailure('not-mesmer', f'has {len(model.inputs)} inputs; Mesmer has one (N, H, W, 2)')
    shape = dims(model.inputs[0].shape)
    if len(shape) != 4:
        raise ImportFailure('not-mesmer', f'input has shape {shape}; Mesmer takes (N, H, W, 2)')
    if shape[3] != 2:
        if shape[1] == 2:
            raise ImportFailure('not-mesmer', f'input {shape} is channels-first (NCHW); Mesmer takes NHWC (N, H, W, 2)')
        raise ImportFailure('not-mesmer', f'input has {shape[3]} channels {shape}; Mesmer takes 2 (nuclear, membrane)')
    if shape[1] != shape[2]:
        raise ImportFailure('not-mesmer', f'input tiles are {shape[1]}×{shape[2]}; Tessel tiles are square (or dynamic)')
    tile = shape[1] or DEFAULT_TILE
    outs = [dims(o.shape) for o in model.outputs]
    channels = [o[-1] if len(o) == 4 else None for o in outs]
    if len(outs) != 4 or channels != MESMER_CHANNELS:
        if len(outs) == 4 and all(len(o) == 4 for o in outs) and [o[1] for o in outs] == MESMER_CHANNELS:
            raise ImportFailure('not-mesmer', f'outputs {outs} are channels-first (NCHW); Mesmer\'s are NHWC')
        raise ImportFailure('not-mesmer', f'has {len(outs)} outputs with channels {channels}; Mesmer has four heads with 1, 3, 1, 3 '
                            '(whole-cell inner distance, whole-cell pixelwise, nuclear inner distance, nuclear pixelwise)')
    for o in outs:
        if o[1] not in (None, shape[1]) or o[2] not in (None, shape[2]):
            raise ImportFailure('not-mesmer', f'output {o} is not the size of the input {shape}')
    return shape, outs, tile


def test_tiles(image, tile, batch):
    """`batch` tiles of `tile` px cut from the normalised test image along its diagonal (reflect-padded if small)."""
    import numpy as np
    h, w = image.shape[:2]
    if h < tile or w < tile:
        image = np.pad(image, ((0, max(0, tile - h)), (0, max(0, tile - w)), (0, 0)), mode='symmetric')
        h, w = image.shape[:2]
    tiles = []
    for k in range(batch):
        f = 0 if batch == 1 else k / (batch - 1)
        y, x = int(round(f * (h - tile))), int(round(f * (w - tile)))
        tiles.append(image[y:y + tile, x:x + tile, :])
    return np.ascontiguousarray(np.stack(tiles).astype(np.float32))


def convert(model, shape, half, opset):
    import tensorflow as tf
    import tf2onnx
    name = model.inputs[0].name.split(':')[0]
    spec = (tf.TensorSpec(shape, tf.float32, name=name),)
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    except Exception as e:
        first = str(e).strip().split('\n')[0][:300] or type(e).__name__
        raise ImportFailure('conversion', f'tf2onnx could not convert it ({type(e).__name__}: {first})')
    # tf2onnx keeps an op it cannot map as a node of the TensorFlow op's name; the checker names it.
    import onnx
    try:
        onnx.checker.check_model(proto)
    except Exception as e:
        first = str(e).strip().split('\n')[0][:300]
        raise ImportFailure('conversion', f'tf2onnx could not express every operation in ONNX opset {opset} ({first})')
    return proto, to_float16(proto) if half else None


def to_float16(proto):
    """float16 weights and activations, float32 inputs and outputs (so Tessel's pipeline is unchanged)."""
    from onnxconverter_common import float16
    return float16.convert_float_to_float16(proto, keep_io_types=True)


def progress(message):
    print(f'progress: {message}', flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True)
    ap.add_argument('--out-dir', required=True)
    ap.add_argument('--test-image', required=True, help='normalised H×W×2 float32 .npy the test tiles are cut from')
    ap.add_argument('--test-tiles', type=int, default=2, help='tiles in the test input when the batch is dynamic')
    ap.add_argument('--half', action='store_true')
    ap.add_argument('--opset', type=int, default=13)
    a = ap.parse_args()
    result_path = os.path.join(a.out_dir, 'result.json')
    try:
        import numpy as np
        progress(f'loading {os.path.basename(os.path.normpath(a.model))} with tensorflow')
        model = load_model(a.model)
        shape, outs, tile = check_mesmer_shape(model)
        progress(f'input {shape}, heads {[o[-1] for o in outs]}: Mesmer-shaped; converting with tf2onnx (opset {a.opset})')
        proto, fp16 = convert(model, shape, a.half, a.opset)
        import onnx
        onnx.save(proto, os.path.join(a.out_dir, 'model.onnx'))
        if fp16 is not None:
            onnx.save(fp16, os.path.join(a.out_dir, 'model_fp16.onnx'))
        x = test_tiles(np.load(a.test_image), tile, shape[0] or a.test_tiles)
        np.save(os.path.join(a.out_dir, 'test_input.npy'), x)
        progress(f'computing the expected outputs of {len(x)} test tiles with tensorflow')
        ys = model.predict(x, batch_size=len(x), verbose=0)
        for k, y in enumerate(ys):
            np.save(os.path.join(a.out_dir, f'test_output_{k}.npy'), np.ascontiguousarray(y.astype(np.float32)))
        import tensorflow as tf, tf2onnx, deepcell
        versions = {'tensorflow': tf.__version__, 'tf2onnx': tf2onnx.__version__, 'onnx': onnx.__version__, 'deepcell': deepcell.__version__}
        if fp16 is not None:
            import onnxconverter_common
            versions['onnxconverter_common'] = onnxconverter_common.__version__
        names = [o.name for o in proto.graph.output]
        result = {
            'ok': True,
            'input': {'name': proto.graph.input[0].name, 'shape': shape},
            'outputs': [{'name': n, 'shape': s} for n, s in zip(names, outs)],
            'tile': tile, 'opset': a.opset, 'versions': versions,
        }
        code = 0
    except ImportFailure as e:
        result, code = {'ok': False, 'kind': e.kind, 'message': str(e)}, 2
    with open(result_path + '.part', 'w') as f:
        json.dump(result, f)
    os.replace(result_path + '.part', result_path)
    sys.exit(code)


if __name__ == '__main__':
    main()
