import { performance } from 'node:perf_hooks';
import { GatewayError, gatewayError } from '../errors.js';
import { stageTracer } from '../telemetry/tracing.js';
import type { AfterStep, Finished, NamedStage, Reply, RequestContext, Respond, Stage } from './stage.js';

/** A request's whole lifecycle, in the order it happens. */
export interface Lifecycle {
  /** In request order; each refuses or passes on (and may act on the reply on its way back). */
  stages: readonly NamedStage[];
  /** Then the reply becomes the HTTP answer; timed as the stage `respond`. */
  respond: Respond;
  /** Then, the answer ready, each of these in order. */
  after: readonly AfterStep[];
}

export interface Pipeline {
  /** The stages' names and `respond`, in the order of `ctx.stageMs`. */
  readonly stageNames: readonly string[];
  /** Whether each stage runs in a span: decided when the pipeline is built, never per request. */
  readonly traced: boolean;
  run(ctx: RequestContext): Promise<Finished>;
}

/** The entry of `respond` in server-timing, the stage metrics and the trace. */
export const RESPOND_STAGE = 'respond';

/**
 * Chains stages in order, then responds, then runs the after-phase. Malformed chains are refused
 * here, when the pipeline is built, never mid-request. Each stage's own time (excluding the stages
 * after it) lands in `ctx.stageMs`, so `server-timing` can say where the milliseconds went. A stage
 * that throws becomes a Refusal: a GatewayError keeps its code, anything else is an internal error
 * (logged by the after-phase).
 */
export function compose(lifecycle: Lifecycle): Pipeline {
  const { stages, respond, after } = lifecycle;
  const names = new Set<string>([RESPOND_STAGE]);
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
  if (typeof respond !== 'function') throw new TypeError('the pipeline needs a respond function');
  after.forEach((step, index) => {
    if (typeof step !== 'function') throw new TypeError(`after-step ${index} is not a function`);
  });
  // Without a tracer provider the stages run as given: the request path never calls the tracing API.
  const traceStage = stageTracer();
  const runs = stages.map((stage) => (traceStage ? traceStage(stage.name, stage.run) : stage.run));
  const respondAt = stages.length; // respond's slot in ctx.stageMs
  const stageNames: readonly string[] = [...stages.map((s) => s.name), RESPOND_STAGE];
  const respondTraced = traceStage ? tracedRespond(traceStage, respond) : undefined;

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
      for (let later = index + 1; later < respondAt; later++) downstream += ctx.stageMs[later]!;
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

  async function run(ctx: RequestContext): Promise<Finished> {
    const started = performance.now();
    const reply = await dispatch(ctx, 0);
    const responding = performance.now();
    const response = respondTraced ? await respondTraced(ctx, reply) : respond(ctx, reply);
    const finishedAt = performance.now();
    ctx.stageMs[respondAt] = finishedAt - responding;
    const finished: Finished = {
      ctx,
      reply,
      response,
      stageNames,
      pipelineMs: finishedAt - started,
      finishedAt,
    };
    for (const step of after) step(finished);
    return finished;
  }

  return {
    stageNames,
    traced: traceStage !== undefined,
    run,
  };
}

/** `respond` in a span of its own, like a stage's: the tracer wraps stages, so it is given one. */
function tracedRespond(
  traceStage: (name: string, run: Stage) => Stage,
  respond: Respond,
): (ctx: RequestContext, reply: Reply) => Promise<Finished['response']> {
  return async (ctx, reply) => {
    let response: Finished['response'] | undefined;
    const asStage = traceStage(RESPOND_STAGE, async (c, next) => {
      const settled = await next();
      response = respond(c, settled);
      return settled;
    });
    await asStage(ctx, () => Promise.resolve(reply));
    return response!;
  };
}
