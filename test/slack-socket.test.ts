// Socket Mode against the fake Slack: the app connects through apps.connections.open, commands
// arrive as envelopes and are answered in the ack; a redelivered envelope changes nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { confirmed } from './support/identities.js';
import { dropNextQueryOn } from './support/dropped-query.js';
import { startFakeSlack } from './support/fake-slack.js';

const slack = await startFakeSlack();
const t = useTestApp({
  SLACK_APP_TOKEN: 'xapp-test-token',
  SLACK_BOT_TOKEN: 'xoxb-test-token',
  SLACK_API_URL: slack.apiUrl,
});
afterAll(() => slack.close());

const TEAM = 'T0SOCKET1';
const userId = () => `U${randomBytes(4).toString('hex').toUpperCase()}`;
const seen = (key: string) =>
  t.deps.db.selectFrom('inbound_requests').select('key').where('source', '=', 'slack').where('key', '=', key).execute();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup() {
  await expect.poll(() => slack.socket.connected()).toBe(true);
  const ws = await t.workspace();
  const owner = userId();
  await t.deps.db
    .updateTable('members')
    .set(confirmed({ slack_team_id: TEAM, slack_user_id: owner }))
    .where('id', '=', ws.ownerId)
    .execute();
  const bob = await ws.agent('bob');
  return { ws, owner, bob };
}

describe('Socket Mode', () => {
  it('connects with the app token; a /pause envelope pauses and is answered in its ack; a redelivery changes nothing', async () => {
    await expect.poll(() => slack.socket.connected()).toBe(true);
    expect(slack.calls.find((c) => c.method === 'apps.connections.open')!.auth).toBe('Bearer xapp-test-token');
    const ws = await t.workspace();
    const owner = `U${randomBytes(4).toString('hex').toUpperCase()}`;
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ slack_team_id: TEAM, slack_user_id: owner }))
      .where('id', '=', ws.ownerId)
      .execute();
    const bob = await ws.agent('bob');
    const envelope = {
      envelope_id: 'env-1',
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: {
        command: '/pause',
        text: 'bob full',
        team_id: TEAM,
        user_id: owner,
        channel_id: 'C1',
        response_url: `${slack.url}/respond/x`,
        trigger_id: 't',
      },
    };
    slack.socket.send(envelope);
    await expect.poll(() => slack.socket.acks.get('env-1')).toBeDefined();
    expect(slack.socket.acks.get('env-1').text).toContain('Paused bob (full)');
    const row = await t.deps.db
      .selectFrom('agents')
      .select('pause_mode')
      .where('id', '=', bob.id)
      .executeTakeFirstOrThrow();
    expect(row.pause_mode).toBe('full');

    await t.deps.db.updateTable('agents').set({ pause_mode: null, paused_at: null }).where('id', '=', bob.id).execute();
    slack.socket.acks.delete('env-1');
    slack.socket.send(envelope);
    await expect.poll(() => slack.socket.acks.get('env-1')).toBeDefined();
    expect(slack.socket.acks.get('env-1')).toEqual({});
    expect(
      (await t.deps.db.selectFrom('agents').select('pause_mode').where('id', '=', bob.id).executeTakeFirstOrThrow())
        .pause_mode,
    ).toBeNull();
  });

  it('a database failure before the ack: not acked and forgotten, so Slack’s redelivery is handled', async () => {
    const { owner, bob } = await setup();
    const envelope = {
      envelope_id: 'env-outage',
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: {
        command: '/pause',
        text: 'bob',
        team_id: TEAM,
        user_id: owner,
        channel_id: 'C1',
        response_url: `${slack.url}/respond/y`,
        trigger_id: 't',
      },
    };
    const outage = await dropNextQueryOn(t.config.databaseUrl, 'members');
    try {
      slack.socket.send(envelope);
      await outage.drop();
    } finally {
      await outage.release();
    }
    await expect.poll(() => seen('envelope:env-outage')).toEqual([]);
    await sleep(200);
    expect(slack.socket.acks.has('env-outage')).toBe(false);
    slack.socket.send({ ...envelope, retry_attempt: 1, retry_reason: 'timeout' });
    await expect.poll(() => slack.socket.acks.get('env-outage')).toBeDefined();
    expect(slack.socket.acks.get('env-outage').text).toContain('Paused bob (send)');
    expect(
      (await t.deps.db.selectFrom('agents').select('pause_mode').where('id', '=', bob.id).executeTakeFirstOrThrow())
        .pause_mode,
    ).toBe('send');
  });

  it('a bad envelope (a modal whose metadata is not JSON) is acked once and kept, not left for Slack to redeliver', async () => {
    const { owner } = await setup();
    const envelope = {
      envelope_id: 'env-bad',
      type: 'interactive',
      accepts_response_payload: true,
      payload: {
        type: 'view_submission',
        team: { id: TEAM },
        user: { id: owner, team_id: TEAM },
        view: { id: 'V1', callback_id: 'leash.note', private_metadata: '{not json', state: { values: {} } },
      },
    };
    slack.socket.send(envelope);
    await expect.poll(() => slack.socket.acks.get('env-bad')).toBeDefined();
    expect(await seen('envelope:env-bad')).toHaveLength(1);
  });
});
