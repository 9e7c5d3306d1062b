import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { DEMO_REPOSITORY } from './switchyard.js';
import { freshDir } from './workdir.js';

/**
 * A temp copy of config/models with `max_batch_size: 0` (dynamic batching off: each request runs
 * alone) for every model. The textdir file comes from the installed npm package, which the
 * runtime still finds from a repository outside the project.
 */
export async function repositoryWithoutBatching(models: readonly string[]): Promise<string> {
  const dir = freshDir('repository-no-batching');
  for (const model of models) {
    await cp(join(DEMO_REPOSITORY, model), join(dir, model), { recursive: true });
    const path = join(dir, model, 'config.yaml');
    const document = parseDocument(await readFile(path, 'utf8'));
    document.set('max_batch_size', 0);
    await writeFile(path, document.toString());
  }
  return dir;
}
