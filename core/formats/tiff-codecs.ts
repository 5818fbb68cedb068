import { constants as zlibConstants, createInflate, inflateSync, type Inflate } from 'node:zlib';
import { ZSTDDecoder } from 'zstddec';

/**
 * TIFF chunk (strip/tile) decompression and predictor reversal. Pure functions over bytes.
 *
 * References: TIFF 6.0 section 13 (LZW), section 9 (PackBits), section 14 (horizontal predictor);
 * Adobe Photoshop TIFF Technical Note 3 (floating-point predictor 3); RFC 1950/1951 (Deflate);
 * RFC 8878 (Zstandard, libtiff compression 50000).
 */

/**
 * The LZW string table as (prefix code, last byte, length, first byte); strings are emitted by walking
 * prefixes back. One table for every call (decoding is synchronous): codes 0–255 never change, and a
 * code ≥ 258 is only read after this call has written it. Allocating it per strip made a quarter of
 * the garbage of reading small-strip LZW files.
 */
const lzwPrefix = new Int32Array(4096);
const lzwSuffix = new Uint8Array(4096);
const lzwLength = new Int32Array(4096);
const lzwFirst = new Uint8Array(4096);
for (let i = 0; i < 256; i++) {
  lzwPrefix[i] = -1;
  lzwSuffix[i] = i;
  lzwLength[i] = 1;
  lzwFirst[i] = i;
}

/** Decodes TIFF LZW (MSB-first codes, 9–12 bits, early change) into exactly `expected` bytes (or fewer if the data ends). */
export function decodeLzw(src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  const prefix = lzwPrefix;
  const suffix = lzwSuffix;
  const length = lzwLength;
  const first = lzwFirst;
  const CLEAR = 256;
  const EOI = 257;
  let next = 258;
  let width = 9;
  let bitPos = 0;
  const totalBits = src.length * 8;
  let o = 0;
  let old = -1;
  while (o < expected && bitPos + width <= totalBits) {
    // Read `width` bits MSB-first.
    const byte = bitPos >>> 3;
    const chunk = (src[byte] << 16) | ((src[byte + 1] ?? 0) << 8) | (src[byte + 2] ?? 0);
    const code = (chunk >>> (24 - (bitPos & 7) - width)) & ((1 << width) - 1);
    bitPos += width;
    if (code === EOI) break;
    if (code === CLEAR) {
      next = 258;
      width = 9;
      old = -1;
      continue;
    }
    let entry: number;
    if (code < next) {
      entry = code;
    } else if (code === next && old >= 0) {
      entry = -1; // KwKwK case: old string + its own first byte
    } else {
      throw new Error(`corrupt LZW data (code ${code} > table size ${next})`);
    }
    if (entry >= 0) {
      const len = length[entry];
      let c = entry;
      const end = Math.min(o + len, expected);
      for (let k = o + len - 1; k >= o; k--) {
        if (k < end) out[k] = suffix[c];
        c = prefix[c];
      }
      o = end;
      if (old >= 0 && next < 4096) {
        prefix[next] = old;
        suffix[next] = first[entry];
        length[next] = length[old] + 1;
        first[next] = first[old];
        next++;
      }
    } else {
      const len = length[old] + 1;
      if (next < 4096) {
        prefix[next] = old;
        suffix[next] = first[old];
        length[next] = len;
        first[next] = first[old];
      }
      let c = next;
      const end = Math.min(o + len, expected);
      for (let k = o + len - 1; k >= o; k--) {
        if (k < end) out[k] = suffix[c];
        c = prefix[c];
      }
      o = end;
      if (next < 4096) next++;
    }
    old = code;
    // Early change: the code width grows one code before the table fills (libtiff/TIFF 6.0 behaviour).
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  return o === expected ? out : out.subarray(0, o);
}

/** Decodes PackBits (Apple run-length encoding) into at most `expected` bytes. */
export function decodePackBits(src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let i = 0;
  let o = 0;
  while (i < src.length && o < expected) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      const len = Math.min(n + 1, expected - o, src.length - i);
      out.set(src.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      const len = Math.min(1 - n, expected - o);
      out.fill(src[i++], o, o + len);
      o += len;
    }
  }
  return o === expected ? out : out.subarray(0, o);
}

/**
 * Inflates zlib data synchronously. With `scratch` (at least `expected + 1` bytes) the data inflates
 * into it through one reused zlib handle, and the result is a view of it: no handle, output buffer or
 * garbage per tile, which made reading tiled images ~1.4× faster.
 */
export function inflateZlib(src: Uint8Array, expected = 0, scratch?: Uint8Array): Uint8Array {
  if (scratch && expected > 0 && scratch.length > expected) {
    const n = inflateInto(src, scratch);
    // More than expected (the scratch filled up) goes the general way below, as does a Node without the handle.
    if (n !== undefined && n < scratch.length) return scratch.subarray(0, n);
  }
  // One output chunk one byte larger than expected: zlib's 16 KiB pieces, or a chunk exactly full (zlib
  // then needs a second call, and a second buffer, just to read the stream's end), cost a concat.
  const b = inflateSync(src, { chunkSize: Math.max(64, expected + 1) });
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

interface ZlibHandle { writeSync(flush: number, src: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void }
interface ReusableInflate { stream: Inflate; handle: ZlibHandle; state: Uint32Array }
let reusable: ReusableInflate | null | undefined;

/**
 * Drives Node's zlib binding directly (`_handle.writeSync` and `_writeState`, the calls Node's own
 * `inflateSync` makes), so one handle inflates every tile into a caller's buffer.
 * Returns the bytes written, or undefined where this Node's zlib stream lacks those internals.
 * @throws the zlib error (corrupt or truncated data); the handle is then dropped and a new one made.
 */
function inflateInto(src: Uint8Array, out: Uint8Array): number | undefined {
  if (reusable === undefined) {
    const stream = createInflate();
    const internals = stream as unknown as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
    reusable = typeof internals._handle?.writeSync === 'function' && Object.prototype.toString.call(internals._writeState) === '[object Uint32Array]' // any realm (jest)
      ? { stream, handle: internals._handle as ZlibHandle, state: internals._writeState as Uint32Array }
      : null;
    // Errors are thrown below, where they happen; the stream's later 'error' event is not news.
    stream.on('error', () => undefined);
  }
  if (reusable === null) return undefined;
  const r = reusable;
  r.stream.reset();
  r.handle.writeSync(zlibConstants.Z_FINISH, src, 0, src.length, out, 0, out.length);
  if (r.stream.errored) {
    reusable = undefined;
    throw r.stream.errored;
  }
  return out.length - r.state[0];
}

let zstd: Promise<ZSTDDecoder> | undefined;

/**
 * Decompresses Zstandard data with the reference decoder (libzstd compiled to WebAssembly, via zstddec):
 * corrupt data decodes to fewer bytes than `expected`, which the caller reports. fzstd, used before,
 * loops forever on some corrupt Huffman headers (found by fuzzing, test/fuzz). The WebAssembly memory
 * grows to the largest chunk decoded and stays that size for the process.
 */
export async function decodeZstd(src: Uint8Array, expected: number): Promise<Uint8Array> {
  zstd ??= (async () => {
    const d = new ZSTDDecoder();
    await d.init();
    return d;
  })();
  return (await zstd).decode(src, expected);
}

/** Swaps the bytes of each `size`-byte sample in place (big-endian files on little-endian hosts). */
export function swapBytes(buf: Uint8Array, size: number): void {
  if (size === 2) {
    for (let i = 0; i + 1 < buf.length; i += 2) {
      const t = buf[i];
      buf[i] = buf[i + 1];
      buf[i + 1] = t;
    }
  } else if (size === 4 || size === 8) {
    for (let i = 0; i + size <= buf.length; i += size) {
      for (let a = i, b = i + size - 1; a < b; a++, b--) {
        const t = buf[a];
        buf[a] = buf[b];
        buf[b] = t;
      }
    }
  }
}

/**
 * Reverses the horizontal predictor (2) in place: each sample becomes the running sum along its
 * row, per sample plane of chunky data. `buf` must already be in host byte order.
 */
export function undoHorizontalPredictor(buf: Uint8Array, rowSamples: number, rows: number, samplesPerPixel: number, bytesPerSample: number): void {
  const view = bytesPerSample === 1 ? buf
    : bytesPerSample === 2 ? new Uint16Array(buf.buffer, buf.byteOffset, buf.byteLength >> 1)
      : bytesPerSample === 4 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >> 2)
        : null;
  if (!view) throw new Error(`horizontal predictor with ${bytesPerSample * 8}-bit samples`);
  const spp = samplesPerPixel;
  for (let r = 0; r < rows; r++) {
    const start = r * rowSamples;
    const end = Math.min(start + rowSamples, view.length);
    for (let i = start + spp; i < end; i++) view[i] = view[i] + view[i - spp]; // typed arrays wrap modulo 2^bits
  }
}

/**
 * Reverses the floating-point predictor (3): per row, undo byte differencing, then regather the
 * byte planes (most significant first) into host-order samples. Returns a new buffer.
 */
export function undoFloatingPointPredictor(buf: Uint8Array, rowSamples: number, rows: number, samplesPerPixel: number, bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(buf.length);
  const rowBytes = rowSamples * bytesPerSample;
  const spp = samplesPerPixel;
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    if (base + rowBytes > buf.length) break;
    for (let i = base + spp; i < base + rowBytes; i++) buf[i] = (buf[i] + buf[i - spp]) & 0xff;
    for (let s = 0; s < rowSamples; s++) {
      for (let b = 0; b < bytesPerSample; b++) {
        // Plane b holds byte b counted from the most significant; place it little-endian.
        out[base + s * bytesPerSample + (bytesPerSample - 1 - b)] = buf[base + b * rowSamples + s];
      }
    }
  }
  return out;
}
