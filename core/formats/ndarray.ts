/** numpy-style dtype names used across Tessel. */
export type DType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64' | 'bool' | 'int64' | 'uint64';

export type TypedArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** A dense C-order (row-major) n-dimensional array. */
export interface NdArray<T extends TypedArray = TypedArray> {
  data: T;
  shape: number[];
  dtype: DType;
}

/** A single-channel 2-D image, row-major: pixel (row y, col x) is `data[y * width + x]`. */
export interface Plane<T extends TypedArray = TypedArray> {
  data: T;
  width: number;
  height: number;
}
