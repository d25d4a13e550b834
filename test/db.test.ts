// The database layer: a pool that keeps its connections, and statements prepared on them.
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { batchedPerDb, createDb, type Db } from '../src/db/index.js';
import { useTestApp } from './support/app.js';

const t = useTestApp();

describe('the connection pool', () => {
  it('keeps its connections open through a lull (reconnecting costs a cold backend)', async () => {
    const db = createDb(t.config.databaseUrl, { max: 3 });
    try {
      const pids = async () =>
        (
          await Promise.all(
            [1, 2, 3].map(() => sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(db)),
          )
        )
          .map((r) => r.rows[0]!.pid)
          .sort();
      const before = await pids();
      expect(new Set(before).size).toBe(3);
      await new Promise((r) => setTimeout(r, 10_500)); // node-postgres closes idle connections after 10 s by default
      expect(await pids()).toEqual(before);
    } finally {
      await db.destroy();
    }
  }, 20_000);
});

describe('prepared statements', () => {
  it('a statement run again on a connection is prepared there once, and answers as before', async () => {
    const db = createDb(t.config.databaseUrl, { max: 1 });
    try {
      for (let i = 0; i < 6; i++)
        expect((await sql<{ n: number }>`select ${i}::int + 1 as n`.execute(db)).rows).toEqual([{ n: i + 1 }]);
      const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db);
      expect(rows.map((r) => r.statement)).toContain('select $1::int + 1 as n');
      // A statement without parameters is never named (BEGIN, COMMIT, …).
      expect(rows.map((r) => r.statement)).not.toContain('select statement from pg_prepared_statements');
    } finally {
      await db.destroy();
    }
  });

  it('a migration under a prepared `select *` (a deploy while this process runs) does not break the statement', async () => {
    const db = createDb(t.config.databaseUrl, { max: 1 });
    const other = createDb(t.config.databaseUrl, { max: 1 });
    try {
      await sql`create table scratch (a int)`.execute(db);
      await sql`insert into scratch values (1)`.execute(db);
      const read = () => sql<Record<string, number | null>>`select * from scratch where a = ${1}`.execute(db);
      for (let i = 0; i < 4; i++) expect((await read()).rows).toEqual([{ a: 1 }]);
      await sql`alter table scratch add column b int`.execute(other);
      expect((await read()).rows).toEqual([{ a: 1, b: null }]);
      expect((await read()).rows).toEqual([{ a: 1, b: null }]);
    } finally {
      await db.destroy();
      await other.destroy();
    }
  });
});

describe('group commit (batchedPerDb)', () => {
  it('one bad item in a batch fails alone: its neighbours are written and answered', async () => {
    await sql`create table batch_probe (n int not null check (n >= 0))`.execute(t.deps.db);
    let flushes = 0;
    const insert = batchedPerDb(async (db: Db, items: number[]) => {
      flushes++;
      const { rows } = await sql<{
        n: number;
      }>`insert into batch_probe (n) select unnest(${items}::int[]) returning n`.execute(db);
      return rows.map((r) => r.n);
    }, 100);
    // The first goes alone; the rest queue behind it and go as one batch, which the -1 fails.
    const results = await Promise.allSettled([0, 1, 2, -1, 3].map((n) => insert(t.deps.db, n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(
      results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value),
    ).toEqual([0, 1, 2, 3]);
    expect(((results[3] as PromiseRejectedResult).reason as { code?: string }).code).toBe('23514');
    const { rows } = await sql<{ n: number }>`select n from batch_probe order by n`.execute(t.deps.db);
    expect(rows.map((r) => r.n)).toEqual([0, 1, 2, 3]);
    // One alone, one batch that failed, then each of its four again.
    expect(flushes).toBe(6);
  });
});
