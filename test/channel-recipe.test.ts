// The add-a-channel recipe (docs/architecture.md): a channel that exists only in this test, made
// of one Channel object and added to the list, is asked on, sent, answered and settled end to end,
// with nothing else changed: the request schema, recipient checks, the worker's sends, the
// delivery state and budgets all follow from the entry.
import { describe, expect, it } from 'vitest';
import { channelSet } from '../src/app.js';
import { decideApproval } from '../src/approvals/decide.js';
import type { Channel } from '../src/channels/channel.js';
import { CHANNELS } from '../src/channels/list.js';
import { loadConfig } from '../src/config.js';
import { useTestApp } from './support/app.js';
import { useWorkers } from './support/worker.js';

const sent: { recipient: string; message: string }[] = [];
const settled: { id: string; status: string }[] = [];

/** Carrier pigeons: a coop number for a recipient, a reply route for the answer. */
const pigeon: Channel = {
  name: 'pigeon',
  recipientProblem: (r) => (/^coop-\d+$/.test(r) ? undefined : 'must be a coop such as coop-7 for channel pigeon'),
  linkDecides: false,
  recipientDecides: false,
  configured: () => true,
  adapter: {
    async send(_deps, approval, prompt) {
      sent.push({ recipient: prompt.recipient, message: approval.message });
      return { coop: prompt.recipient };
    },
    async settled(_deps, approval) {
      settled.push({ id: approval.id, status: approval.status });
    },
  },
  async routes(app, deps) {
    app.post<{ Body: { pause_id: string; choice: string; coop: string } }>('/pigeon/reply', async (req) => {
      const { pause_id, choice, coop } = req.body;
      const row = await deps.db
        .selectFrom('approvals')
        .select('workspace_id')
        .where('id', '=', pause_id)
        .executeTakeFirstOrThrow();
      const display = `pigeon from ${coop}`;
      const ctx = {
        workspaceId: row.workspace_id,
        channel: 'pigeon',
        actor: { type: 'link' as const, id: null, display },
      };
      return decideApproval(deps.db, ctx, pause_id, { choice }, { channel: 'pigeon', display }, deps.approvals);
    });
  },
};

const t = useTestApp({ SEND_BUDGET_PER_MINUTE: 'pigeon=100' }, { channels: [...CHANNELS, pigeon] });
const workers = useWorkers(t);

describe('a channel added by one entry in the list', () => {
  it('is asked on, sent by the worker, answered through its own route, and shows the outcome', async () => {
    await workers();
    const ws = await t.workspace();
    const bot = await ws.agent('pigeon-bot');
    const asked = await t.call('POST', '/v1/pause', {
      key: bot.key,
      body: { channel: 'pigeon', recipient: 'coop-7', message: 'Fly to Acme?', options: ['Fly', 'Stay'] },
    });
    expect(asked.status).toBe(201);
    const id = asked.body.pause_id;
    const get = async () => (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body;
    await expect.poll(async () => (await get()).delivery[0]?.status).toBe('sent');
    expect(sent).toContainEqual({ recipient: 'coop-7', message: 'Fly to Acme?' });

    const reply = await t.call('POST', '/pigeon/reply', { body: { pause_id: id, choice: 'Fly', coop: 'coop-7' } });
    expect(reply.status).toBe(200);
    const after = await get();
    expect(after.status).toBe('responded');
    expect(after.response_choice).toBe('Fly');
    expect(after.responder).toMatchObject({ channel: 'pigeon', display: 'pigeon from coop-7' });
    await expect.poll(() => settled.find((s) => s.id === id)?.status).toBe('responded');
  });

  it('refuses a recipient the channel cannot reach, naming the field, and stores nothing', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('lost-bird');
    const res = await t.call('POST', '/v1/pause', {
      key: bot.key,
      body: { channel: 'pigeon', recipient: 'nest-1', message: 'Fly?', options: ['Fly', 'Stay'] },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain('must be a coop such as coop-7 for channel pigeon');
    const list = await t.call('GET', '/v1/pause', { key: ws.ownerKey });
    expect(list.body.data).toEqual([]);
  });

  it('the build without the entry knows no such channel', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://127.0.0.1:5432/x' });
    expect(channelSet(config).known.map((c) => c.name)).not.toContain('pigeon');
    expect(channelSet(config, [...CHANNELS, pigeon]).available.has('pigeon')).toBe(true);
    expect(() => channelSet({ ...config, sendBudgetPerMinute: { pigeon: 5 } })).toThrow(
      /SEND_BUDGET_PER_MINUTE: no channel named pigeon/,
    );
  });
});
