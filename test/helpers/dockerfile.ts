import { DockerfileParser, type From } from 'dockerfile-ast';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cluster';

/** What the tests need from one of infra/docker's Dockerfiles, read with dockerfile-ast. */
export interface ImageSpec {
  file: string;
  /** Global ARG defaults (before the first FROM). */
  args: Record<string, string>;
  /** Each stage: its base (ARGs expanded), its name, and its instructions as keyword + text. */
  stages: { base: string; name?: string; instructions: { keyword: string; text: string; json?: string[] }[] }[];
  /** The final stage's USER, WORKDIR, ENV (ARGs expanded), ENTRYPOINT and CMD (exec form). */
  user?: string; workdir?: string; env: Record<string, string>; entrypoint?: string[]; cmd?: string[];
}

export function readImageSpec(name: string): ImageSpec {
  const file = join(ROOT, 'infra', 'docker', name);
  const d = DockerfileParser.parse(readFileSync(file, 'utf8'));
  const args = Object.fromEntries(d.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
  const expand = (s: string, vars: Record<string, string>) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => vars[a ?? b] ?? '');
  const froms: From[] = d.getFROMs();
  const stages: ImageSpec['stages'] = froms.map((f) => ({ base: expand(f.getImage() ?? '', args), name: f.getBuildStage() ?? undefined, instructions: [] }));
  for (const i of d.getInstructions()) {
    if (i.getKeyword() === 'FROM') continue;
    const line = i.getRange().start.line;
    const stage = froms.filter((f) => f.getRange().start.line < line).length - 1;
    if (stage < 0) continue;
    const json = (i as unknown as { getJSONStrings?: () => { getJSONValue(): string }[] }).getJSONStrings?.().map((j) => j.getJSONValue());
    const flags = (i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags?.() ?? [];
    const text = [...flags.map((f) => `--${f.getName()}=${f.getValue() ?? ''}`), i.getArgumentsContent() ?? ''].join(' ');
    stages[stage].instructions.push({ keyword: i.getKeyword(), text, json: json?.length ? json : undefined });
  }
  const final = stages[stages.length - 1].instructions;
  const lastOf = (k: string) => [...final].reverse().find((i) => i.keyword === k);
  const stageArgs: Record<string, string> = { ...args };
  for (const i of final.filter((x) => x.keyword === 'ARG')) {
    const [k, v] = i.text.split('=');
    stageArgs[k] = v ?? '';
  }
  const env: Record<string, string> = {};
  for (const i of final.filter((x) => x.keyword === 'ENV')) {
    for (const m of i.text.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = expand(m[2], stageArgs);
  }
  return {
    file, args, stages, env,
    user: lastOf('USER')?.text, workdir: lastOf('WORKDIR')?.text, entrypoint: lastOf('ENTRYPOINT')?.json, cmd: lastOf('CMD')?.json,
  };
}
