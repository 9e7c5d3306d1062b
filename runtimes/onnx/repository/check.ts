import { checkVersion, readModelConfigs } from './load.js';

/** One version (or one model folder that never got as far as its versions) and how it fared. */
export interface RepositoryCheck {
  model: string;
  /** Undefined for a problem with the model's config.yaml. */
  version?: string;
  ok: boolean;
  /** The runtime's reason when not ok; the execution provider that opened it when ok. */
  detail: string;
}

/**
 * The checks the runtime makes when it loads the repository (load.ts, the same functions): each
 * model's config.yaml against the schema and its folder's name, then each version's checksum,
 * its inputs and outputs against the file, and a warm-up inference. Versions are checked one at a
 * time and their sessions released, so a large repository does not need its memory at once.
 */
export async function checkRepository(dir: string, onlyModel?: string): Promise<RepositoryCheck[]> {
  const { configs, problems } = await readModelConfigs(dir);
  const results: RepositoryCheck[] = problems
    .filter((p) => onlyModel === undefined || p.model === onlyModel)
    .map((p) => ({ model: p.model, ok: false, detail: p.message }));
  for (const config of configs) {
    if (onlyModel !== undefined && config.name !== onlyModel) continue;
    for (const [version, versionConfig] of Object.entries(config.versions)) {
      try {
        const checked = await checkVersion(dir, config, version, versionConfig);
        await checked.session.release();
        results.push({ model: config.name, version, ok: true, detail: `loads on ${checked.provider}` });
      } catch (error) {
        results.push({
          model: config.name,
          version,
          ok: false,
          detail: error instanceof Error ? error.message : String(error),
        });
      }
    }
    if (Object.keys(config.versions).length === 0) {
      results.push({ model: config.name, ok: false, detail: 'config.yaml lists no versions' });
    }
  }
  return results;
}
