import { DefaultFailureConverter } from '@temporalio/common';

/**
 * The failure converter used with encryption on (loaded by path, inside the workflow sandbox too): a
 * failure's message and stack trace move into its encoded attributes, a payload the codec encrypts,
 * so error messages naming files are not stored in plaintext. Only the failure's type (an error code
 * such as INVALID_IMAGE) stays readable.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
