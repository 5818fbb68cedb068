'use strict';
/**
 * The environment Tessel's image commands and workers run with (bin/tessel.js sets it for one-shot
 * commands, the container images in their ENV, the benchmarks for the processes they time).
 *
 * glibc gives a freed allocation's memory back to the system only if it was mmapped, and after each large
 * free it raises its mmap threshold (up to 32 MB), so what onnxruntime freed stays resident under what the
 * watershed allocates next: `tessel segment` at 4096² peaked at 780 MB RSS, 640 MB with the threshold
 * fixed at 128 KiB, in the same wall time. (MALLOC_ARENA_MAX=2 alone: 726 MB.)
 */
exports.MEMORY_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** The commands bin/tessel.js runs once more with MEMORY_ENV when it is not set (never `worker`: its signals must reach it directly). */
exports.IMAGE_COMMANDS = ['segment', 'predict', 'postprocess', 'quantify', 'convert', 'classify'];
