// Server-side prepared statements, chosen automatically (as JDBC's prepareThreshold and Npgsql's
// auto-prepare do). node-postgres sends each query unnamed, so Postgres parses and plans it on
// every call; for Leash's hot statements planning cost more than running them (bench/changes.md). A statement text a
// connection has run PREPARE_AFTER times gets a name there, and from then on is parsed once and
// planned as Postgres's plan cache decides (a generic plan after five runs, if no worse).
import pg from 'pg';

/** Runs of one text on one connection before it is prepared: one-off shapes (an IN list of some
 *  length) stay unnamed. */
const PREPARE_AFTER = 3;
/** Named statements per connection; past it, texts run unnamed (nothing is evicted). */
const MAX_PREPARED = 200;
/** Texts counted per connection before the count starts over (bounds the memory of one-offs). */
const MAX_COUNTED = 2_000;

/** A schema change under a prepared `select *` (a deploy migrating while this process runs). */
const STALE_PLAN = /cached plan must not change result type/;

export class PreparingClient extends pg.Client {
  readonly #runs = new Map<string, number>();
  readonly #names = new Map<string, string>();
  /** Texts whose statement went stale: unnamed from now on, on this connection. */
  readonly #stale = new Set<string>();
  #assigned = 0;

  // The promise form with parameters is Kysely's; every other form passes through unchanged.
  override query(...args: unknown[]): never {
    const [text, values, callback] = args;
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || callback !== undefined) {
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const name = this.#nameFor(text);
    if (!name) return super.query(text, values) as never;
    return super.query({ name, text, values }).catch((err: unknown) => {
      if (!(err instanceof Error && STALE_PLAN.test(err.message))) throw err;
      // Run it unnamed instead; inside a transaction that fails too (the transaction is already
      // aborted), and the caller's next attempt succeeds.
      this.#names.delete(text);
      this.#stale.add(text);
      return super.query(text, values);
    }) as never;
  }

  #nameFor(text: string): string | undefined {
    const known = this.#names.get(text);
    if (known) return known;
    if (this.#names.size >= MAX_PREPARED || this.#stale.has(text)) return undefined;
    const runs = (this.#runs.get(text) ?? 0) + 1;
    if (runs < PREPARE_AFTER) {
      if (this.#runs.size >= MAX_COUNTED) this.#runs.clear();
      this.#runs.set(text, runs);
      return undefined;
    }
    this.#runs.delete(text);
    const name = `leash_${this.#assigned++}`;
    this.#names.set(text, name);
    return name;
  }
}
