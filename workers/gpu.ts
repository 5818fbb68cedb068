/** Production entry point for the gpu task queue (same as `tessel worker --queue gpu`). */
import { runEntry } from './process';

runEntry(['gpu']);
