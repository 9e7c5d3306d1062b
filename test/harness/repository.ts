import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

/** Changes fields of `<repository>/<model>/config.yaml`, e.g. `{ max_batch_size: 0 }`. */
export async function editModelConfig(
  repository: string,
  model: string,
  edit: (config: Record<string, unknown>) => void,
): Promise<void> {
  const path = join(repository, model, 'config.yaml');
  const document = parseDocument(await readFile(path, 'utf8'));
  const config = document.toJS() as Record<string, unknown>;
  edit(config);
  await writeFile(path, JSON.stringify(config, null, 2));
}
