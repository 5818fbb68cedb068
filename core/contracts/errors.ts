/**
 * Error codes: the `code` of every {@link TesselError} (core/errors.ts) and the `type` of the Temporal
 * failure an activity turns it into, so the workflow, the CLI and the benchmark rows name a failure alike.
 */
export const ERROR_CODES = [
  'INVALID_IMAGE', // the file is not a readable TIFF/OME-TIFF (truncated, empty, bad offsets, not a TIFF)
  'UNSUPPORTED_FORMAT', // a valid file using something Tessel does not read (compression, bit depth…)
  'IMAGE_TOO_LARGE', // dimensions beyond what can be allocated; refused before allocating
  'CHANNEL_NOT_FOUND', // a requested channel name or index is not in the image
  'INVALID_ARRAY', // an NPZ/NPY that is malformed or holds the wrong arrays, dtypes or shapes
  'MODEL_CHECKSUM_MISMATCH', // a model collection whose files do not match its SHA-256 manifest
  'MODEL_CONTRACT', // a model whose inputs/outputs disagree with its metadata
  'MODEL_TEST_FAILED', // a model collection whose test tensors do not reproduce their expected outputs where it is loaded
  'MODEL_IMPORT', // a source model (Keras Mesmer) that cannot be read, is not Mesmer-shaped, or does not convert
  'TOOL_UNAVAILABLE', // a program Tessel runs is missing or failed to install (Python 3.10 for model import)
  'INVALID_CONFIG', // configuration or CLI input that fails validation
  'NOT_FOUND', // a storage object or path that does not exist
  'ALREADY_EXISTS', // an atomic write that lost a race (precondition failed)
  'PROVIDER_UNAVAILABLE', // an execution provider (e.g. CUDA) that is not installed
  'ENCRYPTION_KEY', // a payload encrypted under a key this process does not hold, or that fails authentication (another worker may hold it)
  'STORAGE', // transient storage trouble (retryable)
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Failure types that retrying cannot fix: bad input, bad model, bad configuration. */
export const NON_RETRYABLE_CODES: readonly ErrorCode[] = [
  'INVALID_IMAGE', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE', 'CHANNEL_NOT_FOUND', 'INVALID_ARRAY',
  'MODEL_CHECKSUM_MISMATCH', 'MODEL_CONTRACT', 'MODEL_TEST_FAILED', 'MODEL_IMPORT', 'INVALID_CONFIG', 'NOT_FOUND',
  'PROVIDER_UNAVAILABLE',
];
