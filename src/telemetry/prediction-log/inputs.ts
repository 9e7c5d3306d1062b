import { createHash, hash } from 'node:crypto';
import { binaryOf } from '../../shared/binary-tensors.js';
import type { ContractConfig } from '../../contract/config.js';
import type { RequestInput } from '../../shared/oip.js';

export const REDACTED = '[redacted]';

/**
 * sha256 (hex) of the OIP inputs sent upstream: the same question gets the same hash whichever
 * variant answered it, so records of one input can be joined across variants without storing it.
 * (The cache key also hashes the outputs asked for and the version, which would split them.)
 */
export function inputHash(inputs: readonly RequestInput[]): string {
  const text = JSON.stringify(inputs);
  if (!inputs.some((input) => binaryOf(input) !== undefined)) return hash('sha256', text, 'hex');
  // Binary inputs (the binary tensor extension): their JSON has no data, their bytes stand in for
  // it, hashed as they came rather than decoded. The same values sent as JSON hash differently.
  const digest = createHash('sha256').update(text);
  for (const input of inputs) {
    const bytes = binaryOf(input);
    if (bytes !== undefined) digest.update(bytes);
  }
  return digest.digest('hex');
}

/** The decision endpoint's named features, in contract order, with redacted names masked. */
export function loggedFeatures(
  features: unknown,
  contract: ContractConfig,
  redact: ReadonlySet<string>,
): Record<string, unknown> {
  const given = (typeof features === 'object' && features !== null ? features : {}) as Record<
    string,
    unknown
  >;
  const logged: Record<string, unknown> = {};
  for (const { name } of contract.features) {
    if (name in given) logged[name] = redact.has(name) ? REDACTED : given[name];
  }
  return logged;
}

export interface LoggedTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown;
}

/**
 * Tensor inputs with redaction: a tensor named in `redact` is masked whole; in the contract's
 * input tensor, the columns of redacted features are masked row by row. When the columns can't
 * be told apart (an unexpected shape), the whole tensor is masked: redaction errs on hiding.
 */
export function loggedTensors(
  inputs: readonly RequestInput[],
  contract: ContractConfig | undefined,
  redact: ReadonlySet<string>,
): LoggedTensor[] {
  const columns = contract
    ? contract.features.flatMap((feature, index) => (redact.has(feature.name) ? [index] : []))
    : [];
  return inputs.map((input) => {
    const tensor = { name: input.name, datatype: input.datatype, shape: input.shape };
    if (redact.has(input.name)) return { ...tensor, data: REDACTED };
    if (!contract || input.name !== contract.input || columns.length === 0)
      return { ...tensor, data: input.data };
    const width = contract.features.length;
    const flat = (input.data as unknown[]).flat(Infinity);
    if (input.shape.length !== 2 || input.shape[1] !== width || flat.length % width !== 0)
      return { ...tensor, data: REDACTED };
    const masked: unknown[] = flat.slice();
    for (let row = 0; row < flat.length; row += width) for (const c of columns) masked[row + c] = REDACTED;
    return { ...tensor, data: masked };
  });
}
