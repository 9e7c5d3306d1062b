import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/process.js';

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  /** The FROM argument, build args unexpanded (`${NODE_IMAGE}`). */
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** A Dockerfile as stages of instructions: comments dropped, `\` continuations joined. */
export function parseDockerfile(file: string): { args: Record<string, string>; stages: Stage[] } {
  const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const whole = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(whole)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: start });
  });

  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name] = instruction.args.split(/\s+/);
      stages.push({ from, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [name = '', value = ''] = instruction.args.split('=', 2);
        args[name] = value;
      }
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** The exec form (`["a", "b"]`) of an instruction in a stage, or undefined (shell form counts as absent). */
export function execForm(stage: Stage, keyword: string): string[] | undefined {
  const instruction = [...stage.instructions].reverse().find((i) => i.keyword === keyword);
  if (!instruction) return undefined;
  try {
    const value: unknown = JSON.parse(instruction.args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

export function stageNamed(parsed: { stages: Stage[] }, name: string): Stage {
  const stage = parsed.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`no stage "${name}"`);
  return stage;
}
