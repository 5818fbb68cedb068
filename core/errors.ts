import type { ErrorCode } from './contracts';

/**
 * Tagged errors. Every error Tessel raises on purpose is a {@link TesselError} with a stable `code`
 * (core/contracts/errors.ts lists them and what each means), the `file` it concerns (when there is
 * one) and the underlying `cause`. `retryable` says whether
 * trying again can help: activities turn non-retryable errors into non-retryable Temporal failures
 * whose type is the code, and the CLI prints `message` as one line.
 */
export type TesselErrorCode = ErrorCode;

export interface TesselErrorOptions {
  file?: string;
  cause?: unknown;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export class TesselError extends Error {
  readonly code: TesselErrorCode;
  readonly file?: string;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: TesselErrorCode, message: string, opts: TesselErrorOptions = {}) {
    super(opts.file && !message.includes(opts.file) ? `${opts.file}: ${message}` : message, { cause: opts.cause });
    this.name = 'TesselError';
    this.code = code;
    this.file = opts.file;
    this.retryable = opts.retryable ?? (code === 'STORAGE');
    this.details = opts.details;
  }
}

/** The file is not a readable image: empty, truncated, not a TIFF, offsets past the end. Not retryable. */
export class InvalidImageError extends TesselError {
  constructor(file: string, cause: string, opts: Omit<TesselErrorOptions, 'file'> = {}) {
    super('INVALID_IMAGE', cause, { ...opts, file });
    this.name = 'InvalidImageError';
  }
}

/** The file is valid but uses a feature Tessel does not support. Not retryable. */
export class UnsupportedFormatError extends TesselError {
  constructor(file: string, cause: string, opts: Omit<TesselErrorOptions, 'file'> = {}) {
    super('UNSUPPORTED_FORMAT', cause, { ...opts, file });
    this.name = 'UnsupportedFormatError';
  }
}

/** Dimensions too large to allocate; raised before any allocation. Not retryable. */
export class ImageTooLargeError extends TesselError {
  constructor(file: string, cause: string, opts: Omit<TesselErrorOptions, 'file'> = {}) {
    super('IMAGE_TOO_LARGE', cause, { ...opts, file });
    this.name = 'ImageTooLargeError';
  }
}

/** A requested channel is missing; the message lists the available names. Not retryable. */
export class ChannelNotFoundError extends TesselError {
  constructor(file: string, requested: string, available: readonly string[]) {
    super('CHANNEL_NOT_FOUND', `channel '${requested}' not found; available: ${available.map((a, i) => `${i}:${a}`).join(', ')}`,
      { file, details: { requested, available: [...available] } });
    this.name = 'ChannelNotFoundError';
  }
}

/** A malformed NPZ/NPY, or one without the expected arrays. Not retryable. */
export class InvalidArrayError extends TesselError {
  constructor(file: string, cause: string, opts: Omit<TesselErrorOptions, 'file'> = {}) {
    super('INVALID_ARRAY', cause, { ...opts, file });
    this.name = 'InvalidArrayError';
  }
}

/** Model collection checksums do not match its manifest. Not retryable. */
export class ModelChecksumError extends TesselError {
  constructor(file: string, cause: string) {
    super('MODEL_CHECKSUM_MISMATCH', cause, { file });
    this.name = 'ModelChecksumError';
  }
}

/** A model's inputs/outputs disagree with its metadata. Not retryable. */
export class ModelContractError extends TesselError {
  constructor(file: string, cause: string) {
    super('MODEL_CONTRACT', cause, { file });
    this.name = 'ModelContractError';
  }
}

/** A collection's test tensors fail on the provider it was loaded on; `details` holds the per-output report. Not retryable. */
export class ModelTestError extends TesselError {
  constructor(file: string, cause: string, details?: Record<string, unknown>) {
    super('MODEL_TEST_FAILED', cause, { file, details });
    this.name = 'ModelTestError';
  }
}

/** A source model that `tessel model import-mesmer` cannot read, that is not Mesmer-shaped, or that does not convert. Not retryable. */
export class ModelImportError extends TesselError {
  constructor(file: string, cause: string) {
    // Always led by the file: TensorFlow's causes often quote a path inside it, which would suppress the prefix.
    super('MODEL_IMPORT', `${file}: ${cause}`, { file });
    this.name = 'ModelImportError';
  }
}

/** Configuration or CLI input failing validation. Not retryable. */
export class ConfigError extends TesselError {
  constructor(message: string, opts: TesselErrorOptions = {}) {
    super('INVALID_CONFIG', message, opts);
    this.name = 'ConfigError';
  }
}

/** A storage object that does not exist. Not retryable. */
export class NotFoundError extends TesselError {
  constructor(file: string, opts: Omit<TesselErrorOptions, 'file'> = {}) {
    super('NOT_FOUND', 'no such file or object', { ...opts, file });
    this.name = 'NotFoundError';
  }
}

/** Type guard that also recognises TesselErrors crossing module copies (e.g. from worker threads). */
export function isTesselError(e: unknown): e is TesselError {
  return e instanceof TesselError || (typeof e === 'object' && e !== null && (e as { name?: string }).name?.endsWith('Error') === true && typeof (e as { code?: unknown }).code === 'string' && 'retryable' in e);
}
