// Prompts (an approval's question as sent to one recipient) against fake vendors on loopback:
// the outcome update retried through a vendor error, a question settled before it went out,
// a Slack incoming webhook refused for good, per-workspace send budgets, per-address email pacing,
// and MAX_PENDING_PER_RECIPIENT.
import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { dashboardBrowser } from './support/dashboard-browser.js';
import { BOT_TOKEN, startFakeTelegram } from './support/fake-telegram.js';
import { startReceiver, type Receiver } from './support/receiver.js';
import { startSmtp } from './support/smtp.js';
import { useWorkers } from './support/worker.js';

const tg = await startFakeTelegram();
const smtp = await startSmtp();
const t = useTestApp({
  TELEGRAM_BOT_TOKEN: BOT_TOKEN,
  TELEGRAM_WEBHOOK_SECRET: 'prompts-secret',
  TELEGRAM_API_ROOT: tg.url,
  SLACK_BOT_TOKEN: 'xoxb-prompts-test',
  SLACK_SIGNING_SECRET: 'prompts-signing-secret',
  SMTP_URL: smtp.url,
  EMAIL_FROM: 'leash@example.test',
  MAX_PENDING_PER_RECIPIENT: '3',
  SEND_BUDGET_PER_MINUTE: 'telegram=2',
});
afterAll(async () => {
  await tg.close();
  await smtp.close();
});
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const workers = useWorkers(t, { channelRetryScheduleMs: [20, 40] });
const { signedIn } = dashboardBrowser(t);

let chat = 800_000;
const nextChat = () => String(++chat);
const callsTo = (method: string, chatId: string | number) =>
  tg.calls.filter((c) => c.method === method && String(c.args.chat_id) === String(chatId));

async function setup() {
  const ws = await t.workspace();
  const bot = await ws.agent('prompt-bot');
  const ask = (channel: string, recipient: string, extra: Record<string, unknown> = {}) =>
    t.call('POST', '/v1/pause', {
      key: bot.key,
      body: { recipient, channel, message: 'Ship it?', options: ['Yes', 'No'], timeout_seconds: 600, ...extra },
    });
  const get = async (id: string) => (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body;
  return { ws, bot, ask, get };
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

describe('outcome updates', () => {
  it('an edit that fails for a while is retried until the message shows the outcome', async () => {
    const { ws, ask, get } = await setup();
    await workers();
    const recipient = nextChat();
    const a = await ask('telegram', recipient);
    await expect.poll(async () => (await get(a.body.pause_id)).delivery[0].status).toBe('sent');
    tg.failNext('editMessageText', 502, 'Bad Gateway', 3, recipient);
    await t.call('POST', `/v1/pause/${a.body.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Yes' } });
    const prompt = () =>
      t.deps.db.selectFrom('prompts').selectAll().where('approval_id', '=', a.body.pause_id).executeTakeFirstOrThrow();
    await expect.poll(async () => (await prompt()).outcome_at, { timeout: 10_000 }).not.toBeNull();
    expect(await prompt()).toMatchObject({ outcome_attempts: 3, outcome_error: null });
    // Three refused edits, then the one that took.
    expect(callsTo('editMessageText', recipient)).toHaveLength(4);
  });

  it('a send that fails is visible in delivery (queued, with the error), and retried until sent', async () => {
    const { ask, get } = await setup();
    const recipient = nextChat();
    // Once: the workspace's telegram budget here is 2 sends a minute.
    tg.failNext('sendMessage', 502, 'Bad Gateway', 1, recipient);
    await workers({ channelRetryScheduleMs: [1_000] });
    const a = await ask('telegram', recipient);
    await expect
      .poll(async () => (await get(a.body.pause_id)).delivery[0])
      .toMatchObject({ status: 'queued', sent_at: null, error: expect.stringContaining('Bad Gateway') });
    await expect.poll(async () => (await get(a.body.pause_id)).delivery[0].status, { timeout: 10_000 }).toBe('sent');
    expect((await get(a.body.pause_id)).delivery[0]).toMatchObject({ error: null, sent_at: expect.any(String) });
    expect(callsTo('sendMessage', recipient)).toHaveLength(2);
  });

  it('a question settled before it went out is never sent: its prompt is skipped', async () => {
    const { ws, ask, get } = await setup();
    const recipient = nextChat();
    const a = await ask('telegram', recipient);
    await t.call('POST', `/v1/pause/${a.body.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'No' } });
    await workers();
    await expect
      .poll(async () => (await get(a.body.pause_id)).delivery)
      .toEqual([{ channel: 'telegram', recipient, status: 'skipped', sent_at: null, error: null }]);
    expect(callsTo('sendMessage', recipient)).toHaveLength(0);
    // Nothing failed: no send_failed on the timeline.
    expect(
      await t.deps.db
        .selectFrom('activity')
        .select('id')
        .where('action', '=', 'approval.send_failed')
        .where('workspace_id', '=', ws.id)
        .execute(),
    ).toEqual([]);
  });
});

describe('refusals for good', () => {
  it('a Slack incoming webhook that answers 404 is failed at once, not retried, and the dashboard says so', async () => {
    const hook = await receiver();
    hook.respond = () => 404;
    const { ws, ask, get } = await setup();
    await workers();
    const a = await ask('slack', `${hook.url}/services/T0/B0/gone`);
    await expect
      .poll(async () => (await get(a.body.pause_id)).delivery[0])
      .toMatchObject({ status: 'failed', error: 'slack webhook: receiver answered 404' });
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.requests).toHaveLength(1);
    const page = await (await signedIn(ws.ownerKey)).get('/approvals');
    expect(page.html).toMatch(
      /data-delivery="failed">Could not be sent to http:\/\/127\.0\.0\.1:\d+\/services\/T0\/B0\/gone on slack: slack webhook: receiver answered 404/,
    );
  });
});

describe('send budgets', () => {
  it('a workspace sends at most its budget a minute on a channel; the rest wait for the next minute; other workspaces are not held', async () => {
    // Budgets count per clock minute: start well inside one, so the next does not begin mid-test.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const one = await setup();
    const other = await setup();
    const { prefix } = await workers();
    const chats = [nextChat(), nextChat(), nextChat()];
    const asked: string[] = [];
    for (const c of chats) asked.push((await one.ask('telegram', c)).body.pause_id);
    const elsewhere = nextChat();
    const theirs = (await other.ask('telegram', elsewhere)).body.pause_id;
    await expect.poll(async () => (await other.get(theirs)).delivery[0].status).toBe('sent');
    const statuses = async () =>
      (await Promise.all(asked.map(async (id) => (await one.get(id)).delivery[0].status))).sort();
    await expect.poll(statuses).toEqual(['queued', 'sent', 'sent']);
    // The third waits as a delayed job for the next minute; it does not spin against the budget.
    const queue = new Queue('channels', { connection: { url: t.config.redisUrl }, prefix });
    cleanups.push(() => queue.close());
    const redis = await queue.client;
    const counter = `${prefix}:leash:budget:${one.ws.id}:telegram:${Math.floor(Date.now() / 60_000)}`;
    await expect.poll(() => redis.get(counter)).toBe('3');
    await expect.poll(async () => (await queue.getDelayed()).length).toBe(1);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await redis.get(counter)).toBe('3');
    expect(await statuses()).toEqual(['queued', 'sent', 'sent']);
  });

  it('email to one address is paced to one a second', async () => {
    const { ask, get } = await setup();
    await workers();
    const to = `paced-${Date.now()}@example.test`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await ask('email', to)).body.pause_id);
    await expect
      .poll(
        async () =>
          (await Promise.all(ids.map(async (id) => (await get(id)).delivery[0].status))).every((s) => s === 'sent'),
        { timeout: 10_000 },
      )
      .toBe(true);
    const times = (await Promise.all(ids.map(async (id) => Date.parse((await get(id)).delivery[0].sent_at)))).sort(
      (x, y) => x - y,
    );
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(1_900);
    expect(smtp.mails.filter((m) => m.to.includes(to))).toHaveLength(3);
  });
});

describe('MAX_PENDING_PER_RECIPIENT', () => {
  it('past the limit a new approval for that recipient is 429 recipient_busy and nothing is written', async () => {
    const { ws, bot, ask } = await setup();
    const recipient = nextChat();
    for (let i = 0; i < 3; i++) expect((await ask('telegram', recipient)).status).toBe(201);
    const before = await t.deps.db.selectFrom('activity').select('id').where('agent_id', '=', bot.id).execute();
    const busy = await ask('telegram', recipient);
    expect(busy.status).toBe(429);
    expect(busy.body.error).toMatchObject({ code: 'recipient_busy' });
    expect(busy.body.error.message).toContain(recipient);
    expect(
      await t.deps.db.selectFrom('approvals').select('id').where('workspace_id', '=', ws.id).execute(),
    ).toHaveLength(3);
    expect(await t.deps.db.selectFrom('activity').select('id').where('agent_id', '=', bot.id).execute()).toHaveLength(
      before.length,
    );
    // Another recipient, and the web channel (which notifies nobody), are not held by it.
    expect((await ask('telegram', nextChat())).status).toBe(201);
    for (let i = 0; i < 4; i++) expect((await ask('web', 'someone@example.com')).status).toBe(201);
    // Once one is answered there is room again.
    const [first] = await t.deps.db.selectFrom('approvals').select('id').where('recipient', '=', recipient).execute();
    await t.call('POST', `/v1/pause/${first!.id}/respond`, { key: ws.ownerKey, body: { choice: 'Yes' } });
    expect((await ask('telegram', recipient)).status).toBe(201);
  });

  it('concurrent creates for one recipient admit exactly the limit', async () => {
    const { ask } = await setup();
    const recipient = nextChat();
    const results = await Promise.all(Array.from({ length: 12 }, () => ask('telegram', recipient)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429).every((r) => r.body.error.code === 'recipient_busy')).toBe(true);
  });

  it('the limit is per workspace: another workspace may ask the same recipient', async () => {
    const one = await setup();
    const other = await setup();
    const recipient = nextChat();
    for (let i = 0; i < 3; i++) await one.ask('telegram', recipient);
    expect((await one.ask('telegram', recipient)).status).toBe(429);
    expect((await other.ask('telegram', recipient)).status).toBe(201);
  });
});

describe('the approval in events', () => {
  it('the event a decision writes in SQL equals the agent’s view: no url off the web channel, the same delivery', async () => {
    const { ws, bot, ask, get } = await setup();
    await workers();
    const a = await ask('telegram', nextChat());
    await expect.poll(async () => (await get(a.body.pause_id)).delivery[0].status).toBe('sent');
    const answered = await t.call('POST', `/v1/pause/${a.body.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Yes' },
    });
    expect(answered.body.url).toMatch(/\/r\//);
    const asAgent = await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bot.key });
    expect(asAgent.body.url).toBeNull();
    const [event] = await t.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('type', '=', 'pause_request.responded')
      .where('agent_id', '=', bot.id)
      .execute();
    expect(event!.payload.data).toEqual(asAgent.body);
    expect(Object.keys(event!.payload.data as object)).toEqual(Object.keys(asAgent.body));
  });
});
