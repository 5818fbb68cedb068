// Keeps dist/ in step with the TypeScript sources for bin/tessel.js, so `npm run -s tessel` runs compiled
// JavaScript (~0.2 s to start, and plain-node code paths in every worker thread) instead of the sources through
// tsx (~0.9 s, and tsx's loader in each thread), without anyone having to remember `npm run build`.
//
// Plain CommonJS because it runs before anything is compiled. The staleness check is only stats: each source's
// size and mtime against dist/.tessel-build.json (its content hash is read only when those differ, so a touched
// or re-checked-out file that did not change is not recompiled). Changed files are compiled one by one with
// TypeScript's own transpileModule and the build's compiler options: with `isolatedModules` (tsconfig.json) that
// is byte for byte what `tsc -p tsconfig.build.json` emits (test/unit/orchestration/compile-on-demand.test.ts
// checks it), at a fraction of the cost (no type check: `npm run typecheck` and `npm test` do that).
'use strict';
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const MANIFEST = '.tessel-build.json';
const LOCK = '.tessel-build.lock';

/** The folders tsconfig.build.json compiles (its `include`) and leaves out (its `exclude`, folders), relative to `root`. */
function buildFolders(root) {
  const cfg = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
  return { include: cfg.include, exclude: (cfg.exclude ?? []).map((d) => d.replace(/\/+$/, '') + '/') };
}

/** Every compiled source under the build's folders: `rel` path → [size, mtimeMs]. */
function scanSources(root) {
  const found = new Map();
  const { include, exclude } = buildFolders(root);
  for (const dir of include) {
    if (!existsSync(join(root, dir))) continue;
    for (const rel of readdirSync(join(root, dir), { recursive: true })) {
      const name = String(rel);
      if (!name.endsWith('.ts') || name.endsWith('.d.ts') || name.endsWith('.test.ts')) continue;
      const path = join(dir, name);
      if (exclude.some((e) => path.split('\\').join('/').startsWith(e))) continue;
      const s = statSync(join(root, path));
      if (s.isFile()) found.set(path.split('\\').join('/'), [s.size, s.mtimeMs]);
    }
  }
  return found;
}

/** What the emitted JavaScript depends on besides the sources: compiler version and options. */
function buildKey(root) {
  const h = createHash('sha256');
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'node_modules/typescript/package.json']) {
    h.update(existsSync(join(root, f)) ? readFileSync(join(root, f)) : `missing:${f}`);
  }
  return h.digest('hex');
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const outputOf = (rel) => rel.replace(/\.ts$/, '.js');

function readManifest(dist) {
  try {
    return JSON.parse(readFileSync(join(dist, MANIFEST), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The plan: sources to compile and outputs to delete, or nothing when dist/ is current. `manifest.files[rel]`
 * is [size, mtimeMs, sha256]; an entry whose size or mtime differs is compared by content.
 */
function plan(root, dist) {
  const sources = scanSources(root);
  const key = buildKey(root);
  const manifest = readManifest(dist);
  const fresh = !manifest || manifest.key !== key;
  const files = fresh ? {} : { ...manifest.files };
  const compile = [];
  let touched = false;
  for (const [rel, [size, mtimeMs]] of sources) {
    const had = files[rel];
    if (had && had[0] === size && had[1] === mtimeMs && existsSync(join(dist, outputOf(rel)))) continue;
    const hash = sha256(join(root, rel));
    if (had && had[2] === hash && existsSync(join(dist, outputOf(rel)))) {
      files[rel] = [size, mtimeMs, hash];
      touched = true;
      continue;
    }
    compile.push({ rel, entry: [size, mtimeMs, hash] });
  }
  const removed = Object.keys(files).filter((rel) => !sources.has(rel));
  for (const rel of removed) delete files[rel];
  return { key, fresh, files, compile, removed, touched };
}

/** Sources (as `rel` .ts paths) of the .js files in dist/'s build folders whose source is gone. */
function orphanOutputs(root, dist) {
  const orphans = [];
  for (const dir of buildFolders(root).include) {
    if (!existsSync(join(dist, dir))) continue;
    for (const rel of readdirSync(join(dist, dir), { recursive: true })) {
      const name = String(rel);
      if (!name.endsWith('.js')) continue;
      const source = join(dir, name.replace(/\.js$/, '.ts'));
      if (!existsSync(join(root, source))) orphans.push(source);
    }
  }
  return orphans;
}

function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Runs `fn` holding dist/'s build lock (a folder: mkdir is atomic); a lock left by a dead process is taken over. */
function withLock(dist, fn) {
  mkdirSync(dist, { recursive: true });
  const lock = join(dist, LOCK);
  for (const deadline = Date.now() + 120_000; ;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let owner = 0;
      try { owner = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* still being written */ }
      let alive = true;
      if (owner > 0) try { process.kill(owner, 0); } catch (k) { alive = k.code === 'EPERM'; }
      if (owner > 0 && !alive) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} has been held for 2 minutes; remove it if no build is running`);
      else sleep(50);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Compiles the planned files with TypeScript; returns error lines (syntax errors), empty when all compiled. */
function compileFiles(root, dist, p) {
  const ts = require(join(root, 'node_modules', 'typescript'));
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  const errors = [];
  for (const { rel, entry } of p.compile) {
    const src = join(root, rel);
    const out = join(dist, outputOf(rel));
    const r = ts.transpileModule(readFileSync(src, 'utf8'), { compilerOptions: parsed.options, fileName: src, reportDiagnostics: true });
    const syntax = (r.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (syntax.length) {
      for (const d of syntax) {
        const { line, character } = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0) : { line: 0, character: 0 };
        errors.push(`${rel}:${line + 1}:${character + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
      }
      continue;
    }
    if (r.sourceMapText) {
      // transpileModule names the source relative to nothing; tsc names it relative to the output file.
      const map = JSON.parse(r.sourceMapText);
      map.sources = [relative(dirname(out), src).split('\\').join('/')];
      writeAtomic(`${out}.map`, JSON.stringify(map));
    }
    writeAtomic(out, r.outputText);
    p.files[rel] = entry;
  }
  return errors;
}

/**
 * Brings `<root>/dist` up to date with the sources (compiling only what changed) and returns the compiled
 * CLI's entry, `dist/cli/main.js`. Returns undefined when it cannot compile (TypeScript not installed, as on
 * a host installed without dev dependencies) and there is no build to run: the caller then runs the sources.
 * @param {string} root the package root
 * @param {{ dist?: string, onCompile?: (files: number) => void }} [opts] `dist`: the output folder (default
 * `<root>/dist`; inside `root`, so the compiled code finds the package.json above it); `onCompile`: told
 * before compiling, with the number of files
 * @throws Error listing file:line: message for sources that do not parse
 */
function ensureCompiled(root, opts = {}) {
  const dist = opts.dist ?? join(root, 'dist');
  const main = join(dist, 'cli', 'main.js');
  let p = plan(root, dist);
  if (!p.compile.length && !p.removed.length && !p.fresh) {
    if (p.touched) writeAtomic(join(dist, MANIFEST), JSON.stringify({ key: p.key, files: p.files }));
    return main;
  }
  if (!existsSync(join(root, 'node_modules', 'typescript'))) return existsSync(main) ? main : undefined;
  withLock(dist, () => {
    p = plan(root, dist); // another process may have compiled while this one waited for the lock
    if (!p.compile.length && !p.removed.length && !p.fresh) return;
    opts.onCompile?.(p.compile.length);
    // Without a manifest (or after a compiler or options change) dist/ may hold outputs of sources deleted
    // since, such as an old command file cli/main.ts would still load: drop every output without a source.
    const stale = p.fresh ? orphanOutputs(root, dist) : p.removed;
    for (const rel of stale) {
      rmSync(join(dist, outputOf(rel)), { force: true });
      rmSync(join(dist, `${outputOf(rel)}.map`), { force: true });
    }
    const errors = compileFiles(root, dist, p);
    writeAtomic(join(dist, MANIFEST), JSON.stringify({ key: p.key, files: p.files }));
    if (errors.length) throw new Error(`cannot compile:\n${errors.join('\n')}`);
  });
  return main;
}

module.exports = { ensureCompiled };
