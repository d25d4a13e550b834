// A channel's vendor goes away for longer than any fixed retry budget: the question is still sent,
// once, when it is back; a job Redis lost while it stayed up is re-armed by the sweep; and an
// outage that outlasts the question is said on the timeline and as a webhook, never silent.
// The retry schedule is shortened by configuration (CHANNEL_RETRY_SCHEDULE_MS), not by mocks.
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { BOT_TOKEN, startFakeTelegram } from '../support/fake-telegram.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { useWorkers } from '../support/worker.js';

const tg = await startFakeTelegram();
const t = useTestApp({
  TELEGRAM_BOT_TOKEN: BOT_TOKEN,
  TELEGRAM_WEBHOOK_SECRET: 'outage-secret',
  TELEGRAM_API_ROOT: tg.url,
  // Slack incoming webhooks (no per-channel pacing), posted to a receiver on loopback.
  SLACK_BOT_TOKEN: 'xoxb-outage-test',
  SLACK_SIGNING_SECRET: 'outage-signing-secret',
});
afterAll(() => tg.close());
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
// Retries every 20-80 ms: sixteen failures take about a second, where the old fixed budget
// (8 attempts, then the job was dropped) gave up.
const workers = useWorkers(t, { channelRetryScheduleMs: [20, 40, 80] });

let chat = 700_000;
/** sendMessage calls to a chat, failed ones included. */
const callsTo = (chatId: string) => tg.calls.filter((c) => c.method === 'sendMessage' && c.args.chat_id === chatId);

async function setup(channel: 'telegram' | 'slack' = 'telegram', recipient = String(++chat)) {
  const ws = await t.workspace();
  const bot = await ws.agent('outage-bot');
  const ask = (extra: Record<string, unknown> = {}) =>
    t.call('POST', '/v1/pause', {
      key: bot.key,
      body: { recipient, channel, message: 'Ship it?', options: ['Yes', 'No'], timeout_seconds: 600, ...extra },
    });
  const delivery = async (id: string) => (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body.delivery;
  return { ws, bot, recipient, ask, delivery };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

describe('a channel vendor outage', () => {
  it('longer than the old retry budget: the question is sent once it is back, exactly once', async () => {
    const slack = await receiver();
    // Down for the first 16 tries (the old budget was 8), then back.
    slack.respond = (_req, n) => (n <= 16 ? 503 : 200);
    const { recipient, ask, delivery } = await setup('slack', `${slack.url}/services/T0/B0/outage`);
    await workers();
    const a = await ask();
    expect(a.status).toBe(201);
    expect(a.body.delivery).toEqual([{ channel: 'slack', recipient, status: 'queued', sent_at: null, error: null }]);
    // While it is away the approval says why its question has not gone out.
    await expect
      .poll(async () => (await delivery(a.body.pause_id))[0])
      .toMatchObject({ status: 'queued', error: 'receiver answered 503' });
    await expect.poll(async () => (await delivery(a.body.pause_id))[0].status, { timeout: 15_000 }).toBe('sent');
    const [d] = await delivery(a.body.pause_id);
    expect(d).toMatchObject({ status: 'sent', error: null });
    expect(Date.parse(d.sent_at)).not.toBeNaN();
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.requests).toHaveLength(17);
    expect(
      (
        await t.deps.db
          .selectFrom('prompts')
          .select('attempts')
          .where('approval_id', '=', a.body.pause_id)
          .executeTakeFirstOrThrow()
      ).attempts,
    ).toBe(17);
  });

  it('a retry whose job Redis lost while it stayed up is re-armed by the sweep', async () => {
    const { recipient, ask, delivery } = await setup();
    // The retry waits a minute as a delayed job in Redis.
    const { w, prefix } = await workers({ channelRetryScheduleMs: [60_000] });
    tg.failNext('sendMessage', 502, 'Bad Gateway', 1, recipient);
    const a = await ask();
    await expect.poll(async () => (await delivery(a.body.pause_id))[0].error).toContain('Bad Gateway');
    // Lose that job (an arm that failed, or Redis dropping a key), and let its time pass by more
    // than the sweep's margin.
    const queue = new Queue('channels', { connection: { url: t.config.redisUrl }, prefix });
    cleanups.push(() => queue.close());
    await expect.poll(async () => (await queue.getDelayed()).length).toBe(1);
    await queue.obliterate({ force: true });
    await t.deps.db
      .updateTable('prompts')
      .set({ next_attempt_at: new Date(Date.now() - 60_000) })
      .where('approval_id', '=', a.body.pause_id)
      .execute();
    await new Promise((r) => setTimeout(r, 200));
    expect(callsTo(recipient)).toHaveLength(1);
    await w.sweep();
    await expect.poll(async () => (await delivery(a.body.pause_id))[0].status).toBe('sent');
    // The failed try and the one that went through.
    expect(callsTo(recipient)).toHaveLength(2);
  });

  it('that outlasts the question: the prompt is failed, on the timeline and sent as pause_request.send_failed', async () => {
    const { ws, bot, recipient, ask, delivery } = await setup();
    const hooks = await receiver();
    await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: `${hooks.url}/hook`, events: ['pause_request.send_failed', 'pause_request.timed_out'] },
    });
    await workers();
    tg.failNext('sendMessage', 502, 'Bad Gateway', 1_000, recipient);
    const a = await ask({ timeout_seconds: 2, timeout_default: 'No' });
    await expect.poll(async () => (await delivery(a.body.pause_id))[0].status, { timeout: 15_000 }).toBe('failed');
    const [d] = await delivery(a.body.pause_id);
    expect(d.error).toMatch(/^not sent before the approval was settled; last error: .*Bad Gateway/);
    const failed = await t.deps.db
      .selectFrom('activity')
      .selectAll()
      .where('agent_id', '=', bot.id)
      .where('action', '=', 'approval.send_failed')
      .execute();
    expect(failed).toHaveLength(1);
    await expect
      .poll(() => hooks.requests.map((r) => r.json?.type).sort())
      .toEqual(['pause_request.send_failed', 'pause_request.timed_out']);
    const event = hooks.requests.find((r) => r.json?.type === 'pause_request.send_failed')!.json;
    expect(event.data).toMatchObject({
      pause_id: a.body.pause_id,
      status: 'timed_out',
      url: null,
      delivery: [{ status: 'failed', recipient }],
    });
    const prompt = await t.deps.db
      .selectFrom('prompts')
      .selectAll()
      .where('approval_id', '=', a.body.pause_id)
      .executeTakeFirstOrThrow();
    expect(prompt.sent_at).toBeNull();
    expect(callsTo(recipient)).toHaveLength(prompt.attempts);
  });
});
