import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isScalar, parseDocument } from 'yaml';
import type { OnnxSignature } from '../../runtimes/onnx/repository/describe.js';
import { DATATYPES, type Datatype } from '../shared/oip.js';
import { blockMap, flowText, putPair, TextEditor, UneditableError } from '../rollout/text-edit.js';
import { integer, UsageError } from './args.js';
import { asksForHelp, findCommand, parseCommandLine, renderHelp, type CommandSpec } from './command-spec.js';

const DEFAULT_VERSION = '1';

export const MODEL_INIT_SPEC = {
  name: 'model init',
  operands: 'REPO NAME',
  summary:
    'copies an ONNX file into a model repository as REPO/NAME/V/model.onnx and writes (or adds the version to) REPO/NAME/config.yaml',
  flags: [
    { name: 'onnx', value: 'FILE', required: true, description: 'the ONNX model file' },
    { name: 'version', value: 'V', default: DEFAULT_VERSION, description: 'the version directory to write' },
    {
      name: 'max-batch-size',
      value: 'N',
      default: '64 when the first dimension is free, else 0',
      description: "config.yaml's max_batch_size",
    },
    {
      name: 'input',
      value: 'NAME:DATATYPE:D1,D2,…',
      multiple: true,
      description:
        "an input tensor, one row's dimensions; given once per input, they replace what is read from the file",
    },
    {
      name: 'output',
      value: 'NAME:DATATYPE:D1,…',
      multiple: true,
      description: 'an output tensor, as --input',
    },
  ],
} as const satisfies CommandSpec;

export const MODEL_HASH_SPEC = {
  name: 'model hash',
  operands: 'FILE…',
  summary: "each file's sha256, as sha256sum prints it: what config.yaml's versions.V.sha256 holds",
  flags: [],
} as const satisfies CommandSpec;

export const MODEL_CHECK_SPEC = {
  name: 'model check',
  operands: 'REPO',
  summary: 'runs the checks the runtime makes at load on every version, and says which fail (exit 1)',
  flags: [{ name: 'model', value: 'NAME', description: 'check only this model' }],
} as const satisfies CommandSpec;

export const MODEL_SPEC = {
  name: 'model',
  summary: 'from an ONNX file to a model repository the runtime serves (docs/own-model.md)',
  flags: [],
  subcommands: [MODEL_INIT_SPEC, MODEL_HASH_SPEC, MODEL_CHECK_SPEC],
} as const satisfies CommandSpec;

interface Output {
  write(text: string): unknown;
}

/** A tensor as config.yaml lists it (runtimes/onnx/repository/config.ts). */
interface Tensor {
  name: string;
  datatype: Datatype;
  dims: number[];
}

/** The runtime's name rules (runtimes/onnx/repository/config.ts), checked before anything is written. */
const MODEL_NAME = /^[a-zA-Z0-9_.-]+$/;
const VERSION_NAME = /^[0-9A-Za-z_.-]+$/;

/**
 * `switchyard model`: from an ONNX file to a model repository the runtime serves.
 * - `init` scaffolds `<REPO>/<NAME>/config.yaml` and `<REPO>/<NAME>/<V>/model.onnx` (or adds a
 *   version to a model already there), with the file's sha256 and its inputs and outputs;
 * - `hash` prints a file's sha256, as config.yaml's `versions.V.sha256` wants it;
 * - `check` runs the checks the runtime makes at load on every version, and says which fail.
 * ONNX Runtime is loaded (with `import()`) only to read a file's inputs and outputs and by
 * `check`; the gateway's image, which lacks it, still runs `hash` and `init --input/--output`.
 * Returns the exit status.
 */
export async function runModel(argv: string[], out: Output, err: Output): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === 'help' || asksForHelp(argv)) {
    out.write(renderHelp(findCommand([MODEL_SPEC], ['model', ...argv]) ?? MODEL_SPEC));
    return 0;
  }
  switch (verb) {
    case 'init':
      return init(rest, out, err);
    case 'hash':
      return hash(rest, out, err);
    case 'check':
      return check(rest, out, err);
    default:
      throw new UsageError(`model takes init, hash or check, not ${JSON.stringify(verb ?? '')}`, MODEL_SPEC);
  }
}

/** sha256 of a file, read as a stream: a model file may be gigabytes. */
export async function fileSha256(path: string): Promise<string> {
  const digest = createHash('sha256');
  for await (const chunk of createReadStream(path)) digest.update(chunk as Buffer);
  return digest.digest('hex');
}

async function hash(argv: string[], out: Output, err: Output): Promise<number> {
  const { positionals } = parseCommandLine(MODEL_HASH_SPEC, argv, { positionals: true });
  if (positionals.length === 0) throw new UsageError('model hash takes one or more files', MODEL_HASH_SPEC);
  let status = 0;
  for (const path of positionals) {
    try {
      // The layout of sha256sum, so `sha256sum -c` reads it.
      out.write(`${await fileSha256(path)}  ${path}\n`);
    } catch (error) {
      err.write(`switchyard: ${path}: ${describeError(error)}\n`);
      status = 1;
    }
  }
  return status;
}

async function init(argv: string[], out: Output, err: Output): Promise<number> {
  const { values, positionals } = parseCommandLine(MODEL_INIT_SPEC, argv, { positionals: true });
  const [repository, name, ...extra] = positionals;
  const usage = (message: string) => new UsageError(message, MODEL_INIT_SPEC);
  if (repository === undefined || name === undefined || extra.length > 0)
    throw usage('model init takes REPO NAME --onnx FILE');
  if (!values.onnx) throw usage('model init needs --onnx FILE');
  if (!MODEL_NAME.test(name)) throw usage(`a model name is letters, digits and _ . -, not "${name}"`);
  const version = values.version ?? DEFAULT_VERSION;
  if (!VERSION_NAME.test(version)) throw usage(`a version is letters, digits and _ . -, not "${version}"`);
  const givenInputs = (values.input ?? []).map((spec) => parseTensor('--input', spec));
  const givenOutputs = (values.output ?? []).map((spec) => parseTensor('--output', spec));

  let bytes: Buffer;
  try {
    bytes = await readFile(values.onnx);
  } catch (error) {
    err.write(`switchyard: ${values.onnx}: ${describeError(error)}\n`);
    return 1;
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const modelDir = join(repository, name);
  const configPath = join(modelDir, 'config.yaml');
  const filePath = join(modelDir, version, 'model.onnx');
  if (await exists(filePath)) {
    err.write(`switchyard: ${filePath} exists: choose another --version\n`);
    return 1;
  }

  let configText: string;
  if (await exists(configPath)) {
    // A new version of a model already there: its tensors are the config's; `model check`
    // says whether the new file has them.
    // Edited as text, after the last version, leaving every other byte (and comment) alone.
    const source = await readFile(configPath, 'utf8');
    const doc = parseDocument(source);
    if (doc.hasIn(['versions', version])) {
      err.write(`switchyard: ${configPath} already lists version "${version}"\n`);
      return 1;
    }
    try {
      const versions = blockMap(doc, ['versions']);
      const last = versions.items.at(-1)?.key;
      if (!isScalar(last)) throw new UneditableError('versions lists no version');
      const editor = new TextEditor(source);
      putPair(editor, versions, flowText(version), `{ sha256: ${sha256} }`, String(last.value));
      configText = editor.result();
    } catch (error) {
      if (!(error instanceof UneditableError)) throw error;
      err.write(`switchyard: ${configPath}: cannot add the version (${error.message}); add it by hand\n`);
      return 1;
    }
  } else {
    const signature = await readSignature(bytes, givenInputs, givenOutputs);
    if ('problem' in signature) {
      err.write(`switchyard: ${values.onnx}: ${signature.problem}\n`);
      return 1;
    }
    const maxBatchSize = integer('--max-batch-size', values['max-batch-size'], signature.batched ? 64 : 0);
    configText = scaffoldConfig(name, version, sha256, maxBatchSize, signature.inputs, signature.outputs);
  }
  await mkdir(join(modelDir, version), { recursive: true });
  await writeFile(filePath, bytes);
  await writeFile(configPath, configText);
  out.write(
    [
      `wrote ${filePath} (sha256 ${sha256})`,
      `wrote ${configPath}:`,
      ...configText.split('\n').map((line) => (line ? `  ${line}` : line)),
      `next: switchyard model check ${repository}`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function check(argv: string[], out: Output, err: Output): Promise<number> {
  const { values, positionals } = parseCommandLine(MODEL_CHECK_SPEC, argv, { positionals: true });
  const [repository, ...extra] = positionals;
  if (repository === undefined || extra.length > 0)
    throw new UsageError('model check takes REPO', MODEL_CHECK_SPEC);
  if (!(await stat(repository).catch(() => undefined))?.isDirectory()) {
    err.write(`switchyard: ${repository} is not a directory\n`);
    return 1;
  }
  const { checkRepository } = await import('../../runtimes/onnx/repository/check.js');
  const results = await checkRepository(repository, values.model);
  if (results.length === 0) {
    const what = values.model === undefined ? 'no model' : `no model "${values.model}"`;
    err.write(`switchyard: ${what} in ${repository} (a model is a folder with a config.yaml)\n`);
    return 1;
  }
  for (const r of results) {
    out.write(
      `${r.ok ? 'ok  ' : 'FAIL'}  ${r.model}${r.version === undefined ? '' : ` ${r.version}`}: ${r.detail}\n`,
    );
  }
  const failed = results.filter((r) => !r.ok).length;
  out.write(
    failed === 0
      ? `${results.length} version(s) would load and serve\n`
      : `${failed} of ${results.length} would not load: the runtime would not serve them\n`,
  );
  return failed === 0 ? 0 : 1;
}

/** `NAME:DATATYPE:D1,D2`: one row's dimensions, without the batch dimension. */
function parseTensor(flag: string, spec: string): Tensor {
  const match = /^([^:]+):([A-Z0-9]+):(\d+(?:,\d+)*)$/.exec(spec);
  const datatype = match?.[2] as Datatype | undefined;
  if (!match || !datatype || !DATATYPES.includes(datatype)) {
    throw new UsageError(
      `${flag} takes NAME:DATATYPE:D1,D2,… (DATATYPE one of ${DATATYPES.join(', ')}), not "${spec}"`,
    );
  }
  const dims = match[3]!.split(',').map(Number);
  if (dims.some((d) => d < 1)) throw new UsageError(`${flag} dimensions are 1 or more, not "${spec}"`);
  return { name: match[1]!, datatype, dims };
}

type Signature = { inputs: Tensor[]; outputs: Tensor[]; batched: boolean } | { problem: string };

/** The tensors given on the command line, the rest read from the file with ONNX Runtime. */
async function readSignature(bytes: Uint8Array, inputs: Tensor[], outputs: Tensor[]): Promise<Signature> {
  if (inputs.length > 0 && outputs.length > 0) return { inputs, outputs, batched: true };
  let describe: (bytes: Uint8Array) => Promise<OnnxSignature>;
  try {
    describe = (await import('../../runtimes/onnx/repository/describe.js')).describeOnnxModel;
  } catch (error) {
    return {
      problem:
        `cannot read its inputs and outputs without onnxruntime-node (${describeError(error)}): ` +
        'give them with --input and --output',
    };
  }
  let read: OnnxSignature;
  try {
    read = await describe(bytes);
  } catch (error) {
    return { problem: `ONNX Runtime cannot open it: ${describeError(error)}` };
  }
  const problems = read.problems.filter(
    (p) => !(inputs.length > 0 && p.startsWith('input ')) && !(outputs.length > 0 && p.startsWith('output ')),
  );
  if (problems.length > 0) return { problem: problems.join('; ') };
  return {
    inputs: inputs.length > 0 ? inputs : read.inputs,
    outputs: outputs.length > 0 ? outputs : read.outputs,
    batched: read.batched,
  };
}

/** config.yaml for a new model, every field the runtime reads with a word on what it does. */
function scaffoldConfig(
  name: string,
  version: string,
  sha256: string,
  maxBatchSize: number,
  inputs: Tensor[],
  outputs: Tensor[],
): string {
  const tensor = (t: Tensor) =>
    `  - { name: ${t.name}, datatype: ${t.datatype}, dims: [${t.dims.join(', ')}] }`;
  return [
    `# Written by switchyard model init; the fields are explained in docs/own-model.md.`,
    `name: ${name}`,
    `# Most rows one inference takes (0: each request runs alone).`,
    `max_batch_size: ${maxBatchSize}`,
    `# One row's dimensions: the first (batch) dimension is not listed.`,
    `inputs:`,
    ...inputs.map(tensor),
    `outputs:`,
    ...outputs.map(tensor),
    `dynamic_batching: { max_queue_delay_us: 500 }`,
    `execution_providers: [cpu]`,
    `# A version serves only while its file's sha256 matches (switchyard model hash FILE).`,
    `versions:`,
    `  '${version}': { sha256: ${sha256} }`,
    '',
  ].join('\n');
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
