/** The model collections a process has loaded, by URI and storage generation (read and verified once). */
import { NotFoundError } from '../errors';
import { loadModelCollection } from '../model/collection';
import { storeFor } from '../storage';
import type { InferenceModel } from './session';

const collections = new Map<string, Promise<InferenceModel>>();

/** Model collections by URI and storage generation, so a worker reads and verifies each ZIP once. */
export async function cachedCollection(uri: string): Promise<InferenceModel> {
  const info = await storeFor(uri).stat(uri);
  if (!info) throw new NotFoundError(uri);
  const key = `${uri}#${info.generation ?? info.size}`;
  let p = collections.get(key);
  if (!p) {
    p = loadModelCollection(uri);
    collections.set(key, p);
    p.catch(() => collections.delete(key));
  }
  return p;
}
