import fc from 'fast-check';

/**
 * Structured mutation for the fuzz targets, as fast-check arbitraries: an input is a seed from the
 * corpus plus a short list of mutations, each drawn as small numbers that are interpreted against the
 * seed (so any draw applies to any seed, and fast-check can shrink a failure to the fewest, smallest
 * mutations). Besides blind byte edits, mutations aim at "hot" offsets a seed's format declares — the
 * count, type and offset fields of TIFF directory entries, ZIP header fields — and at chunk payloads,
 * with values that break parsers: 0, 1, maxima, sizes just past the file, off-by-ones.
 */

/** A seed with the offsets and ranges worth mutating. */
export interface Seed {
  bytes: Uint8Array;
  /** Offsets of length/offset/count fields (structure-aware targets). */
  hot: number[];
  /** Byte ranges of payloads (compressed chunks, entry data) for payload-focused targets. */
  payload: [number, number][];
  /** Byte order of the format's integers. */
  littleEndian: boolean;
}

/** One mutation: a kind and three numbers interpreted against the seed. */
type Op = [kind: number, a: number, b: number, c: number];

const INTERESTING_8 = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x40];
const INTERESTING_16 = [0, 1, 2, 3, 7, 8, 16, 255, 256, 4096, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING_32 = [0, 1, 2, 8, 16, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const op = fc.tuple(fc.nat(15), fc.nat(), fc.nat(), fc.nat()) as fc.Arbitrary<Op>;

/** A seed index and up to `maxOps` mutations; `payloadBias` (0–1) is the share of mutations aimed into payloads. */
export function mutationArbitrary(maxOps = 6): fc.Arbitrary<{ seed: number; ops: Op[]; other: number }> {
  return fc.record({ seed: fc.nat(), ops: fc.array(op, { minLength: 1, maxLength: maxOps }), other: fc.nat() });
}

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length];
}

/** Applies a mutation list to a copy of `seeds[seed]` (`other` picks a splice partner). */
export function applyMutations(seeds: Seed[], m: { seed: number; ops: Op[]; other: number }, payloadBias = 0): Uint8Array {
  const s = pick(seeds, m.seed);
  let b: Uint8Array = s.bytes.slice();
  for (const [kind, x, y, z] of m.ops) {
    if (b.length === 0) break;
    // Where: a hot field, a payload byte, or anywhere.
    const inPayload = s.payload.length > 0 && (y % 100) < payloadBias * 100;
    const range = inPayload ? pick(s.payload, x) : undefined;
    const pos = range ? range[0] + (z % Math.max(1, range[1] - range[0])) : s.hot.length > 0 && x % 3 === 0 ? pick(s.hot, z) : z % b.length;
    const at = Math.min(pos, b.length - 1);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const le = y % 5 === 0 ? !s.littleEndian : s.littleEndian;
    switch (kind) {
      case 0: b[at] ^= 1 << (y % 8); break;
      case 1: b[at] = pick(INTERESTING_8, y); break;
      case 2: if (at + 2 <= b.length) view.setUint16(at, pick(INTERESTING_16, y), le); break;
      case 3: case 4: {
        // Sizes relative to the file are the classic way to get past bounds checks by one.
        const rel = [b.length, b.length - 1, b.length + 1, b.length - at, at, Math.floor(b.length / 2)];
        const v = kind === 3 ? pick(INTERESTING_32, y) : pick(rel, y) >>> 0;
        if (at + 4 <= b.length) view.setUint32(at, v, le);
        break;
      }
      case 5: if (at + 8 <= b.length) view.setBigUint64(at, y % 2 ? BigInt(pick(INTERESTING_32, y)) << 24n : BigInt(b.length + (y % 3) - 1), le); break;
      case 6: { const len = 1 + (y % 64); b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + len))); break; }
      case 7: { const len = 1 + (y % 64); const from = x % b.length; b = concat(b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)); break; }
      case 8: b = b.subarray(0, Math.max(1, at)); break;
      case 9: { const o = pick(seeds, m.other).bytes; const from = y % Math.max(1, o.length); b = concat(b.subarray(0, at), o.subarray(from)); break; }
      case 10: case 11: {
        // Small arithmetic on a field: lengths and counts one off.
        const d = ((y % 17) - 8) || 1;
        if (kind === 10) b[at] = (b[at] + d) & 0xff;
        else if (at + 4 <= b.length) view.setUint32(at, (view.getUint32(at, le) + d) >>> 0, le);
        break;
      }
      case 12: { const len = 1 + (y % 32); for (let k = at; k < Math.min(b.length, at + len); k++) b[k] = (z * 31 + k * 17 + y) & 0xff; break; }
      case 13: b = concat(b, Uint8Array.from({ length: 1 + (y % 128) }, (_, k) => (k * 7 + z) & 0xff)); break;
      default: b[at] = y & 0xff;
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Tokens an OME-XML (or any XML) mutation splices in: structure, entities and the values that break parsers. */
const XML_TOKENS = [
  '<Image>', '</Image>', '<Image ID="Image:1">', '<Pixels SizeX="1" SizeY="1" SizeC="4294967295">', '</Pixels>', '<Channel Name="x"/>',
  '<TiffData IFD="0" PlaneCount="1000000000"/>', '<TiffData FirstC="99999999" IFD="4294967295"/>', '<TiffData/>', '<UUID FileName="a">urn:uuid:x</UUID>',
  'SizeC="999999999"', 'SizeZ="100000"', 'SizeT="0"', 'SizeX="-1"', 'SizeX="1e309"', 'PhysicalSizeX="NaN"', 'PhysicalSizeXUnit="pixel"',
  'DimensionOrder="XYZZZ"', 'SamplesPerPixel="65535"', 'PlaneCount="-5"', 'IFD="1.5"', '&amp;', '&#x110000;', '&#0;', '&unknown;', '&#99999999999;',
  '<![CDATA[<Image>]]>', '<!-- -->', '<?pi x?>', '<!DOCTYPE OME [<!ENTITY a "&a;&a;">]>', ']]>', '"', "'", '<', '>', '=', ':', 'ome:', 'xmlns:ome="x"',
  '<OME>', '</OME>', '<ome:OME xmlns:ome="http://www.openmicroscopy.org/Schemas/OME/2016-06">', '__proto__', 'constructor', 'toString',
];

/** Mutations of XML text: token splices, deletions, duplications, deep nesting, truncation. */
export function xmlArbitrary(seeds: string[]): fc.Arbitrary<string> {
  return fc.record({ seed: fc.nat(), ops: fc.array(fc.tuple(fc.nat(7), fc.nat(), fc.nat()), { minLength: 1, maxLength: 6 }) }).map(({ seed, ops }) => {
    let s = pick(seeds, seed);
    for (const [kind, x, y] of ops) {
      const at = s.length ? x % s.length : 0;
      switch (kind) {
        case 0: case 1: s = s.slice(0, at) + pick(XML_TOKENS, y) + s.slice(at); break;
        case 2: s = s.slice(0, at) + s.slice(at + 1 + (y % 40)); break;
        case 3: s = s.slice(0, at) + s.slice(at, at + 1 + (y % 200)).repeat(1 + (y % 4)) + s.slice(at); break;
        case 4: { const n = 1 + (y % 3000); s = '<a>'.repeat(n) + s + '</a>'.repeat(n); break; }
        case 5: s = s.slice(0, Math.max(1, at)); break;
        case 6: { const v = pick(['0', '-1', '4294967296', '99999999999999999999', '1e309', '', 'x'.repeat(1 + (y % 5000)), '0x10', '١٢'], y); s = s.replace(/="[^"]*"/g, (m, off: number) => (off >= at && off < at + 200 ? `="${v}"` : m)); break; }
        default: s = s.slice(0, at) + String.fromCharCode(y % 0x10000) + s.slice(at);
      }
    }
    return s;
  });
}
