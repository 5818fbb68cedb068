/** Production entry point for the cpu task queue (same as `tessel worker --queue cpu`). */
import { runEntry } from './process';

runEntry(['cpu']);
