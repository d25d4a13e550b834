// Migration 0009 on a database migrated to 0008 with identities linked the old way: each is
// confirmed unless members of several workspaces hold it (one workspace claiming another's
// identity left that footprint, and nothing tells which claim is the holder's).
import { randomBytes } from 'node:crypto';
import { Migrator, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrations } from '../migrations/index.js';
import { createDb, newId } from '../src/db/index.js';
import { adminQuery, testDatabaseUrl } from './support/db.js';

describe('migration 0009: existing identities', () => {
  it('are confirmed where no other workspace holds them; shared across workspaces they start unconfirmed', async () => {
    const name = `leash_t_m9_${randomBytes(5).toString('hex')}`;
    await adminQuery(`create database ${name}`);
    const db = createDb(testDatabaseUrl(name), { max: 1 });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      expect((await migrator.migrateTo('0008_installation_secret')).error).toBeUndefined();
      const [a, b] = [newId(), newId()];
      await sql`insert into workspaces (id, name) values (${a}, 'A'), (${b}, 'B')`.execute(db);
      const member = async (ws: string, ids: { phone?: string; slack?: string; telegram?: string }) => {
        const id = newId();
        await sql`insert into members (id, workspace_id, email, role, phone, slack_team_id, slack_user_id, telegram_user_id)
          values (${id}, ${ws}, ${`${id}@example.com`}, 'owner', ${ids.phone ?? null}, ${ids.slack ? 'T0M9' : null}, ${ids.slack ?? null}, ${ids.telegram ?? null})`.execute(
          db,
        );
        return id;
      };
      const sharer = await member(a, { phone: '+15550009001', slack: 'U0SHARED', telegram: '9001' });
      const claimer = await member(b, { phone: '+15550009001', slack: 'U0SHARED', telegram: '9002' });
      const unique = await member(a, { phone: '+15550009002', slack: 'U0ALONE' });
      const bare = await member(b, {});
      // Same Slack user id in another team is another identity.
      const otherTeam = newId();
      await sql`insert into members (id, workspace_id, email, role, slack_team_id, slack_user_id) values (${otherTeam}, ${b}, 'x@example.com', 'viewer', 'T0OTHER', 'U0ALONE')`.execute(
        db,
      );

      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const { rows } = await sql<{ id: string; phone: boolean; slack: boolean; telegram: boolean }>`
        select id, phone_confirmed_at is not null as phone, slack_confirmed_at is not null as slack, telegram_confirmed_at is not null as telegram
        from members`.execute(db);
      const state = Object.fromEntries(
        rows.map((r) => [r.id, { phone: r.phone, slack: r.slack, telegram: r.telegram }]),
      );
      expect(state[sharer]).toEqual({ phone: false, slack: false, telegram: true });
      expect(state[claimer]).toEqual({ phone: false, slack: false, telegram: true });
      expect(state[unique]).toEqual({ phone: true, slack: true, telegram: false });
      expect(state[bare]).toEqual({ phone: false, slack: false, telegram: false });
      expect(state[otherTeam]).toEqual({ phone: false, slack: true, telegram: false });
      // A confirmation cannot outlive its identity.
      await expect(sql`update members set phone = null where id = ${unique}`.execute(db)).rejects.toMatchObject({
        constraint: 'members_phone_confirmed',
      });
    } finally {
      await db.destroy();
      await adminQuery(`drop database if exists ${name} with (force)`);
    }
  });
});
