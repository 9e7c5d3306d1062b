import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The external programs the benchmarks drive, with the Debian packages that provide each, tried in
 * order (bookworm has nginx-light; from trixie on there is only nginx).
 */
export const TOOLS = {
  wrk: ['wrk'],
  nginx: ['nginx-light', 'nginx'],
  haproxy: ['haproxy'],
  'redis-server': ['redis-server'],
} as const satisfies Record<string, readonly string[]>;

export type ToolName = keyof typeof TOOLS;

/** Raised when a program is missing and could not be installed; the message says what to do. */
export class ToolMissingError extends Error {}

// nginx and haproxy live in /usr/sbin, which is not on every user's PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

function findOnPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const found = new Map<ToolName, string>();
let aptUpdated = false;

/**
 * The path of `name`; when it is missing and we are root, installs its Debian package with
 * apt-get first. Throws {@link ToolMissingError} naming the package when that is not possible.
 */
export function requireTool(name: ToolName): string {
  const cached = found.get(name);
  if (cached) return cached;
  let path = findOnPath(name);
  if (!path) {
    const packages: readonly string[] = TOOLS[name];
    const wanted = packages.join(' or ');
    if (process.getuid?.() !== 0) {
      throw new ToolMissingError(
        `${name} not found and not running as root: install it with "sudo apt-get install ${packages[0]}"`,
      );
    }
    process.stderr.write(`bench: ${name} not found; installing the Debian package ${wanted}\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const problems: string[] = [];
    try {
      if (!aptUpdated) execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      aptUpdated = true;
    } catch (error) {
      problems.push(`apt-get update: ${String(error)}`);
    }
    for (const pkg of packages) {
      try {
        execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env });
        // The benchmark starts its own copy on a free loopback port; the package's service is not it.
        process.stderr.write(
          `bench: installed ${pkg}; on a host with an init system Debian may also have started its ` +
            `${name} service, which the benchmark neither uses nor stops\n`,
        );
        break;
      } catch (error) {
        problems.push(`apt-get install ${pkg}: ${String(error)}`);
      }
    }
    path = findOnPath(name);
    if (!path)
      throw new ToolMissingError(
        `${name} not found and could not be installed (${wanted}): ${problems.join('; ') || 'installed, yet not found'}`,
      );
  }
  found.set(name, path);
  return path;
}

/** First line a program prints for its version flag (nginx and wrk print it on stderr), or why not. */
export function toolVersion(name: ToolName, flag: string): string {
  const path = findOnPath(name);
  if (!path) return 'not installed';
  const result = spawnSync(path, [flag], { encoding: 'utf8', timeout: 5_000 });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  return text.split('\n')[0]!.trim() || 'unknown';
}
