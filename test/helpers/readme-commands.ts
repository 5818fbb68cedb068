import { readFileSync } from 'node:fs';

/** One shell command from a Markdown file's code blocks, as a user would paste it. */
export interface DocCommand {
  /** The command, continuation lines joined, trailing `# comment` dropped. */
  command: string;
  /** 1-based line where it starts. */
  line: number;
}

const SHELL_FENCE = /^```(sh|bash|shell|console)?\s*$/;

/**
 * The shell commands of a Markdown file's fenced blocks whose info string is empty or a shell (sh, bash,
 * shell, console), in order: `\` continuations joined, heredocs (`<<'PY'` … `PY`) kept with their command,
 * comment lines and trailing ` # …` comments dropped, a leading `$ ` prompt removed.
 */
export function shellCommands(markdownPath: string): DocCommand[] {
  const lines = readFileSync(markdownPath, 'utf8').split('\n');
  const out: DocCommand[] = [];
  let inShell = false;
  let inOther = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i];
    if (!inShell && !inOther && text.startsWith('```')) {
      if (SHELL_FENCE.test(text)) inShell = true;
      else inOther = true;
      continue;
    }
    if (text.startsWith('```')) {
      inShell = inOther = false;
      continue;
    }
    if (!inShell) continue;
    const start = i;
    let command = stripComment(text.replace(/^\$ /, ''));
    while (command.endsWith('\\') && i + 1 < lines.length) command = command.slice(0, -1).trimEnd() + ' ' + stripComment(lines[++i].trim());
    const heredoc = /<<-?\s*'?"?(\w+)'?"?/.exec(command);
    if (heredoc) {
      const body: string[] = [];
      while (i + 1 < lines.length && lines[i + 1].trim() !== heredoc[1]) body.push(lines[++i]);
      i++;
      command = [command, ...body, heredoc[1]].join('\n');
    }
    if (command.trim()) out.push({ command: command.trim(), line: start + 1 });
  }
  return out;
}

/** Drops a ` # comment` (a `#` after whitespace, outside quotes) and a whole-line comment. */
function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}
