import type { ModelMetadata } from '../../shared/oip.js';
import type { Logger } from '../../shared/logger.js';
import type { UpstreamPool } from '../../runtime-pool/index.js';
import { metadataExchange } from '../../outbound/metadata-exchange.js';

export interface MetadataSource {
  /** The runtime's metadata for this model version, once fetched. */
  current(): ModelMetadata | undefined;
}

const RETRY_MS = 2000;

/**
 * Fetches each served model version's metadata from its runtime once (retrying until one
 * answers) and keeps it for the life of the process: a version's signature does not change.
 */
export class MetadataRegistry {
  private readonly entries = new Map<string, { metadata?: ModelMetadata; timer?: NodeJS.Timeout }>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  source(pool: UpstreamPool, model: string, version: string): MetadataSource {
    const key = `${pool.name}/${model}/${version}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const created: { metadata?: ModelMetadata; timer?: NodeJS.Timeout } = {};
      entry = created;
      this.entries.set(key, created);
      const attempt = (): void => {
        if (this.closed) return;
        void fetchMetadata(pool, model, version).then((metadata) => {
          if (metadata) {
            created.metadata = metadata;
            this.logger.info({ upstream: pool.name, model, version }, 'runtime metadata fetched');
          } else {
            created.timer = setTimeout(attempt, RETRY_MS).unref();
          }
        });
      };
      attempt();
    }
    const known = entry;
    return { current: () => known.metadata };
  }

  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
  }
}

async function fetchMetadata(
  pool: UpstreamPool,
  model: string,
  version: string,
): Promise<ModelMetadata | undefined> {
  const fetched = pool.lease(undefined, async (endpoint) => {
    try {
      const { status, text } = await metadataExchange(endpoint, model, version, 2000);
      return { outcome: status >= 500 ? 'error' : 'ok', status, text } as const;
    } catch {
      return { outcome: 'error', status: 0, text: '' } as const;
    }
  });
  if (!fetched) return undefined;
  const { status, text } = await fetched;
  if (status !== 200) return undefined;
  try {
    const metadata = JSON.parse(text) as ModelMetadata;
    return Array.isArray(metadata.inputs) && Array.isArray(metadata.outputs) ? metadata : undefined;
  } catch {
    return undefined;
  }
}
