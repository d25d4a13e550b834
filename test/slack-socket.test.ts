// Socket Mode against the fake Slack: the app connects through apps.connections.open, commands
// arrive as envelopes and are answered in the ack; a redelivered envelope changes nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { startFakeSlack } from './support/fake-slack.js';

const slack = await startFakeSlack();
const t = useTestApp({ SLACK_APP_TOKEN: 'xapp-test-token', SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl });
afterAll(() => slack.close());

const TEAM = 'T0SOCKET1';

describe('Socket Mode', () => {
  it('connects with the app token; a /pause envelope pauses and is answered in its ack; a redelivery changes nothing', async () => {
    await expect.poll(() => slack.socket.connected()).toBe(true);
    expect(slack.calls.find((c) => c.method === 'apps.connections.open')!.auth).toBe('Bearer xapp-test-token');
    const ws = await t.workspace();
    const owner = `U${randomBytes(4).toString('hex').toUpperCase()}`;
    await t.deps.db.updateTable('members').set({ slack_team_id: TEAM, slack_user_id: owner }).where('id', '=', ws.ownerId).execute();
    const bob = await ws.agent('bob');
    const envelope = {
      envelope_id: 'env-1',
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: { command: '/pause', text: 'bob full', team_id: TEAM, user_id: owner, channel_id: 'C1', response_url: `${slack.url}/respond/x`, trigger_id: 't' },
    };
    slack.socket.send(envelope);
    await expect.poll(() => slack.socket.acks.get('env-1')).toBeDefined();
    expect(slack.socket.acks.get('env-1').text).toContain('Paused bob (full)');
    const row = await t.deps.db.selectFrom('agents').select('pause_mode').where('id', '=', bob.id).executeTakeFirstOrThrow();
    expect(row.pause_mode).toBe('full');

    await t.deps.db.updateTable('agents').set({ pause_mode: null, paused_at: null }).where('id', '=', bob.id).execute();
    slack.socket.acks.delete('env-1');
    slack.socket.send(envelope);
    await expect.poll(() => slack.socket.acks.get('env-1')).toBeDefined();
    expect(slack.socket.acks.get('env-1')).toEqual({});
    expect((await t.deps.db.selectFrom('agents').select('pause_mode').where('id', '=', bob.id).executeTakeFirstOrThrow()).pause_mode).toBeNull();
  });
});
