// LISTEN/NOTIFY wake-ups: across connections, only at commit, and surviving a dropped connection.
import { sql } from 'kysely';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createDb } from '../src/db/index.js';
import { notify, Notifier } from '../src/db/notifier.js';
import { useTestApp } from './support/app.js';

const t = useTestApp();

function notifier() {
  return new Notifier(t.config.databaseUrl, pino({ level: 'silent' }));
}

describe('Notifier', () => {
  it('wakes a waiter when another connection commits, not before', async () => {
    const n = notifier();
    const other = createDb(t.config.databaseUrl, { max: 1 });
    try {
      let state = 'pending';
      const waiting = n.waitFor('thing:1', 5_000, async () => (state === 'done' ? state : undefined));
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      let woken = false;
      void waiting.then(() => (woken = true));
      await other.transaction().execute(async (tx) => {
        await notify(tx, 'thing:1');
        state = 'done';
        await new Promise((r) => setTimeout(r, 150));
        expect(woken).toBe(false); // queued until commit
      });
      expect(await waiting).toBe('done');
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await n.close();
      await other.destroy();
    }
  });

  it('a close while the waiter is checking ends the wait with 503 at once, not at the timeout', async () => {
    const n = notifier();
    const started = Date.now();
    const waiting = n.waitFor('thing:2', 10_000, async () => {
      await n.close(); // the shutdown's wake-up comes while the state is read
      return undefined;
    });
    await expect(waiting).rejects.toMatchObject({ code: 'unavailable' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('returns undefined after the timeout when nothing changes', async () => {
    const n = notifier();
    try {
      const started = Date.now();
      expect(await n.waitFor('nobody', 150, async () => undefined)).toBeUndefined();
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await n.close();
    }
  });

  it('waits on several keys: a wake-up for any of them re-checks, and the subscriptions go after', async () => {
    const n = notifier();
    const other = createDb(t.config.databaseUrl, { max: 1 });
    try {
      let checks = 0;
      const waiting = n.waitFor(['thing:a', 'thing:b'], 5_000, async () => (++checks === 2 ? 'woken by b' : undefined));
      await expect.poll(() => checks).toBe(1);
      const started = Date.now();
      await notify(other, 'thing:b');
      expect(await waiting).toBe('woken by b');
      expect(Date.now() - started).toBeLessThan(1_000);
      expect((n as unknown as { listeners: Map<string, unknown> }).listeners.size).toBe(0);
    } finally {
      await n.close();
      await other.destroy();
    }
  });

  it('an abort ends the wait at once, with the abort reason', async () => {
    const n = notifier();
    try {
      const controller = new AbortController();
      const started = Date.now();
      const waiting = n.waitFor('thing:c', 10_000, async () => undefined, controller.signal);
      setTimeout(() => controller.abort(new Error('client gone')), 50);
      await expect(waiting).rejects.toThrow('client gone');
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await n.close();
    }
  });

  it('re-connects after its connection is killed and keeps delivering', async () => {
    const n = notifier();
    try {
      let wakes = 0;
      await n.subscribe('k', () => wakes++);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
                where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`.execute(
        t.deps.db,
      );
      await expect.poll(() => wakes, { timeout: 5_000 }).toBeGreaterThan(0); // woken to re-check
      const before = wakes;
      await expect
        .poll(
          async () => {
            await notify(t.deps.db, 'k');
            return wakes > before + 1;
          },
          { timeout: 10_000, interval: 200 },
        )
        .toBe(true);
    } finally {
      await n.close();
    }
  });
});
