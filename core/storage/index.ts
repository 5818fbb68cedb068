import { ConfigError } from '../errors';
import { GcsStore, type GcsStoreOptions } from './gcs';
import { LocalStore } from './local';
import { isGcsUri, type Store } from './types';

export * from './types';
export { LocalStore } from './local';
export { GcsStore, parseGcsUri, type GcsStoreOptions } from './gcs';

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
  registerStore(gcsStore);
  return gcsStore;
}

/** The store that handles a URI. */
export function storeFor(uri: string): Store {
  const s = stores.find((st) => st.handles(uri));
  if (s) return s;
  if (isGcsUri(uri)) return configureGcs();
  throw new ConfigError(`no storage backend handles '${uri}'`);
}
