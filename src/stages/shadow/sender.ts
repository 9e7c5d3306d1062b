import { performance } from 'node:perf_hooks';
import { gatewayError } from '../../errors.js';
import { refuse, type Reply } from '../../pipeline/stage.js';
import type { InferRequest } from '../../shared/oip.js';
import type { Logger } from '../../shared/logger.js';
import type { VariantCall } from '../../outbound/variant-call.js';
import type { DeferredTasks } from '../../telemetry/deferred.js';
import { batchKey, mergeRequests, splitResponse } from './batch.js';
import type { ShadowConfig } from './config.js';

/** One request's copy, on its way to one shadow. */
export interface MirroredCopy {
  readonly requestId: string;
  readonly inference: InferRequest;
  /** The request's JSON, when the primary call had written it: sent as is when the copy goes alone. */
  readonly inferenceText: string | undefined;
  /**
   * The bytes of the inputs given in binary: such a copy goes alone with them as they came
   * (merging copies would mean decoding their values into JSON).
   */
  readonly inferenceTensors?: readonly Buffer[];
  /** Told the shadow's answer to this copy's rows, and how long the call that carried them took. */
  settle(reply: Reply, latencyMs: number): void;
}

export interface MirrorSenderOptions {
  /** Calls the shadow through its own breaker. */
  call: VariantCall;
  /** The time a mirrored call may take. */
  budgetMs: number;
  /** Rows one call may carry now (1: every copy alone), read at each send. */
  maxRows(): number;
  /** Told the rows of each call sent. */
  observeRows(rows: number): void;
  logger: Logger;
  /** Where a failure in sending copies or settling them is counted and logged. */
  deferred: Pick<DeferredTasks, 'later' | 'failed'>;
}

/**
 * Sends the copies bound for one shadow. Copies queued during one turn of the event loop leave
 * together at its end: those that can share a call (same inputs and row shapes) go as one request
 * of up to `maxRows()` rows, the others alone. A shadow that answers a batch with outputs it can't
 * cut back into rows gets every later copy alone: its copies then still compare.
 *
 * All of it runs after the requests were answered, in setImmediate and promise callbacks where a
 * throw would end the process: a copy that cannot be sent (a batch key or a merged request that
 * cannot be written) or an answer that cannot be split is settled as failed and counted
 * (`shadow_send`), and so are the others of its call, so their count of copies in flight is
 * released; a settle that throws is counted (`shadow_compare`).
 */
export function createMirrorSender(
  modelName: string,
  shadow: ShadowConfig,
  options: MirrorSenderOptions,
): (copy: MirroredCopy) => void {
  let queue: MirroredCopy[] = [];
  let batchesRefused = false;
  const { deferred } = options;

  function settleSafely(settle: MirroredCopy['settle'], answer: Reply, latencyMs: number): void {
    try {
      settle(answer, latencyMs);
    } catch (error) {
      deferred.failed('shadow_compare', error);
    }
  }

  /** Copies that could not be sent, or whose answer could not be attributed: settled as failed. */
  function failCopies(
    settles: readonly MirroredCopy['settle'][],
    error: unknown,
    what = 'the mirrored copy could not be sent',
    latencyMs = 0,
  ): void {
    deferred.failed('shadow_send', error);
    const failed = refuse(gatewayError('INTERNAL', what, { cause: error }));
    for (const settle of settles) settleSafely(settle, failed, latencyMs);
  }

  function callShadow(
    inference: InferRequest | undefined,
    text: string | undefined,
    requestId: string,
    tensors?: readonly Buffer[],
  ) {
    const started = performance.now();
    const reply = options.call(
      {
        inference,
        inferenceText: text,
        inferenceTensors: tensors,
        requestId,
        headers: {},
        deadline: started + options.budgetMs,
      },
      shadow,
    );
    // A call never rejects by contract; were it to, the copies still settle (and leave the count
    // of copies in flight) instead of waiting forever.
    return reply
      .catch((error: unknown) =>
        refuse(gatewayError('INTERNAL', 'the mirrored call failed', { cause: error })),
      )
      .then((answer) => ({ answer, latencyMs: performance.now() - started }));
  }

  // While a call is out (the shadow may be slow) only the copies' settle functions are held: their
  // inputs, kept across young-generation GCs, made the GCs of a gateway mirroring everything longer.
  function alone(copy: MirroredCopy, rows: number): void {
    options.observeRows(rows);
    const text = copy.inferenceText;
    const { settle } = copy;
    const tensors = copy.inferenceTensors;
    void callShadow(text === undefined ? copy.inference : undefined, text, copy.requestId, tensors).then(
      ({ answer, latencyMs }) => settleSafely(settle, answer, latencyMs),
    );
  }

  function together(copies: MirroredCopy[], rows: number[], total: number): void {
    const text = JSON.stringify(mergeRequests(copies.map((copy) => copy.inference)));
    options.observeRows(total);
    const settles = copies.map((copy) => copy.settle);
    // The runtime logs the call under the first copy's request id.
    void callShadow(undefined, text, copies[0]!.requestId).then(({ answer, latencyMs }) => {
      let answers: Reply[];
      try {
        answers = answersPerCopy(answer, rows, total);
      } catch (error) {
        failCopies(settles, error, "the shadow's answer to a batch could not be split", latencyMs);
        return;
      }
      settles.forEach((settle, i) => settleSafely(settle, answers[i]!, latencyMs));
    });
  }

  /** The answer to a batch of copies, as each copy's answer (a failure is every copy's). */
  function answersPerCopy(answer: Reply, rows: number[], total: number): Reply[] {
    const parts = answer.ok && answer.response ? splitResponse(answer.response, rows) : undefined;
    if (answer.ok && answer.response && !parts) {
      if (!batchesRefused) {
        batchesRefused = true;
        options.logger.warn(
          { model: modelName, shadow: shadow.name, rows: total },
          'shadow answered a batch of copies without a row per copy: copies now go one at a time',
        );
      }
      const failed = refuse(gatewayError('UPSTREAM_FAILED', 'the answer to a batch could not be split'));
      return rows.map(() => failed);
    }
    return rows.map((_, i) => (parts && answer.ok ? { ...answer, response: parts[i] } : answer));
  }

  function flush(): void {
    const copies = queue;
    queue = [];
    const maxRows = batchesRefused ? 1 : options.maxRows();
    const groups = new Map<string, { copies: MirroredCopy[]; rows: number[]; total: number }>();
    for (const copy of copies) {
      let batch: ReturnType<typeof batchKey>;
      let rows: number;
      try {
        const mergeable = maxRows > 1 && copies.length > 1 && copy.inferenceTensors === undefined;
        batch = mergeable ? batchKey(copy.inference) : undefined;
        rows = batch?.rows ?? rowsOf(copy.inference);
      } catch (error) {
        failCopies([copy.settle], error);
        continue;
      }
      if (!batch || batch.rows >= maxRows) {
        sendGroup({ copies: [copy], rows: [rows], total: rows });
        continue;
      }
      let group = groups.get(batch.key);
      if (group && group.total + batch.rows > maxRows) {
        sendGroup(group);
        group = undefined;
      }
      if (!group) groups.set(batch.key, (group = { copies: [], rows: [], total: 0 }));
      group.copies.push(copy);
      group.rows.push(batch.rows);
      group.total += batch.rows;
    }
    for (const group of groups.values()) sendGroup(group);
  }

  function sendGroup(group: { copies: MirroredCopy[]; rows: number[]; total: number }): void {
    try {
      if (group.copies.length === 1) alone(group.copies[0]!, group.total);
      else together(group.copies, group.rows, group.total);
    } catch (error) {
      failCopies(
        group.copies.map((copy) => copy.settle),
        error,
      );
    }
  }

  return (copy) => {
    queue.push(copy);
    // After the primary's request is on its way: the copies leave at the end of this turn.
    if (queue.length === 1) deferred.later('shadow_send', flush);
  };
}

/** The rows of a copy that goes alone, for the rows histogram: its first input's first dimension. */
function rowsOf(inference: InferRequest): number {
  const first: unknown = inference.inputs[0];
  const shape =
    typeof first === 'object' && first !== null ? (first as { shape?: unknown }).shape : undefined;
  return Array.isArray(shape) && typeof shape[0] === 'number' ? shape[0] : 1;
}
