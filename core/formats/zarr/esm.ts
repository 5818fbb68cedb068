import { inflateSync, gunzipSync } from 'node:zlib';

/**
 * Loads zarrita (https://github.com/manzt/zarrita.js), the maintained Zarr v2/v3 reader, into this
 * CommonJS package. zarrita and its codecs (numcodecs: blosc, lz4, zstd as WebAssembly) are ES modules
 * only, whose package `exports` offer no `require` entry, so:
 *
 * - under Node (tsx, the compiled `dist/`, workers) they load with a real dynamic `import()`. TypeScript
 *   compiles `import()` to `require()` for CommonJS output, so the call is built at run time, out of
 *   the compiler's reach;
 * - under jest (CommonJS in a VM, no ESM loader without `--experimental-vm-modules`) that `import()` is
 *   refused with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING(_FLAG); there the loader falls back to
 *   `require()`, which jest.config.js maps onto the packages' files and transpiles to CommonJS.
 */
export type Zarrita = typeof import('zarrita');

const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let loaded: Promise<Zarrita> | undefined;

/** The zarrita module, loaded once, with Node's zlib as its zlib and gzip codecs. */
export function loadZarrita(): Promise<Zarrita> {
  loaded ??= nativeImport('zarrita').then((m) => m as Zarrita, (e: unknown) => {
    const code = (e as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING')) throw e;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('zarrita') as Zarrita;
  }).then(withNodeZlib);
  return loaded;
}

/**
 * zarrita decodes zlib and gzip through web streams (a Response per chunk); Node's zlib does the same
 * work synchronously, faster, and without depending on the runtime's web globals.
 */
function withNodeZlib(z: Zarrita): Zarrita {
  const codec = (inflate: (b: Uint8Array) => Buffer) => () => ({
    fromConfig: () => ({
      kind: 'bytes_to_bytes' as const,
      encode: (): never => { throw new Error('Tessel writes Zarr chunks itself; this codec only decodes'); },
      decode: (bytes: Uint8Array) => {
        const out = inflate(bytes);
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      },
    }),
  });
  const registry = z.registry as unknown as Map<string, unknown>;
  for (const name of ['zlib', 'numcodecs.zlib']) registry.set(name, codec(inflateSync));
  for (const name of ['gzip', 'numcodecs.gzip']) registry.set(name, codec(gunzipSync));
  return z;
}
