// A quorum (contract §3.1 `approvals_required`): the first option needs that many distinct deciders,
// any other option decides at once, the same decider twice is refused, and concurrent votes count
// exactly. Chat surfaces and the dashboard vote through the same core (test/slack.test.ts,
// test/telegram.test.ts, test/sms.test.ts, test/dashboard.test.ts); the response page here.
import { describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from './support/app.js';
import { answerOnPage } from './support/response-page.js';

const t = useTestApp();

const ask = (key: string, extra: Record<string, unknown> = {}) =>
  t.call('POST', '/v1/pause', {
    key,
    body: {
      recipient: 'cfo@example.com',
      channel: 'web',
      message: 'Wire $340?',
      options: ['Approve', 'Reject'],
      ...extra,
    },
  });
const respond = (key: string, id: string, choice = 'Approve', text?: string) =>
  t.call('POST', `/v1/pause/${id}/respond`, { key, body: { choice, ...(text ? { text } : {}) } });
const get = (key: string, id: string) => t.call('GET', `/v1/pause/${id}`, { key });

async function approvers(ws: Workspace, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await ws.member('approver'));
  return out;
}

const timeline = (workspaceId: string, action: string) =>
  t.deps.db
    .selectFrom('activity')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('action', '=', action)
    .orderBy('id')
    .execute();
const events = (workspaceId: string, type: string) =>
  t.deps.db.selectFrom('outbox').selectAll().where('workspace_id', '=', workspaceId).where('type', '=', type).execute();

describe('approvals_required', () => {
  it('2 of 3: the first vote stays pending with its vote shown, the second settles', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('wire-bot');
    const [a, b] = await approvers(ws, 3);
    const q = await ask(bot.key, { approvals_required: 2, allow_text_response: true });
    expect(q.status).toBe(201);
    expect(q.body).toMatchObject({ approvals_required: 2, votes: [], escalation: null, remind_after_seconds: null });
    const first = await respond(a!.key, q.body.pause_id, 'Approve', 'fine by me');
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('pending');
    expect(first.body.votes).toEqual([
      {
        choice: 'Approve',
        text: 'fine by me',
        channel: 'api',
        member_id: a!.id,
        display: expect.stringMatching(/@example\.com$/),
        at: expect.any(String),
      },
    ]);
    expect((await get(bot.key, q.body.pause_id)).body.votes).toHaveLength(1);
    const second = await respond(b!.key, q.body.pause_id);
    expect(second.body).toMatchObject({
      status: 'responded',
      response_choice: 'Approve',
      responder: { member_id: b!.id },
    });
    expect(second.body.votes.map((v: { member_id: string }) => v.member_id)).toEqual([a!.id, b!.id]);
    // Each vote on the timeline and out as pause_request.voted; the settlement once.
    const voted = await timeline(ws.id, 'approval.voted');
    expect(voted.map((r) => r.details)).toEqual([
      { pause_id: q.body.pause_id, choice: 'Approve', text: 'fine by me', approvals: 1, approvals_required: 2 },
      { pause_id: q.body.pause_id, choice: 'Approve', approvals: 2, approvals_required: 2 },
    ]);
    expect(await events(ws.id, 'pause_request.voted')).toHaveLength(2);
    expect(await events(ws.id, 'pause_request.responded')).toHaveLength(1);
    expect((await respond(ws.ownerKey, q.body.pause_id)).body.error.code).toBe('not_pending');
  });

  it('a dissent decides at once, whatever the votes so far', async () => {
    const ws = await t.workspace();
    const [a, b] = await approvers(ws, 3);
    const q = await ask(ws.ownerKey, { approvals_required: 3 });
    await respond(a!.key, q.body.pause_id, 'Approve');
    const no = await respond(b!.key, q.body.pause_id, 'Reject');
    expect(no.body).toMatchObject({ status: 'responded', response_choice: 'Reject', responder: { member_id: b!.id } });
    expect(no.body.votes.map((v: { choice: string }) => v.choice)).toEqual(['Approve', 'Reject']);
  });

  it('the same member twice is 409 already_voted, and nothing more is recorded', async () => {
    const ws = await t.workspace();
    const [a] = await approvers(ws, 2);
    const q = await ask(ws.ownerKey, { approvals_required: 2 });
    await respond(a!.key, q.body.pause_id, 'Approve');
    for (const choice of ['Approve', 'Reject']) {
      const again = await respond(a!.key, q.body.pause_id, choice);
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({
        code: 'already_voted',
        message: 'You already voted on this question (Approve)',
      });
    }
    const now = await get(ws.ownerKey, q.body.pause_id);
    expect(now.body).toMatchObject({ status: 'pending' });
    expect(now.body.votes).toHaveLength(1);
    expect(await timeline(ws.id, 'approval.voted')).toHaveLength(1);
  });

  it('20 concurrent voters for a quorum of 5: exactly one settles it, exactly 5 votes count', async () => {
    const ws = await t.workspace();
    const voters = await approvers(ws, 20);
    const q = await ask(ws.ownerKey, { approvals_required: 5 });
    const answers = await Promise.all(voters.map((v) => respond(v.key, q.body.pause_id)));
    const ok = answers.filter((r) => r.status === 200);
    expect(ok).toHaveLength(5);
    expect(ok.filter((r) => r.body.status === 'responded')).toHaveLength(1);
    expect(answers.filter((r) => r.status === 409).every((r) => r.body.error.code === 'not_pending')).toBe(true);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(15);
    const final = await get(ws.ownerKey, q.body.pause_id);
    expect(final.body.status).toBe('responded');
    expect(final.body.votes).toHaveLength(5);
    const stored = await t.deps.db
      .selectFrom('approval_votes')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('approval_id', '=', q.body.pause_id)
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(5);
    expect(await events(ws.id, 'pause_request.responded')).toHaveLength(1);
  });

  it('the response page votes once, as the link (the one decider it stands for), and says the count', async () => {
    const ws = await t.workspace();
    const [a] = await approvers(ws, 1);
    const q = await ask(ws.ownerKey, { approvals_required: 2 });
    const path = new URL(q.body.url).pathname;
    const answer = () => answerOnPage(t, path, { choice: 'Approve' });
    expect((await answer()).status).toBe(303);
    expect((await t.app.inject({ method: 'GET', url: path })).body).toContain('1 of 2 approvals for Approve so far');
    const twice = await answer();
    expect(twice.status).toBe(409);
    expect(twice.body).toContain('You already voted on this question');
    const done = await respond(a!.key, q.body.pause_id);
    expect(done.body.status).toBe('responded');
    expect(done.body.votes[0]).toMatchObject({ channel: 'web', display: 'link sent to cfo@example.com' });
  });

  it('a plain approval keeps no votes', async () => {
    const ws = await t.workspace();
    const [a] = await approvers(ws, 1);
    const q = await ask(ws.ownerKey);
    expect(q.body).toMatchObject({ approvals_required: 1, votes: [] });
    const done = await respond(a!.key, q.body.pause_id);
    expect(done.body).toMatchObject({ status: 'responded', votes: [] });
  });
});

describe('bad quorums are refused at create, naming the field, and nothing is stored', () => {
  const stored = async (workspaceId: string) =>
    Number(
      (
        await t.deps.db
          .selectFrom('approvals')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('workspace_id', '=', workspaceId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it.each([0, 11, 1.5, '2'])('approvals_required %s', async (n) => {
    const ws = await t.workspace();
    const res = await ask(ws.ownerKey, { approvals_required: n });
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('approvals_required');
    expect(res.body.error.message).toContain('approvals_required');
    expect(await stored(ws.id)).toBe(0);
  });

  it('more required than the listed approvers (the asker never counts)', async () => {
    const ws = await t.workspace();
    const [a, b] = await approvers(ws, 2);
    const res = await ask(a!.key, { approvals_required: 2, approvers: [a!.id, b!.id] });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: 'approvals_required', message: 'needs 2 distinct deciders, but only 1 can decide this question' },
    ]);
    expect(await stored(ws.id)).toBe(0);
  });

  it('more required than the workspace has deciders', async () => {
    const ws = await t.workspace();
    await approvers(ws, 1);
    // The owner and one approver, plus the link: 3 at most; a viewer does not count.
    await ws.member('viewer');
    const bot = await ws.agent('quorum-bot');
    expect((await ask(bot.key, { approvals_required: 3 })).status).toBe(201);
    const res = await ask(bot.key, { approvals_required: 4 });
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0]).toEqual({
      field: 'approvals_required',
      message: 'needs 4 distinct deciders, but only 3 can decide this question',
    });
    expect(await stored(ws.id)).toBe(1);
  });
});
