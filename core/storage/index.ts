import { ConfigError } from '../errors';
import { LocalStore } from './local';
import type { Store } from './types';

export * from './types';
export { LocalStore } from './local';

const stores: Store[] = [new LocalStore()];

/** Register another store (the GCS store registers itself when configured). Later registrations win. */
export function registerStore(store: Store): void {
  stores.unshift(store);
}

/** The store that handles a URI. */
export function storeFor(uri: string): Store {
  const s = stores.find((st) => st.handles(uri));
  if (!s) throw new ConfigError(`no storage backend handles '${uri}' (gs:// needs the GCS store; see README)`);
  return s;
}
