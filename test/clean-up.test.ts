// Retention (jobs/clean-up.ts): rows past their use go, in batches; everything still needed — an
// unread or held message, a pending delivery and the event it posts, the timeline — stays.
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cleanUp } from '../jobs/clean-up.js';
import { useTestApp } from './support/app.js';

const t = useTestApp();
const DAY = 24 * 3600 * 1000;

/** A UUIDv7 of `daysAgo`, as Leash would have made it then. */
function idOf(daysAgo: number): string {
  const hex = (Date.now() - daysAgo * DAY).toString(16).padStart(12, '0') + '7' + randomBytes(10).toString('hex');
  const h = hex.slice(0, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
const ago = (days: number) => new Date(Date.now() - days * DAY);

const retention = { messagesDays: 7, deliveriesDays: 30, inboundDays: 7, batch: 2 };

describe('clean-up', () => {
  it('deletes acknowledged old messages, settled old deliveries, their events and old dedupe rows; keeps the rest and the timeline', async () => {
    const db = t.deps.db;
    const ws = await t.workspace();
    const bot = await ws.agent('retained');
    // Eight messages sent 10 days ago, five acknowledged; two sent today, both acknowledged.
    const msg = (seq: number, daysAgo: number) => ({
      id: idOf(daysAgo),
      workspace_id: ws.id,
      recipient_id: bot.id,
      sender_id: bot.id,
      seq,
      body: JSON.stringify({ seq }),
      created_at: ago(daysAgo),
    });
    await db
      .insertInto('messages')
      .values([...[1, 2, 3, 4, 5, 6, 7, 8].map((s) => msg(s, 10)), msg(9, 0), msg(10, 0)])
      .execute();
    await db.updateTable('agents').set({ inbox_seq: 10, acked_seq: 5 }).where('id', '=', bot.id).execute();
    // Events and deliveries 40 days old: one settled, one still pending (its event is kept).
    const oldEvent = idOf(40);
    const neededEvent = idOf(40);
    const recentEvent = idOf(1);
    await db
      .insertInto('outbox')
      .values(
        [oldEvent, neededEvent, recentEvent].map((id) => ({
          id,
          created_at: ago(id === recentEvent ? 1 : 40),
          workspace_id: ws.id,
          agent_id: bot.id,
          type: 'agent.paused',
          payload: JSON.stringify({ type: 'agent.paused' }),
          dispatched_at: ago(40),
        })),
      )
      .execute();
    const delivery = (event: string, status: 'succeeded' | 'failed' | 'pending', daysAgo: number) => ({
      id: idOf(daysAgo),
      workspace_id: ws.id,
      event_id: event,
      event_type: 'agent.paused',
      agent_id: bot.id,
      status,
      created_at: ago(daysAgo),
      updated_at: ago(daysAgo),
    });
    await db
      .insertInto('deliveries')
      .values([
        delivery(oldEvent, 'succeeded', 40),
        delivery(randomUUID(), 'failed', 40),
        delivery(neededEvent, 'pending', 40),
        delivery(recentEvent, 'succeeded', 1),
      ])
      .execute();
    const source = `test-${randomBytes(3).toString('hex')}`;
    await db
      .insertInto('inbound_requests')
      .values([1, 2, 3].map((i) => ({ source, key: `old-${i}`, received_at: ago(8) })))
      .execute();
    await db
      .insertInto('inbound_requests')
      .values({ source, key: 'new', received_at: ago(1) })
      .execute();
    // The timeline is the audit: a year-old entry stays.
    await db
      .insertInto('activity')
      .values({
        id: idOf(400),
        workspace_id: ws.id,
        agent_id: bot.id,
        action: 'agent.paused',
        actor: JSON.stringify({ type: 'member', id: null, display: 'ana@acme.com' }),
        channel: 'api',
        created_at: ago(400),
      })
      .execute();
    const timeline = (await t.call('GET', `/v1/agents/${bot.id}/activity`, { key: ws.ownerKey })).body;
    expect(timeline.data).toHaveLength(2);

    const deleted = await cleanUp(db, retention);

    const seqs = await db
      .selectFrom('messages')
      .select('seq')
      .where('recipient_id', '=', bot.id)
      .orderBy('seq')
      .execute();
    expect(seqs.map((m) => Number(m.seq))).toEqual([6, 7, 8, 9, 10]);
    const events = await db.selectFrom('outbox').select('id').where('agent_id', '=', bot.id).execute();
    expect(events.map((e) => e.id).sort()).toEqual([neededEvent, recentEvent].sort());
    const left = await db
      .selectFrom('deliveries')
      .select(['event_id', 'status'])
      .where('agent_id', '=', bot.id)
      .execute();
    expect(left.map((d) => d.status).sort()).toEqual(['pending', 'succeeded']);
    const inbound = await db.selectFrom('inbound_requests').select('key').where('source', '=', source).execute();
    expect(inbound.map((r) => r.key)).toEqual(['new']);
    // In batches of two: five messages took three statements; the counts are per table.
    expect(deleted).toMatchObject({ messages: 5, outbox: 1, deliveries: 2 });
    expect(deleted.inbound_requests).toBeGreaterThanOrEqual(3);
    expect((await t.call('GET', `/v1/agents/${bot.id}/activity`, { key: ws.ownerKey })).body).toEqual(timeline);

    // Nothing more to do: a second run deletes nothing.
    expect(await cleanUp(db, retention)).toEqual({});
  });
});
