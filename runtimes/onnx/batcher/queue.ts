import type { BatchMessage } from './message.js';

/**
 * FIFO of queued messages with row accounting. A message cancelled while queued (its deadline
 * passed) is only marked settled and skipped later, so cancelling costs O(1).
 */
export class RequestQueue {
  /** Queued messages from `head` on; the slots before it are emptied. */
  private items: (BatchMessage | undefined)[] = [];
  private head = 0;
  private liveCount = 0;
  private liveRows = 0;

  get size(): number {
    return this.liveCount;
  }

  get rows(): number {
    return this.liveRows;
  }

  push(message: BatchMessage): void {
    this.items.push(message);
    this.liveCount++;
    this.liveRows += message.rows;
  }

  oldest(): BatchMessage | undefined {
    this.skipSettled();
    return this.items[this.head];
  }

  /** Takes queued messages in order while their rows fit in `maxRows` (always at least one). */
  take(maxRows: number): BatchMessage[] {
    const batch: BatchMessage[] = [];
    let rows = 0;
    for (;;) {
      const next = this.oldest();
      if (!next || (batch.length > 0 && rows + next.rows > maxRows)) break;
      // Forget it here: a taken message holds its request's tensors and waiter until answered.
      this.items[this.head++] = undefined;
      this.liveCount--;
      this.liveRows -= next.rows;
      rows += next.rows;
      batch.push(next);
    }
    this.compact();
    return batch;
  }

  /** Forgets a queued message that was settled elsewhere (deadline passed). */
  cancel(message: BatchMessage): void {
    this.liveCount--;
    this.liveRows -= message.rows;
  }

  private skipSettled(): void {
    while (this.head < this.items.length && this.items[this.head]!.state === 'settled') {
      this.items[this.head++] = undefined;
    }
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
