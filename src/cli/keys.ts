import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sha256Hex } from '../stages/auth/authenticate.js';
import { UsageError } from './args.js';

export const KEYS_USAGE = 'switchyard keys new --tenant NAME';

/**
 * `switchyard keys new --tenant NAME`: a fresh API key (192 random bits) and the line to paste
 * under that tenant's `keys:` in the config. Only the hash goes into the file.
 */
export function runKeys(argv: string[], out: { write(text: string): unknown }): void {
  const [verb, ...rest] = argv;
  if (verb !== 'new') throw new UsageError(`keys takes "new", not ${JSON.stringify(verb ?? '')}`);
  const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' } }, strict: true });
  if (!values.tenant || !/^[a-zA-Z0-9_.-]+$/.test(values.tenant))
    throw new UsageError('--tenant NAME is required');
  const key = `sk-${randomBytes(24).toString('base64url')}`;
  out.write(
    [
      `API key for tenant ${values.tenant} (shown once; give it to the caller, store it as a secret):`,
      `  ${key}`,
      `Paste under the tenant's keys: in the gateway config:`,
      `      - sha256: '${sha256Hex(key)}' # ${values.tenant}, created ${new Date().toISOString().slice(0, 10)}`,
      '',
    ].join('\n'),
  );
}
