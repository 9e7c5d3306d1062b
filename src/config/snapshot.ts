import { createHash } from 'node:crypto';
import type { DriftReference } from '../drift/reference.js';
import type { GatewayConfig } from './schema.js';

/** One validated version of the config. Stages are built from it and never see another. */
export interface ConfigSnapshot {
  /** Defaults applied, deep-frozen: a stage that tries to change it throws instead of changing it for everyone. */
  readonly config: GatewayConfig;
  /** Names this version in logs, metrics and the admin endpoint; the same settings give the same hash. */
  readonly hash: string;
  /**
   * The settings as the file writes them, before `${VAR}`s are filled in: the same on every
   * machine that reads the same file, whatever its environment. The CLI, which edits the file in
   * a shell whose environment is not the gateway's, can always say this one (`hash` can differ:
   * `switchyard dev` points SWITCHYARD_RUNTIME_URL at the runtime it started).
   */
  readonly fileHash: string;
  readonly source: string;
  readonly loadedAt: Date;
  /**
   * The drift reference files the config names, by model, read and checked with it (when it was
   * loaded from a file). Not part of the hash, which names the config's settings alone.
   */
  readonly driftReferences?: ReadonlyMap<string, DriftReference>;
}

export function createSnapshot(
  config: GatewayConfig,
  asWritten: unknown,
  source: string,
  loadedAt = new Date(),
): ConfigSnapshot {
  const hash = configHash(config);
  return Object.freeze({ config: deepFreeze(config), hash, fileHash: fileHash(asWritten), source, loadedAt });
}

/**
 * sha256 of the canonical JSON, first 16 hex characters. Hashing the effective settings rather
 * than the file text means reordering keys, editing comments or spelling out a default leaves the
 * version unchanged, while any change in behaviour changes it.
 */
export function configHash(config: GatewayConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/** Like configHash, of the parsed file before interpolation and defaults (comments and key order still do not count). */
export function fileHash(asWritten: unknown): string {
  return createHash('sha256').update(canonicalJson(asWritten)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted at every level (array order is meaningful and kept). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
