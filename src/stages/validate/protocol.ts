import type { Problem } from '../../errors.js';

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
  checkParameters(request.parameters, '/parameters', problems);
  request.inputs.forEach((input, index) => {
    if (typeof input === 'object' && input !== null) {
      checkParameters(
        (input as { parameters?: unknown }).parameters,
        `/inputs/${index}/parameters`,
        problems,
      );
    }
  });
  checkOutputs(request.outputs, problems);
  return problems;
}

/**
 * Flags of the protocol's binary tensor extension (Triton's "binary_data_output", "binary_data",
 * "binary_data_size") and classification extension ("classification"). Asked for, a runtime that
 * has them answers in binary, or with class labels instead of the output's values: the gateway
 * reads and checks JSON tensors only, so it would take that answer for a broken runtime.
 */
const CHANGES_THE_ANSWER = ['binary_data_output', 'binary_data', 'binary_data_size', 'classification'];

/**
 * `parameters` is an object whose values are strings, numbers or booleans (KServe v2 protocol,
 * "Parameters"); one of the extension flags above is refused unless it is off.
 */
function checkParameters(parameters: unknown, path: string, problems: Problem[]): void {
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
    checkParameters(parameters, `${path}/parameters`, problems);
  });
}

/** A key as a JSON-pointer token (RFC 6901: "~" is written "~0" and "/" is written "~1"). */
function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
