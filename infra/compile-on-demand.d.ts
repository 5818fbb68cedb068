/** Types of compile-on-demand.js (plain JavaScript: bin/tessel.js runs it before anything is compiled). */
export interface EnsureCompiledOptions {
  /** Output folder (default `<root>/dist`); inside `root`, so compiled code finds the package.json above it. */
  dist?: string;
  /** Told before compiling, with the number of files to compile. */
  onCompile?: (files: number) => void;
}

/**
 * Brings the build up to date with the sources (compiling only what changed) and returns the compiled
 * CLI's entry, `<dist>/cli/main.js`; undefined when TypeScript is not installed and there is no build.
 * @throws Error listing `file:line:column: message` for sources that do not parse
 */
export function ensureCompiled(root: string, opts?: EnsureCompiledOptions): string | undefined;
