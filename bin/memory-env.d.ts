/** Types of memory-env.js (plain JavaScript: bin/tessel.js reads it before anything is compiled). */
/** The environment the image commands and workers run with (see memory-env.js). */
export const MEMORY_ENV: Record<string, string>;
/** The commands bin/tessel.js runs once more with MEMORY_ENV when it is not set. */
export const IMAGE_COMMANDS: string[];
