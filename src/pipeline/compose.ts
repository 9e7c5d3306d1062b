import { performance } from 'node:perf_hooks';
import { GatewayError, gatewayError } from '../errors.js';
import { stageTracer } from '../telemetry/tracing.js';
import type { NamedStage, Reply, RequestContext } from './stage.js';

export interface Pipeline {
  readonly stageNames: readonly string[];
  /** Whether each stage runs in a span: decided when the pipeline is built, never per request. */
  readonly traced: boolean;
  run(ctx: RequestContext): Promise<Reply>;
}

/**
 * Chains stages in order. Malformed chains are refused here, when the pipeline is built, never
 * mid-request. Each stage's own time (excluding the stages after it) lands in `ctx.stageMs`, so
 * `server-timing` can say where the milliseconds went. A stage that throws becomes a Refusal:
 * a GatewayError keeps its code, anything else is an internal error (logged by the caller).
 */
export function compose(stages: readonly NamedStage[]): Pipeline {
  const names = new Set<string>();
  stages.forEach((stage, index) => {
    if (!stage || typeof stage.run !== 'function') throw new TypeError(`stage ${index} has no run function`);
    if (typeof stage.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(stage.name)) {
      throw new TypeError(
        `stage ${index} needs a lower-case name for server-timing, got ${String(stage.name)}`,
      );
    }
    if (names.has(stage.name)) throw new TypeError(`stage "${stage.name}" appears twice`);
    if (stage.run.length > 2) throw new TypeError(`stage "${stage.name}" takes (ctx, next), not more`);
    names.add(stage.name);
  });
  // Without a tracer provider the stages run as given: the request path never calls the tracing API.
  const traceStage = stageTracer();
  const runs = stages.map((stage) => (traceStage ? traceStage(stage.name, stage.run) : stage.run));

  const terminal = (): Promise<Reply> =>
    Promise.resolve({ ok: false, error: gatewayError('INTERNAL', 'the pipeline ended without an answer') });

  function dispatch(ctx: RequestContext, index: number): Promise<Reply> {
    const stage = stages[index];
    if (!stage) return terminal();
    const started = performance.now();
    let called = false;
    const next = (): Promise<Reply> => {
      if (called) return Promise.reject(new Error(`stage "${stage.name}" called next() twice`));
      called = true;
      return dispatch(ctx, index + 1);
    };
    // The stage's own time: its whole time less what the stages after it recorded as theirs
    // (each has settled by then; those that never ran recorded 0). Counting it here rather than
    // around next() spares a promise per stage.
    const ownTime = (): void => {
      let downstream = 0;
      for (let later = index + 1; later < ctx.stageMs.length; later++) downstream += ctx.stageMs[later]!;
      ctx.stageMs[index] = performance.now() - started - downstream;
    };
    let result: Promise<Reply>;
    try {
      result = runs[index]!(ctx, next);
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (reply) => {
        ownTime();
        return reply;
      },
      (error: unknown) => {
        ownTime();
        const failure =
          error instanceof GatewayError ? error : gatewayError('INTERNAL', undefined, { cause: error });
        return { ok: false, error: failure };
      },
    );
  }

  return {
    stageNames: stages.map((s) => s.name),
    traced: traceStage !== undefined,
    run: (ctx) => dispatch(ctx, 0),
  };
}
