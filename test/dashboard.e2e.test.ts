// The dashboard in a real browser (Debian's headless Chromium driven by playwright-core) against a
// real Leash on loopback with a real worker: sign in, pause full and see the status flip, unpause,
// the timeline, live updates, answering an approval, and redelivering a failed webhook delivery.
// Screenshots of the main views go to artifacts/screenshots (kept out of git).
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { httpClient, resultOf } from './support/mcp-clients.js';
import { startReceiver, type Receiver } from './support/receiver.js';
import { startTestWorker, type TestWorker } from './support/worker.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = 'artifacts/screenshots';
const t = useTestApp();
let base = '';
let browser: Browser;
let worker: TestWorker;
let hooks: Receiver;

beforeAll(async () => {
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  worker = await startTestWorker(t, { retryScheduleMs: [50] });
  hooks = await startReceiver();
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await hooks?.close();
});

async function signIn(key: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  await page.goto(`${base}/`);
  await expect.poll(() => page.url()).toBe(`${base}/login`);
  await page.fill('#key', key);
  await page.click('button:has-text("Sign in")');
  await page.waitForURL(`${base}/`);
  return page;
}

const statusOf = (page: Page, agent: string) => page.locator(`tr[data-agent="${agent}"] [data-status]`).textContent();

describe.skipIf(!existsSync(CHROMIUM))('dashboard in Chromium', () => {
  it('sign in, pause full and see it flip, unpause, see the timeline; live updates without reload', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob', { display_name: 'Bob the builder' });
    const page = await signIn(ws.ownerKey);
    expect(await statusOf(page, 'bob')).toBe('active');
    await page.screenshot({ path: `${SHOTS}/agents.png`, fullPage: true });

    await page.click('tr[data-agent="bob"] button:has-text("Pause full")');
    await page.waitForURL(/\/\?notice=/);
    expect(await statusOf(page, 'bob')).toBe('paused');
    expect(await page.locator('[role=status]').textContent()).toContain('Paused bob (full).');
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.pause).toMatchObject({
      mode: 'full',
      by: { channel: 'dashboard' },
    });
    await page.screenshot({ path: `${SHOTS}/agents-paused.png`, fullPage: true });

    await page.click('tr[data-agent="bob"] button:has-text("Unpause")');
    await page.waitForURL(/\/\?notice=Unpaused/);
    expect(await statusOf(page, 'bob')).toBe('active');

    await page.click('a:has-text("bob")');
    await page.waitForURL(`${base}/agents/${bob.id}`);
    const actions = await page
      .locator('table.timeline tr[data-action]')
      .evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-action')} ${r.children[3]?.textContent}`));
    expect(actions.slice(0, 2)).toEqual(['agent.unpaused dashboard', 'agent.paused dashboard']);
    await page.screenshot({ path: `${SHOTS}/agent-timeline.png`, fullPage: true });

    // A change made elsewhere shows up without a reload.
    await page.goto(`${base}/`);
    await t.call('POST', `/v1/agents/${bob.id}/pause`, {
      key: ws.ownerKey,
      body: { mode: 'send', reason: 'from the API' },
    });
    await expect.poll(() => statusOf(page, 'bob'), { timeout: 8_000 }).toBe('paused');
  });

  it('answers a pending approval', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const a = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: 'owner@example.com',
        channel: 'web',
        message: 'Deploy to prod?',
        options: ['Ship it', 'Hold'],
        timeout_seconds: 600,
      },
    });
    const page = await signIn(ws.ownerKey);
    await page.click('a:has-text("Approvals")');
    await page.waitForURL(`${base}/approvals`);
    await page.screenshot({ path: `${SHOTS}/approvals.png`, fullPage: true });
    // Approvers answer from their phones: the same page at a phone's width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/approvals-phone.png`, fullPage: true });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.click(`[data-approval="${a.body.pause_id}"] button:has-text("Ship it")`);
    await page.waitForURL(/\/approvals\?notice=/);
    expect(await page.locator('[role=status]').textContent()).toContain('Answered: Ship it.');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body).toMatchObject({
      status: 'responded',
      response_choice: 'Ship it',
      responder: { channel: 'dashboard' },
    });
  });

  it('shows a quorum in progress, on the approvals page and the response page, and the vote that completes it settles it', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const first = await ws.member('approver');
    const a = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: 'owner@example.com',
        channel: 'web',
        message: 'Rotate the production database password?',
        options: ['Rotate', 'Not now'],
        approvals_required: 2,
        timeout_seconds: 600,
      },
    });
    await t.call('POST', `/v1/pause/${a.body.pause_id}/respond`, { key: first.key, body: { choice: 'Rotate' } });
    const page = await signIn(ws.ownerKey);
    await page.goto(`${base}/approvals`);
    const quorum = page.locator(`[data-approval="${a.body.pause_id}"] [data-quorum]`);
    expect(await quorum.textContent()).toContain('1 of 2 approvals for Rotate');
    await page.screenshot({ path: `${SHOTS}/approvals-quorum.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/approvals-quorum-phone.png`, fullPage: true });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.goto(new URL(a.body.url).pathname.replace(/^/, base));
    expect(await page.locator('.question + [role=status]').textContent()).toBe('1 of 2 approvals for Rotate so far');
    await page.screenshot({ path: `${SHOTS}/response-quorum-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: `${SHOTS}/response-quorum.png`, fullPage: true });
    await page.goto(`${base}/approvals`);
    await page.click(`[data-approval="${a.body.pause_id}"] button:has-text("Rotate")`);
    await page.waitForURL(/\/approvals\?notice=/);
    expect(await page.locator('[role=status]').textContent()).toContain('Answered: Rotate.');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('responded');
  });

  it('a permission question from an MCP client reads well on the response page and the dashboard, and a note denies it', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('claude-code');
    const mcp = await httpClient(`${base}/mcp?recipient=${ws.ownerId}`, agent.key);
    try {
      const input = {
        command: 'kubectl delete deployment payments --namespace production',
        description: 'Remove the old payments deployment',
      };
      const asking = mcp.client
        .callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input, tool_use_id: 'toolu_01A' } })
        .then(resultOf);
      await expect
        .poll(async () => (await t.call('GET', '/v1/pause?status=pending', { key: ws.ownerKey })).body.data.length)
        .toBe(1);
      const [a] = (await t.call('GET', '/v1/pause?status=pending', { key: ws.ownerKey })).body.data;
      const page = await signIn(ws.ownerKey);
      await page.goto(`${base}/approvals`);
      const card = page.locator(`[data-approval="${a.pause_id}"]`);
      expect(await card.locator('.question').textContent()).toBe(
        'Allow Bash?\n$ kubectl delete deployment payments --namespace production\n(Remove the old payments deployment)',
      );
      expect(await card.locator('pre.meta').textContent()).toBe(JSON.stringify(input, null, 2));
      await page.screenshot({ path: `${SHOTS}/approvals-mcp.png`, fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: `${SHOTS}/approvals-mcp-phone.png`, fullPage: true });
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.goto(base + new URL(a.url).pathname);
      expect(await page.locator('pre.meta').textContent()).toBe(JSON.stringify(input, null, 2));
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.screenshot({ path: `${SHOTS}/response-mcp-phone.png`, fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.screenshot({ path: `${SHOTS}/response-mcp.png`, fullPage: true });
      await page.fill('textarea', 'Not during the freeze');
      await page.click('button:has-text("Deny")');
      expect((await asking).json).toEqual({
        behavior: 'deny',
        message: expect.stringMatching(
          /^Denied by link sent to owner-\w+@example\.com via the web page: Not during the freeze$/,
        ),
      });
    } finally {
      await mcp.close();
    }
  });

  it('shows a failed webhook delivery and redelivers it', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    let healthy = false;
    hooks.respond = () => (healthy ? 200 : 500);
    const endpoint = await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: `${hooks.url}/hook`, events: ['agent.paused'] },
    });
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('deliveries')
              .select('status')
              .where('endpoint_id', '=', endpoint.body.id)
              .executeTakeFirst()
          )?.status,
        { timeout: 10_000 },
      )
      .toBe('failed');
    const page = await signIn(ws.ownerKey);
    await page.goto(`${base}/webhooks`);
    await page.screenshot({ path: `${SHOTS}/webhooks.png`, fullPage: true });
    healthy = true;
    const before = hooks.requests.length;
    await page.click(`[data-endpoint="${endpoint.body.id}"] button:has-text("Redeliver")`);
    await page.waitForURL(/\/webhooks\?notice=Redelivery/);
    await expect.poll(() => hooks.requests.length, { timeout: 10_000 }).toBeGreaterThan(before);
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('deliveries')
              .select('status')
              .where('endpoint_id', '=', endpoint.body.id)
              .executeTakeFirst()
          )?.status,
        { timeout: 10_000 },
      )
      .toBe('succeeded');
  });
});
