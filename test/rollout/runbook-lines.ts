import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/process.js';

export interface Block {
  /** The fence's language: sh, promql, text, yaml... */
  language: string;
  /** Its lines, `\` continuations joined, blank and comment-only lines dropped. */
  lines: string[];
}

/** The fenced code blocks of docs/runbook.md, in order. */
export function runbookBlocks(): Block[] {
  const text = readFileSync(join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
  const blocks: Block[] = [];
  let open: Block | undefined;
  for (const raw of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    const fence = /^```(\S*)\s*$/.exec(raw.trim());
    if (fence) {
      if (open) {
        blocks.push(open);
        open = undefined;
      } else {
        open = { language: fence[1] ?? '', lines: [] };
      }
      continue;
    }
    const line = raw.trim();
    if (open && line && !line.startsWith('#')) open.lines.push(line);
  }
  if (open) throw new Error('docs/runbook.md has an unclosed code block');
  return blocks;
}

/** Shell words of a command line: quotes removed, `$VAR` and `$(...)` kept as written. */
export function words(line: string): string[] {
  const result: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]!;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) result.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote) throw new Error(`unbalanced quote in: ${line}`);
  if (word !== undefined) result.push(word);
  return result;
}

/**
 * The commands of a pipeline (`a | b`), each as words, without a trailing `&` or output
 * redirections (`> file`), which belong to the shell rather than to the command.
 */
export function pipeline(line: string): string[][] {
  const segments: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '|') {
      segments.push(line.slice(start, i));
      start = i + 1;
    }
  }
  segments.push(line.slice(start));
  return segments.map((segment) => {
    const list = words(segment.trim());
    if (list.at(-1) === '&') list.pop();
    const redirect = list.findIndex((w) => w === '>' || w === '>>');
    return redirect === -1 ? list : list.slice(0, redirect);
  });
}
