import { ConfigError } from '../errors';
import { GcsStore, type GcsStoreOptions } from './gcs';
import { LocalStore } from './local';
import { countingStore } from './counted';
import { isGcsUri, type Store } from './types';

export * from './types';
export { LocalStore } from './local';
export { GcsStore, parseGcsUri, type GcsStoreOptions } from './gcs';
export { storageTraffic, type StorageTraffic } from './counted';

const stores: Store[] = [new LocalStore()];
let gcsStore: GcsStore | undefined;

/** Register another store (the GCS store registers itself when configured). Later registrations win. */
export function registerStore(store: Store): void {
  stores.unshift(store);
}

/**
 * Registers the store for `gs://` URIs with these options (endpoint, project, retries), replacing any
 * earlier GCS store. Without a call, the first `gs://` URI configures one from the environment
 * (`STORAGE_EMULATOR_HOST`, application default credentials).
 */
export function configureGcs(opts: GcsStoreOptions = {}): GcsStore {
  if (gcsStore) stores.splice(stores.indexOf(gcsStore), 1);
  gcsStore = new GcsStore(opts);
  gcsOptions = opts;
  registerStore(gcsStore);
  return gcsStore;
}
let gcsOptions: GcsStoreOptions | undefined;

/**
 * The options of the last {@link configureGcs} call in this thread (undefined before one), which worker
 * threads started afterwards apply too (core/parallel): an endpoint from the env config
 * (`gcs.api_endpoint`) must reach the threads that read and write, not only the main thread.
 */
export function configuredGcsOptions(): GcsStoreOptions | undefined {
  return gcsOptions;
}

const countedStores = new WeakMap<Store, Store>();
/** The same store with its bytes counted (see storageTraffic), one wrapper per store. */
function counted(s: Store): Store {
  let c = countedStores.get(s);
  if (!c) countedStores.set(s, (c = countingStore(s)));
  return c;
}

/** The store that handles a URI; its reads and writes count in {@link storageTraffic}. */
export function storeFor(uri: string): Store {
  const s = stores.find((st) => st.handles(uri)) ?? (isGcsUri(uri) ? configureGcs() : undefined);
  if (s) return counted(s);
  throw new ConfigError(`no storage backend handles '${uri}'`);
}
