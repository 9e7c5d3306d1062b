import type { Problem } from '../../errors.js';
import { binaryOf } from '../../shared/binary-tensors.js';

/**
 * The parts of a client's OIP request that the gateway forwards as they came, beyond the tensors:
 * `parameters` (of the request and of each input and output) and `outputs`. A runtime that
 * refuses them, or answers in a form the gateway cannot read, would otherwise make the caller's
 * mistake look like the runtime's failure. Checked without the model's metadata.
 */
export function checkForwarded(request: {
  parameters?: unknown;
  inputs: unknown[];
  outputs?: unknown;
}): Problem[] {
  const problems: Problem[] = [];
  checkParameters(request.parameters, '/parameters', problems, REQUEST_FLAGS);
  request.inputs.forEach((input, index) => {
    if (typeof input === 'object' && input !== null) {
      const path = `/inputs/${index}/parameters`;
      const parameters = (input as { parameters?: unknown }).parameters;
      checkParameters(parameters, path, problems, INPUT_FLAGS);
      // With the header, the body's parse attached the bytes (src/http/json-body.ts).
      const size = (parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size;
      if (size !== undefined && binaryOf(input) === undefined) {
        problems.push({
          path: `${path}/binary_data_size`,
          message: 'says the tensor is binary, but the request has no Inference-Header-Content-Length',
        });
      }
    }
  });
  checkOutputs(request.outputs, problems);
  return problems;
}

/**
 * The classification extension's flag ("classification"): asked for, a runtime that has it answers
 * with class labels instead of the output's values, which the gateway's check of every answer
 * would take for a broken runtime.
 */
const CHANGES_THE_ANSWER = ['classification'];

/**
 * The binary tensor extension's flags (triton-inference-server/server
 * docs/protocol/extension_binary_data.md), where the document puts each: the gateway takes them
 * (src/shared/binary-tensors.ts). `binary_data_size` was checked against the bytes when the body
 * was parsed; the output flags are booleans.
 */
const REQUEST_FLAGS = { binary_data_output: 'boolean' } as const;
const INPUT_FLAGS = { binary_data_size: 'number' } as const;
const OUTPUT_FLAGS = { binary_data: 'boolean' } as const;

/**
 * `parameters` is an object whose values are strings, numbers or booleans (KServe v2 protocol,
 * "Parameters"); the classification flag is refused unless it is off, and the binary tensor
 * extension's flags of this place (`flags`) must have their type.
 */
function checkParameters(
  parameters: unknown,
  path: string,
  problems: Problem[],
  flags: Readonly<Record<string, 'boolean' | 'number'>>,
): void {
  if (parameters === undefined) return;
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    problems.push({ path, message: 'must be an object of strings, numbers or booleans' });
    return;
  }
  for (const [key, value] of Object.entries(parameters)) {
    const at = `${path}/${pointerToken(key)}`;
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      problems.push({ path: at, message: 'must be a string, a number or a boolean' });
    } else if (CHANGES_THE_ANSWER.includes(key) && value !== false && value !== 0) {
      problems.push({ path: at, message: 'is not supported: the gateway answers with JSON tensors' });
    } else if (Object.hasOwn(flags, key) && type !== flags[key]) {
      problems.push({ path: at, message: `must be a ${flags[key]}` });
    }
  }
}

/** `outputs`, when given, names each wanted output once; left out, every output is wanted. */
function checkOutputs(outputs: unknown, problems: Problem[]): void {
  if (outputs === undefined) return;
  if (!Array.isArray(outputs) || outputs.length === 0) {
    problems.push({ path: '/outputs', message: 'must be a non-empty array of {"name"}, or be left out' });
    return;
  }
  const seen = new Set<string>();
  outputs.forEach((output: unknown, index) => {
    const path = `/outputs/${index}`;
    if (typeof output !== 'object' || output === null || Array.isArray(output)) {
      problems.push({ path, message: 'must be an object with a "name"' });
      return;
    }
    const { name, parameters } = output as { name?: unknown; parameters?: unknown };
    if (typeof name !== 'string') {
      problems.push({ path: `${path}/name`, message: 'must be a string' });
    } else if (seen.has(name)) {
      problems.push({ path: `${path}/name`, message: `"${name}" is asked for twice` });
    } else {
      seen.add(name);
    }
    checkParameters(parameters, `${path}/parameters`, problems, OUTPUT_FLAGS);
  });
}

/** A key as a JSON-pointer token (RFC 6901: "~" is written "~0" and "/" is written "~1"). */
function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
