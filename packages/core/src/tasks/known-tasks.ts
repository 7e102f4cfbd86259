import type { Pool } from '../db/pool.js';
import { readCatalogue, writeContracts } from './catalogue.js';
import type { TaskContract } from './define.js';

/**
 * The task catalogue as a process that accepts tasks (the API) sees it: a snapshot of the `tasks`
 * table, read again when it is older than `maxAgeMs`, or at once (at most every `missRetryMs`) when
 * asked for a name it lacks, so a task a worker registered a moment ago is accepted on the next request.
 * `own` are the contracts this process brings (the engine's, its extensions'): written to the
 * catalogue before the first read, and known even when a reader wrote older ones.
 */
export class KnownTasks {
  private byName = new Map<string, TaskContract>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  private ownWritten = false;

  constructor(
    private readonly pool: Pool,
    private readonly own: readonly TaskContract[] = [],
    private readonly maxAgeMs = 5000,
    private readonly missRetryMs = 200,
  ) {}

  /** Makes `get` current enough for these names: reloads if stale, or if one is missing. */
  async refresh(names: Iterable<string> = []): Promise<void> {
    const age = performance.now() - this.loadedAt;
    const missing = [...names].some((name) => !this.byName.has(name));
    if (age < this.maxAgeMs && !(missing && age >= this.missRetryMs)) return;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    await this.loading;
  }

  get(name: string): TaskContract | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  private async load(): Promise<void> {
    if (!this.ownWritten) {
      await writeContracts(this.pool, this.own);
      this.ownWritten = true;
    }
    const contracts = await readCatalogue(this.pool);
    // An unchanged contract keeps its object, so its compiled args validator (validateArgs) is kept too.
    const same = (c: TaskContract) => {
      const known = this.byName.get(c.name);
      return known && JSON.stringify(known) === JSON.stringify(c) ? known : c;
    };
    const byName = new Map(contracts.map((c) => [c.name, same(c)]));
    for (const c of this.own) byName.set(c.name, c);
    this.byName = byName;
    this.loadedAt = performance.now();
  }
}
