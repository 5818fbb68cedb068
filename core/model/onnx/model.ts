import { ProtoWriter } from './protobuf';

/**
 * Builders for the parts of ONNX's `ModelProto` the reference model needs: float32 initializers
 * stored as `raw_data`, nodes with int/float/ints attributes, graph inputs/outputs with symbolic
 * dimensions. Field numbers follow onnx/onnx.proto (IR version 8).
 * Reference: https://github.com/onnx/onnx/blob/main/onnx/onnx.proto
 */

/** A dimension: a fixed size or a symbolic name (dynamic). */
export type OnnxDim = number | string;

export type OnnxAttribute = { name: string } & ({ int: number } | { float: number } | { ints: number[] } | { string: string });

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: OnnxAttribute[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

export interface OnnxValueInfo {
  name: string;
  shape: OnnxDim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModelOptions {
  graph: OnnxGraph;
  opset: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

const IR_VERSION = 8;
const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) => type.message(1, (tensor) => {
    tensor.int(1, FLOAT);
    tensor.message(2, (shape) => {
      for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
    });
  }));
}

function writeAttribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.string(1, a.name);
  if ('int' in a) w.int(3, a.int).int(20, ATTR.INT);
  else if ('float' in a) w.float(2, a.float).int(20, ATTR.FLOAT);
  else if ('ints' in a) w.ints(8, a.ints).int(20, ATTR.INTS);
  else w.string(4, a.string).int(20, ATTR.STRING);
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const a of n.attributes ?? []) w.message(5, (aw) => writeAttribute(aw, a));
}

function writeInitializer(w: ProtoWriter, t: OnnxInitializer): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new Error(`initializer ${t.name}: dims ${t.dims.join('×')} need ${count} values, got ${t.data.length}`);
  w.ints(1, t.dims);
  w.int(2, FLOAT);
  w.string(8, t.name);
  // raw_data is little-endian; copy so a subarray view never leaks neighbouring bytes.
  const raw = new Uint8Array(t.data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < t.data.length; i++) view.setFloat32(i * 4, t.data[i], true);
  w.bytes(9, raw);
}

/** Serialise a model to ONNX protobuf bytes. Deterministic: the same graph gives the same bytes. */
export function encodeOnnxModel(opts: OnnxModelOptions): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, IR_VERSION);
  w.string(2, opts.producerName);
  w.string(3, opts.producerVersion);
  w.int(5, 1);
  if (opts.docString) w.string(6, opts.docString);
  w.message(7, (g) => {
    for (const n of opts.graph.nodes) g.message(1, (nw) => writeNode(nw, n));
    g.string(2, opts.graph.name);
    for (const t of opts.graph.initializers) g.message(5, (tw) => writeInitializer(tw, t));
    for (const v of opts.graph.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of opts.graph.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, opts.opset));
  for (const [key, value] of Object.entries(opts.metadata ?? {})) w.message(14, (m) => m.string(1, key).string(2, value));
  return w.finish();
}
