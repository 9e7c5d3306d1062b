import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../../../src/shared/logger.js';
import { createBatcher, type Batcher, type BatchObserver } from '../batcher/batcher.js';
import { openSession, ort, type ExecutionProvider } from '../session.js';
import { allocate, ORT_TYPE, type Tensor } from '../tensors.js';
import { ModelConfigSchema, type ModelConfig, type VersionConfig } from './config.js';

export type VersionState = 'loading' | 'ready' | 'unavailable';

export interface ModelVersion {
  model: string;
  version: string;
  state: VersionState;
  /** Why the version is unavailable. */
  reason?: string;
  provider?: ExecutionProvider;
  batcher?: Batcher;
}

export interface RepositoryModel {
  name: string;
  config: ModelConfig;
  versions: Map<string, ModelVersion>;
}

export interface Repository {
  models: Map<string, RepositoryModel>;
  /** Resolves once every version has loaded or failed. */
  loaded: Promise<void>;
}

/** Reads `<dir>/<model>/config.yaml` for every model folder, validating each config. */
export async function readModelConfigs(
  dir: string,
): Promise<{ configs: ModelConfig[]; problems: { model: string; message: string }[] }> {
  const configs: ModelConfig[] = [];
  const problems: { model: string; message: string }[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    let text: string;
    try {
      text = await readFile(join(dir, entry.name, 'config.yaml'), 'utf8');
    } catch {
      continue; // a folder without config.yaml is not a model
    }
    const raw: unknown = Value.Default(ModelConfigSchema, parseYaml(text) ?? {});
    const errors = [...Value.Errors(ModelConfigSchema, raw)];
    if (errors.length > 0) {
      const list = errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
      problems.push({ model: entry.name, message: `invalid config.yaml: ${list}` });
      continue;
    }
    const config = raw as ModelConfig;
    if (config.name !== entry.name) {
      problems.push({
        model: entry.name,
        message: `config.yaml names "${config.name}" in folder "${entry.name}"`,
      });
      continue;
    }
    configs.push(config);
  }
  return { configs, problems };
}

/**
 * Loads every version of every model in the repository. Versions load in the background:
 * each one turns ready only after its checksum matched, ONNX Runtime opened it and a warm-up
 * inference ran; a version that fails stays unavailable with the reason, and the rest serve.
 */
export async function loadRepository(
  dir: string,
  deps: { logger: Logger; observer: (model: string, version: string) => BatchObserver },
): Promise<Repository> {
  const { configs, problems } = await readModelConfigs(dir);
  for (const problem of problems) deps.logger.error(problem, 'model not loaded');
  const models = new Map<string, RepositoryModel>();
  const loads: Promise<void>[] = [];
  for (const config of configs) {
    const versions = new Map<string, ModelVersion>();
    for (const [version, versionConfig] of Object.entries(config.versions)) {
      const entry: ModelVersion = { model: config.name, version, state: 'loading' };
      versions.set(version, entry);
      loads.push(
        loadVersion(dir, config, versionConfig, entry, deps.observer(config.name, version)).then(
          () =>
            deps.logger.info(
              { model: config.name, version, provider: entry.provider },
              'model version ready',
            ),
          (error: unknown) => {
            entry.state = 'unavailable';
            entry.reason = error instanceof Error ? error.message : String(error);
            deps.logger.error(
              { model: config.name, version, reason: entry.reason },
              'model version not loaded',
            );
          },
        ),
      );
    }
    models.set(config.name, { name: config.name, config, versions });
  }
  return { models, loaded: Promise.all(loads).then(() => undefined) };
}

function modelFilePath(dir: string, config: ModelConfig, version: string, entry: VersionConfig): string {
  if (entry.package_file) return installedPackageFile(resolve(dir, config.name), entry.package_file);
  return join(dir, config.name, entry.path ?? join(version, 'model.onnx'));
}

/**
 * Finds `<package>/<path>` where Node would find the package. Resolution by
 * file path, not `require.resolve`, because a package's "exports" may not list its data files.
 */
function installedPackageFile(fromDir: string, packageFile: string): string {
  const parts = packageFile.split('/');
  const nameLength = packageFile.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLength).join('/');
  // From the repository first, then from switchyard's own install, whose dependencies include
  // the demo model packages: a repository mounted outside the project still finds them.
  const lookups = [
    ...(createRequire(join(fromDir, 'config.yaml')).resolve.paths(name) ?? []),
    ...(createRequire(import.meta.url).resolve.paths(name) ?? []),
  ];
  const packageDir = lookups
    .map((dir) => join(dir, name))
    .find((dir) => existsSync(join(dir, 'package.json')));
  if (!packageDir) throw new Error(`package "${name}" is not installed (run npm ci)`);
  return join(packageDir, ...parts.slice(nameLength));
}

/** A version that passed every check of a load: what serving it needs. */
export interface CheckedVersion {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  run: ReturnType<typeof createRunner>;
}

/**
 * Every check a version passes before it serves: its file's sha256 matches the config, ONNX
 * Runtime opens it, its inputs and outputs are the config's, and a warm-up inference runs.
 * Throws the first that fails. `switchyard model check` runs the same (src/cli/model.ts).
 */
export async function checkVersion(
  dir: string,
  config: ModelConfig,
  version: string,
  versionConfig: VersionConfig,
): Promise<CheckedVersion> {
  const path = modelFilePath(dir, config, version, versionConfig);
  const bytes = await readFile(path);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== versionConfig.sha256) {
    throw new Error(`checksum mismatch for ${path}: config says ${versionConfig.sha256}, file is ${digest}`);
  }
  const { session, provider } = await openSession(bytes, config.execution_providers, config.intra_op_threads);
  try {
    checkSignature(session, config);
    const run = createRunner(session, config);
    await run(warmUpInputs(config), 1);
    return { session, provider, run };
  } catch (error) {
    await session.release();
    throw error;
  }
}

async function loadVersion(
  dir: string,
  config: ModelConfig,
  versionConfig: VersionConfig,
  entry: ModelVersion,
  observer: BatchObserver,
): Promise<void> {
  const { provider, run } = await checkVersion(dir, config, entry.version, versionConfig);
  entry.provider = provider;
  entry.batcher = createBatcher({
    run,
    inputs: config.inputs,
    maxBatchSize: config.max_batch_size,
    maxQueueDelayUs: config.dynamic_batching.max_queue_delay_us,
    preferredBatchSizes: config.dynamic_batching.preferred_batch_sizes,
    maxQueueSize: config.dynamic_batching.max_queue_size,
    queueTimeoutUs: config.dynamic_batching.queue_timeout_us,
    instances: config.instances,
    observer,
  });
  entry.state = 'ready';
}

/** The config is what clients are told; refuse a model file that does not match it. */
function checkSignature(session: ort.InferenceSession, config: ModelConfig): void {
  const metadata = new Map(session.inputMetadata.map((m) => [m.name, m]));
  for (const input of config.inputs) {
    const actual = metadata.get(input.name);
    if (!actual)
      throw new Error(`the model has no input "${input.name}" (it has ${session.inputNames.join(', ')})`);
    if (actual.isTensor && actual.type !== ORT_TYPE[input.datatype]) {
      throw new Error(
        `input "${input.name}" is ${actual.type} in the model, ${input.datatype} in config.yaml`,
      );
    }
  }
  for (const output of config.outputs) {
    if (!session.outputNames.includes(output.name)) {
      throw new Error(`the model has no output "${output.name}" (it has ${session.outputNames.join(', ')})`);
    }
  }
}

function createRunner(session: ort.InferenceSession, config: ModelConfig) {
  const fetches = config.outputs.map((o) => o.name);
  return async (inputs: Map<string, Tensor>, rows: number): Promise<Map<string, Tensor>> => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const spec of config.inputs) {
      const tensor = inputs.get(spec.name)!;
      feeds[spec.name] = new ort.Tensor(ORT_TYPE[spec.datatype], tensor.data, [rows, ...spec.dims]);
    }
    const results = await session.run(feeds, fetches);
    const outputs = new Map<string, Tensor>();
    for (const name of fetches) {
      const result = results[name]!;
      outputs.set(name, { data: result.data as Tensor['data'], dims: result.dims.map(Number) });
    }
    return outputs;
  };
}

function warmUpInputs(config: ModelConfig): Map<string, Tensor> {
  const inputs = new Map<string, Tensor>();
  for (const spec of config.inputs) {
    const size = spec.dims.reduce((a, b) => a * b, 1);
    inputs.set(spec.name, { data: allocate(spec.datatype, size), dims: [1, ...spec.dims] });
  }
  return inputs;
}

/** Version names in order, numerically where they can be ("10" after "9"). */
const versionOrder = new Intl.Collator('en', { numeric: true });

/** The version a request without one goes to: the highest ready version, numerically where it can. */
export function latestReadyVersion(model: RepositoryModel): ModelVersion | undefined {
  let latest: ModelVersion | undefined;
  for (const version of model.versions.values()) {
    if (version.state !== 'ready') continue;
    if (!latest || versionOrder.compare(version.version, latest.version) > 0) latest = version;
  }
  return latest;
}
