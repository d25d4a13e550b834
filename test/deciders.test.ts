// Who may decide one question (contract §3.1): `approvers` narrows it to the members it names, and
// the member whose key asked may never decide (self_approval). Through the API, the response page
// (here) and Slack (test/slack.test.ts); every surface decides through the same core rule.
import { describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { answerOnPage as answerPage } from './support/response-page.js';

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
const respond = (key: string, id: string, choice = 'Approve') =>
  t.call('POST', `/v1/pause/${id}/respond`, { key, body: { choice } });
const count = async (workspaceId: string) =>
  Number(
    (
      await t.deps.db
        .selectFrom('approvals')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('workspace_id', '=', workspaceId)
        .executeTakeFirstOrThrow()
    ).n,
  );

const answerOnPage = (url: string, choice: string) => answerPage(t, url, { choice });

describe('approvers', () => {
  it('only the listed members decide; the approval names them by id', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('wire-bot');
    const listed = await ws.member('approver', { email: 'listed@example.com' });
    const other = await ws.member('approver');
    const a = await ask(bot.key, { approvers: ['LISTED@example.com'] });
    expect(a.status).toBe(201);
    expect(a.body.approvers).toEqual([listed.id]);
    const refused = await respond(other.key, a.body.pause_id);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('not_an_approver');
    expect(refused.body.error.message).toBe('Only the approvers this question names may decide it');
    // The owner too: the list is the list.
    expect((await respond(ws.ownerKey, a.body.pause_id)).body.error.code).toBe('not_an_approver');
    const ok = await respond(listed.key, a.body.pause_id);
    expect(ok.status).toBe(200);
    expect(ok.body.responder).toMatchObject({ member_id: listed.id });
  });

  it('the response page decides for the listed approver the link was sent to, and not for anyone else', async () => {
    const ws = await t.workspace();
    const listed = await ws.member('approver', { email: 'page-listed@example.com' });
    await ws.member('approver', { email: 'page-other@example.com' });
    const toListed = await ask(ws.ownerKey, { recipient: 'page-listed@example.com', approvers: [listed.id] });
    expect((await answerOnPage(toListed.body.url, 'Approve')).status).toBe(303);
    expect((await t.call('GET', `/v1/pause/${toListed.body.pause_id}`, { key: ws.ownerKey })).body.status).toBe(
      'responded',
    );
    const toOther = await ask(ws.ownerKey, { recipient: 'page-other@example.com', approvers: [listed.id] });
    const res = await answerOnPage(toOther.body.url, 'Approve');
    expect(res.status).toBe(403);
    expect(res.body).toContain('Only the approvers this question names may decide it');
    expect((await t.call('GET', `/v1/pause/${toOther.body.pause_id}`, { key: ws.ownerKey })).body.status).toBe(
      'pending',
    );
  });

  it('an unknown entry or a viewer is refused at create, naming the entry, and nothing is stored', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('wire-bot');
    const viewer = await ws.member('viewer', { email: 'looker@example.com' });
    const before = await count(ws.id);
    const unknown = await ask(bot.key, { approvers: [ws.ownerId, 'nobody@example.com'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.fields).toEqual([
      { field: 'approvers.1', message: 'no member of this workspace has this id or email' },
    ]);
    const looker = await ask(bot.key, { approvers: [viewer.id] });
    expect(looker.status).toBe(400);
    expect(looker.body.error.fields).toEqual([{ field: 'approvers.0', message: 'is a viewer, who cannot decide' }]);
    const elsewhere = await t.workspace('Elsewhere');
    expect((await ask(bot.key, { approvers: [elsewhere.ownerId] })).status).toBe(400);
    expect((await ask(bot.key, { approvers: [] })).status).toBe(400);
    expect(await count(ws.id)).toBe(before);
  });
});

describe('no self-approval', () => {
  it('the member whose key asked cannot decide; another approver can', async () => {
    const ws = await t.workspace();
    const asker = await ws.member('approver');
    const a = await ask(asker.key);
    expect(a.status).toBe(201);
    const self = await respond(asker.key, a.body.pause_id);
    expect(self.status).toBe(403);
    expect(self.body.error).toMatchObject({
      code: 'self_approval',
      message: 'You asked this question; another approver must answer it',
    });
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: ws.ownerKey })).body.status).toBe('pending');
    expect((await respond(ws.ownerKey, a.body.pause_id)).status).toBe(200);
  });
});
