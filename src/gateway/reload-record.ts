import type { ConfigProblem } from '../config/problem.js';

/** The last change of the config file the gateway saw, as `GET /admin/config` shows it. */
export interface ReloadOutcome {
  /** ISO 8601. */
  at: string;
  /** As counted in switchyard_config_reload_total. */
  outcome: 'ok' | 'invalid' | 'error';
  /** The hash now serving after an `ok`; null otherwise (the previous config kept serving). */
  config: string | null;
  /** Why an `invalid` file was refused, each at its path. */
  problems: ConfigProblem[];
  /** What failed for an `error` (unreadable file, a build that threw). */
  error: string | null;
}

/**
 * Remembers the last reload: a refused edit is otherwise only in the logs, and an operator
 * looking at the console should see that the file they edited is not the one serving.
 */
export class ReloadRecord {
  private latest: ReloadOutcome | null = null;

  constructor(private readonly now: () => Date = () => new Date()) {}

  get last(): ReloadOutcome | null {
    return this.latest;
  }

  ok(hash: string): void {
    this.set('ok', { config: hash });
  }

  invalid(problems: readonly ConfigProblem[]): void {
    this.set('invalid', { problems: problems.map(({ path, message }) => ({ path: path || '/', message })) });
  }

  error(error: unknown): void {
    this.set('error', { error: error instanceof Error ? error.message : String(error) });
  }

  private set(outcome: ReloadOutcome['outcome'], detail: Partial<ReloadOutcome>): void {
    this.latest = {
      at: this.now().toISOString(),
      outcome,
      config: null,
      problems: [],
      error: null,
      ...detail,
    };
  }
}
