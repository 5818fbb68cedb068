import type { Command, Option } from 'commander';

/** A command word that names no command of its group, found in the arguments before commander parses them. */
export interface UnknownCommand {
  /** The group's path from the root, e.g. `['tessel', 'model']`. */
  group: string[];
  word: string;
  /** The group's visible command names (and aliases), the choices the word missed. */
  choices: string[];
}

/**
 * Walks the arguments down the command tree as commander will (global and group options skipped with
 * their values) and returns the first word that should name a subcommand but names none. Commander only
 * checks that after acting on `--help`, so `tessel frobnicate --help` would print the root help and exit
 * 0; checking first makes it an error at every level, with or without `--help`. Works on whatever
 * commands are registered, so new command files need nothing here.
 */
export function findUnknownCommand(program: Command, args: string[]): UnknownCommand | undefined {
  const chain: Command[] = [program];
  let cmd = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      const option = a.includes('=') ? undefined : findOption(chain, a);
      if (option && (option.required || (option.optional && args[i + 1] !== undefined && !args[i + 1].startsWith('-')))) i++;
      continue;
    }
    if (!cmd.commands.length || cmd.registeredArguments.length) return undefined; // the word is an operand
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (sub) {
      chain.push((cmd = sub));
      continue;
    }
    if (a === 'help') continue; // commander's help command: the next word names the command to explain
    const choices = cmd.createHelp().visibleCommands(cmd).flatMap((c) => [c.name(), ...c.aliases()]).filter((n) => n !== 'help');
    return { group: chain.map((c) => c.name()), word: a, choices };
  }
  return undefined;
}

function findOption(chain: Command[], flag: string): Option | undefined {
  for (const c of chain) {
    const o = c.options.find((opt) => opt.long === flag || opt.short === flag);
    if (o) return o;
  }
  return undefined;
}

/** The one-line error (and the choices) for an unknown command, naming the nearest command when one is close. */
export function formatUnknownCommand(u: UnknownCommand): string {
  const group = u.group.join(' ');
  const near = nearestCommand(u.word, u.choices);
  const lines = [`tessel: unknown command '${[...u.group.slice(1), u.word].join(' ')}'${near ? `; did you mean '${[...u.group.slice(1), near].join(' ')}'?` : ''}`];
  lines.push(`commands of '${group}': ${u.choices.join(', ')} (see '${group} --help')`);
  return lines.join('\n');
}

/**
 * The choice nearest to `word` by edit distance (insertions, deletions, substitutions and swaps of
 * neighbours, the usual typos), when it is close: at most a third of the word's letters off (at least
 * one), or the word is a prefix of it of 3 letters or more. Hand-written in a few lines because
 * commander keeps its own suggester private.
 */
export function nearestCommand(word: string, choices: string[]): string | undefined {
  const prefixed = word.length >= 3 ? choices.filter((c) => c.startsWith(word)) : [];
  if (prefixed.length === 1) return prefixed[0];
  let best: { name: string; d: number } | undefined;
  for (const c of choices) {
    const d = editDistance(word, c);
    if (!best || d < best.d) best = { name: c, d };
  }
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.name : undefined;
}

/** Optimal-string-alignment distance (Damerau–Levenshtein without repeated edits of a substring). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
