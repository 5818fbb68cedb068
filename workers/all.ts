/** Every queue in one process: the embedded development worker (same as `tessel worker --queue all`). */
import { runEntry } from './process';

runEntry(['workflows', 'cpu', 'gpu']);
