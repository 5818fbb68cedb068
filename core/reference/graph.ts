import { encodeOnnxModel, type OnnxInitializer, type OnnxNode } from '../model/onnx/model';
import { derivativeTaps, FEATURE_COUNT, INPUT_CHANNELS, ORDERS, SIGMAS, tapRadius } from './filters';
import { HEADS, type ReferenceWeights } from './network';

/** Output names, Mesmer-style (its Keras heads are `semantic_0`…`semantic_3`). */
export const OUTPUT_NAMES = ['semantic_0', 'semantic_1', 'semantic_2', 'semantic_3'] as const;
export const INPUT_NAME = 'input';
export const OPSET = 13;

/**
 * The reference model as an ONNX graph with Mesmer's contract: `input` N×H×W×2 float32 (NHWC, dynamic
 * N/H/W) → Transpose to NCHW → per scale a grouped 1×k then k×1 Conv (the fixed filter bank) → Concat →
 * 1×1 Conv + Relu → per head a 1×1 Conv, Sigmoid or Softmax(axis=1), Transpose back to NHWC.
 */
export function buildReferenceOnnx(weights: ReferenceWeights, info: { version: string; docString: string }): Uint8Array {
  const nodes: OnnxNode[] = [];
  const inits: OnnxInitializer[] = [];
  nodes.push({ op: 'Transpose', inputs: [INPUT_NAME], outputs: ['x_nchw'], attributes: [{ name: 'perm', ints: [0, 3, 1, 2] }] });
  const scaleOutputs: string[] = [];
  SIGMAS.forEach((sigma, s) => {
    const r = tapRadius(sigma), k = 2 * r + 1;
    const taps = [0, 1, 2].map((o) => derivativeTaps(sigma, o));
    // Horizontal: group per input channel, outputs (c, jx).
    const wh = new Float32Array(INPUT_CHANNELS * ORDERS * k);
    for (let c = 0; c < INPUT_CHANNELS; c++) for (let jx = 0; jx < ORDERS; jx++) wh.set(taps[jx], (c * ORDERS + jx) * k);
    inits.push({ name: `bank${s}_x`, dims: [INPUT_CHANNELS * ORDERS, 1, 1, k], data: wh });
    nodes.push({ op: 'Conv', inputs: ['x_nchw', `bank${s}_x`], outputs: [`bank${s}_h`], attributes: [
      { name: 'group', int: INPUT_CHANNELS }, { name: 'kernel_shape', ints: [1, k] }, { name: 'pads', ints: [0, r, 0, r] }] });
    // Vertical: group per (c, jx), outputs (c, jx, iy).
    const wv = new Float32Array(INPUT_CHANNELS * ORDERS * ORDERS * k);
    for (let g = 0; g < INPUT_CHANNELS * ORDERS; g++) for (let iy = 0; iy < ORDERS; iy++) wv.set(taps[iy], (g * ORDERS + iy) * k);
    inits.push({ name: `bank${s}_y`, dims: [INPUT_CHANNELS * ORDERS * ORDERS, 1, k, 1], data: wv });
    nodes.push({ op: 'Conv', inputs: [`bank${s}_h`, `bank${s}_y`], outputs: [`bank${s}`], attributes: [
      { name: 'group', int: INPUT_CHANNELS * ORDERS }, { name: 'kernel_shape', ints: [k, 1] }, { name: 'pads', ints: [r, 0, r, 0] }] });
    scaleOutputs.push(`bank${s}`);
  });
  nodes.push({ op: 'Concat', inputs: scaleOutputs, outputs: ['features'], attributes: [{ name: 'axis', int: 1 }] });
  inits.push({ name: 'hidden_w', dims: [weights.hidden, FEATURE_COUNT, 1, 1], data: weights.w1 });
  inits.push({ name: 'hidden_b', dims: [weights.hidden], data: weights.b1 });
  nodes.push({ op: 'Conv', inputs: ['features', 'hidden_w', 'hidden_b'], outputs: ['hidden_pre'], attributes: [{ name: 'kernel_shape', ints: [1, 1] }] });
  nodes.push({ op: 'Relu', inputs: ['hidden_pre'], outputs: ['hidden'] });
  HEADS.forEach((head, k) => {
    const w = weights.w2.slice(head.row * weights.hidden, (head.row + head.channels) * weights.hidden);
    inits.push({ name: `head${k}_w`, dims: [head.channels, weights.hidden, 1, 1], data: w });
    inits.push({ name: `head${k}_b`, dims: [head.channels], data: weights.b2.slice(head.row, head.row + head.channels) });
    nodes.push({ op: 'Conv', inputs: ['hidden', `head${k}_w`, `head${k}_b`], outputs: [`head${k}_logits`], attributes: [{ name: 'kernel_shape', ints: [1, 1] }] });
    nodes.push(head.activation === 'sigmoid'
      ? { op: 'Sigmoid', inputs: [`head${k}_logits`], outputs: [`head${k}_nchw`] }
      : { op: 'Softmax', inputs: [`head${k}_logits`], outputs: [`head${k}_nchw`], attributes: [{ name: 'axis', int: 1 }] });
    nodes.push({ op: 'Transpose', inputs: [`head${k}_nchw`], outputs: [OUTPUT_NAMES[k]], attributes: [{ name: 'perm', ints: [0, 2, 3, 1] }] });
  });
  return encodeOnnxModel({
    opset: OPSET,
    producerName: 'tessel',
    producerVersion: info.version,
    docString: info.docString,
    graph: {
      name: 'tessel_reference',
      nodes,
      initializers: inits,
      inputs: [{ name: INPUT_NAME, shape: ['N', 'H', 'W', INPUT_CHANNELS] }],
      outputs: HEADS.map((h, k) => ({ name: OUTPUT_NAMES[k], shape: ['N', 'H', 'W', h.channels] })),
    },
  });
}
