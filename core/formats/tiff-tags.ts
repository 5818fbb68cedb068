/**
 * TIFF tag numbers, field types and code values shared by the reader and the writer.
 *
 * References: TIFF 6.0 specification (Adobe, 1992), sections 2 (structure), 8 (baseline fields),
 * 14 (predictor), 15 (tiles); Adobe PageMaker 6.0 TIFF Technical Notes (SubIFDs, Deflate = 8);
 * BigTIFF (http://bigtiff.org, header version 43, 8-byte offsets, LONG8/IFD8 types).
 */
export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Software: 305,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SubIFDs: 330,
  SampleFormat: 339,
} as const;

/** Field types: code → size in bytes. */
export const FieldType = {
  BYTE: 1, ASCII: 2, SHORT: 3, LONG: 4, RATIONAL: 5, SBYTE: 6, UNDEFINED: 7, SSHORT: 8, SLONG: 9,
  SRATIONAL: 10, FLOAT: 11, DOUBLE: 12, IFD: 13, LONG8: 16, SLONG8: 17, IFD8: 18,
} as const;

export const FIELD_SIZE: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

/** Compression codes Tessel reads, with the names `inspect` reports. */
export const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  5: 'lzw',
  8: 'deflate',
  32946: 'deflate', // the old, unregistered Deflate code some writers still use
  32773: 'packbits',
  50000: 'zstd', // libtiff's COMPRESSION_ZSTD
  34926: 'zstd', // the code some older writers (and imagecodecs' registry) give Zstandard
};

/** Names of compressions Tessel recognises but cannot decode, for clear errors. */
export const KNOWN_UNSUPPORTED_COMPRESSION: Record<number, string> = {
  2: 'CCITT RLE', 3: 'CCITT Group 3', 4: 'CCITT Group 4', 6: 'old-style JPEG', 7: 'JPEG', 34712: 'JPEG 2000',
  34887: 'LERC', 34925: 'LZMA', 50001: 'WebP', 50002: 'JPEG XL', 22610: 'JPEG XR', 33003: 'JPEG 2000',
  33004: 'JPEG 2000', 33005: 'JPEG 2000', 34933: 'PNG', 34934: 'JPEG XR',
};

/** ResolutionUnit values. */
export const ResolutionUnit = { None: 1, Inch: 2, Centimeter: 3 } as const;
