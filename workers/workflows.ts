/** Production entry point for the workflows task queue (same as `tessel worker --queue workflows`). */
import { runEntry } from './process';

runEntry(['workflows']);
