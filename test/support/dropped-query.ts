// A database failure in the middle of handling, made with the real Postgres: a table is locked from
// a second connection, the next query on it waits, and that waiting backend is terminated (what a
// Postgres restart or failover does to the queries in flight: 57P01). Everything before that query
// (the dedupe row, say) commits normally; the lock is released right after, so a retry succeeds.
import pg from 'pg';
import { pgConfig } from '../../src/db/index.js';

export interface DroppedQuery {
  /** Waits for a query on the table to block, terminates its backend, and releases the table. */
  drop(): Promise<void>;
  /** Releases the table without dropping anything (cleanup). */
  release(): Promise<void>;
}

export async function dropNextQueryOn(databaseUrl: string, table: string): Promise<DroppedQuery> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  await client.query('begin');
  await client.query(`lock table ${client.escapeIdentifier(table)} in access exclusive mode`);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await client.query('rollback').catch(() => {});
    await client.end().catch(() => {});
  };
  const waiter = async (): Promise<number> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      // By the lock it waits for, not by its text: a statement still being parsed shows its
      // connection's previous query in pg_stat_activity.
      const { rows } = await client.query<{ pid: number }>(
        'select pid from pg_locks where relation = $1::regclass and not granted',
        [table],
      );
      if (rows[0]) return rows[0].pid;
      if (Date.now() > deadline) throw new Error(`no query on ${table} came to wait for the lock`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    async drop() {
      try {
        await client.query('select pg_terminate_backend($1)', [await waiter()]);
      } finally {
        await release();
      }
    },
    release,
  };
}
