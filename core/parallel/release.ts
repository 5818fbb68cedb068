import { MessageChannel } from 'node:worker_threads';

/**
 * Gives back the memory of array buffers the caller is done with now, instead of whenever the garbage
 * collector next runs: each buffer is moved (transferred) into a message on a channel that is then
 * closed unread, and its backing store goes with the message, within two turns of the event loop.
 * Every view of a released buffer becomes empty (length 0), so a stray later read finds nothing rather
 * than stale pixels. Shared buffers, and buffers that are already empty, are left alone.
 *
 * Why: V8 frees an ArrayBuffer's memory only when it collects the object, and a thread that allocates
 * little JS garbage may not collect for seconds — long enough for two dead 67 MB masks to lie in the
 * peak of a quantification.
 *
 * Resolves once those two turns have passed. A caller about to run long synchronous work awaits it:
 * otherwise the memory stays until that work yields (quantify's shape tracing kept both masks, 4096²:
 * 364–385 MB peak instead of 300–303 MB).
 */
export function releaseBuffers(...buffers: (ArrayBufferLike | undefined)[]): Promise<void> {
  // By tag, not instanceof: a buffer from another realm (jest's sandbox, a vm context) is one too.
  const owned = [...new Set(buffers)].filter((b): b is ArrayBuffer => Object.prototype.toString.call(b) === '[object ArrayBuffer]' && b!.byteLength > 0);
  if (owned.length === 0) return Promise.resolve();
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, owned);
  port1.close();
  port2.close();
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
