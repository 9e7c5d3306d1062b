import type { Logger } from '../shared/logger.js';
import type { DeferredTasks } from '../telemetry/deferred.js';
import type { RolloutEvent } from './controller.js';

export type Notifier = (event: RolloutEvent) => void;

/** Events waiting to be sent; past this, the oldest are dropped (and logged): never unbounded memory. */
const QUEUE_LIMIT = 100;

/**
 * POSTs each rollout event as JSON to `notify.url`, one at a time in order, retrying a failed
 * delivery up to `retries` times with a doubling pause. Off the request path and never blocking
 * the controller: a slow or dead receiver only delays (or drops) notifications.
 */
export function createNotifier(
  config: { url: string; timeout_ms: number; retries: number },
  logger: Logger,
  deferred?: Pick<DeferredTasks, 'failed'>,
): Notifier {
  const queue: RolloutEvent[] = [];
  let sending = false;

  async function deliver(event: RolloutEvent): Promise<void> {
    for (let attempt = 0; attempt <= config.retries; attempt++) {
      try {
        const response = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(config.timeout_ms),
        });
        await response.body?.cancel();
        if (response.ok) return;
        if (response.status < 500 && response.status !== 429) break; // the receiver refuses it: no retry helps
      } catch {
        // a connection error or a timeout: try again
      }
      if (attempt < config.retries)
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt).unref());
    }
    logger.warn(
      { url: config.url, model: event.model, rollout_event: event.event },
      'rollout notification not delivered',
    );
  }

  async function drain(): Promise<void> {
    sending = true;
    try {
      while (queue.length > 0) await deliver(queue.shift()!);
    } finally {
      // Even after a failure, so the next event starts sending again.
      sending = false;
    }
  }

  return (event) => {
    if (queue.length >= QUEUE_LIMIT) {
      const dropped = queue.shift()!;
      logger.warn(
        { model: dropped.model, rollout_event: dropped.event },
        'rollout notification dropped: queue full',
      );
    }
    queue.push(event);
    // Nobody awaits the loop: a rejection left to itself would end the process.
    if (!sending) drain().catch((error: unknown) => deferred?.failed('rollout_notify', error));
  };
}
