import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { BuiltGateway } from './build.js';

/**
 * The config version new requests run on. A request takes the version once, at its start, and
 * finishes on it even if a reload swaps in another meanwhile; pools only the old version used
 * are closed when its last request is done.
 */
export class ActiveGateway {
  private current: BuiltGateway;
  /** Older versions that still have requests running; their pools stay open while they do. */
  private readonly draining = new Set<BuiltGateway>();

  constructor(
    first: BuiltGateway,
    private readonly metrics: GatewayMetrics,
  ) {
    this.current = first;
    metrics.configInfo.set({ hash: first.snapshot.hash, file_hash: first.snapshot.fileHash }, 1);
  }

  get version(): BuiltGateway {
    return this.current;
  }

  enter(): BuiltGateway {
    const gateway = this.current;
    gateway.inFlight++;
    return gateway;
  }

  leave(gateway: BuiltGateway): void {
    gateway.inFlight--;
    if (gateway !== this.current && gateway.inFlight === 0) this.retire(gateway);
  }

  swap(next: BuiltGateway): void {
    const old = this.current;
    this.current = next;
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ hash: next.snapshot.hash, file_hash: next.snapshot.fileHash }, 1);
    this.draining.add(old);
    if (old.inFlight === 0) this.retire(old);
  }

  async close(): Promise<void> {
    await Promise.all([...this.current.pools.values()].map((pool) => pool.close()));
  }

  /**
   * Closes the pools of a version whose last request finished, unless the current version or
   * another older one still running uses them: a pool can be shared by several versions.
   */
  private retire(old: BuiltGateway): void {
    if (!this.draining.delete(old)) return;
    const inUse = new Set([this.current, ...this.draining].flatMap((version) => [...version.pools.values()]));
    for (const pool of old.pools.values()) if (!inUse.has(pool)) void pool.close();
  }
}
