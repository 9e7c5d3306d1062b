import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../stages/auth/authenticate.js';
import { UsageError } from './args.js';
import { parseCommandLine, type CommandSpec } from './command-spec.js';

export const KEYS_NEW_SPEC = {
  name: 'keys new',
  summary: "a fresh API key, and the sha256 line to paste under the tenant's keys: in the config",
  flags: [{ name: 'tenant', value: 'NAME', required: true, description: 'the tenant the key is for' }],
} as const satisfies CommandSpec;

export const KEYS_SPEC = {
  name: 'keys',
  summary: 'API keys for the config file: only their sha256 is written down',
  flags: [],
  subcommands: [KEYS_NEW_SPEC],
} as const satisfies CommandSpec;

/**
 * `switchyard keys new --tenant NAME`: a fresh API key (192 random bits) and the line to paste
 * under that tenant's `keys:` in the config. Only the hash goes into the file.
 */
export function runKeys(argv: string[], out: { write(text: string): unknown }): void {
  const [verb, ...rest] = argv;
  if (verb !== 'new') throw new UsageError(`keys takes "new", not ${JSON.stringify(verb ?? '')}`, KEYS_SPEC);
  const { values } = parseCommandLine(KEYS_NEW_SPEC, rest);
  if (!values.tenant || !/^[a-zA-Z0-9_.-]+$/.test(values.tenant))
    throw new UsageError('--tenant NAME is required', KEYS_NEW_SPEC);
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
