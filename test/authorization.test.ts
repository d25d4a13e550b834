// The rules live in the core actions, not in the HTTP routes: any surface (Slack, Telegram, SMS,
// dashboard) that builds a Ctx gets the same answers. These call the core directly.
import { describe, expect, it } from 'vitest';
import { pauseAgent, startAgent, stopAgent, confirmStopped, deleteAgent } from '../src/agents/control.js';
import { createAgent } from '../src/agents/registry.js';
import { createApproval } from '../src/approvals/approvals.js';
import { cancelApproval, decideApproval } from '../src/approvals/decide.js';
import type { Ctx } from '../src/context.js';
import { addMember } from '../src/members/members.js';
import { cancelSession, completeSession, createSession } from '../src/sessions/sessions.js';
import { useTestApp } from './support/app.js';

const t = useTestApp();

const member = (workspaceId: string, role: 'owner' | 'approver' | 'viewer'): Ctx => ({
  workspaceId,
  channel: 'slack',
  role,
  actor: { type: 'member', id: '00000000-0000-4000-8000-000000000001', display: role },
});
const agentCtx = (workspaceId: string, id: string): Ctx => ({
  workspaceId,
  channel: 'api',
  actor: { type: 'agent', id, display: 'agent' },
});

async function expectForbidden(p: Promise<unknown>) {
  await expect(p).rejects.toMatchObject({ code: 'forbidden', status: 403 });
}

describe('authorization in the core', () => {
  it('agent controls need an owner: viewers, approvers and agents are refused, and nothing changes', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('core-target');
    const { db, notifier, approvals: links } = t.deps;
    for (const ctx of [member(ws.id, 'viewer'), member(ws.id, 'approver'), agentCtx(ws.id, a.id)]) {
      await expectForbidden(pauseAgent(db, ctx, a.id, { mode: 'full' }));
      await expectForbidden(stopAgent(db, notifier, ctx, a.id, { graceful: false, timeout: 0 }, links));
      await expectForbidden(startAgent(db, ctx, a.id));
      await expectForbidden(deleteAgent(db, ctx, a.id, links));
      await expectForbidden(createAgent(db, ctx, { name: 'nope' }, { allowPrivateUrls: true }));
      await expectForbidden(addMember(db, ctx, { email: 'x@example.com', role: 'owner' }));
    }
    const row = await db.selectFrom('agents').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ pause_mode: null, run_state: 'running', deleted_at: null });
    expect((await pauseAgent(db, member(ws.id, 'owner'), a.id, { mode: 'send' })).status).toBe('paused');
  });

  it('only the agent itself confirms its stop, opens or completes its sessions', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('self');
    const b = await ws.agent('other');
    const { db, approvals: links } = t.deps;
    const agentRow = await db.selectFrom('agents').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    await expectForbidden(confirmStopped(db, member(ws.id, 'owner'), a.id, links));
    await expectForbidden(confirmStopped(db, agentCtx(ws.id, b.id), a.id, links));
    await expectForbidden(createSession(db, agentCtx(ws.id, b.id), agentRow, {}));
    const s = await createSession(db, agentCtx(ws.id, a.id), agentRow, {});
    await expectForbidden(completeSession(db, member(ws.id, 'owner'), s.id));
    await expect(cancelSession(db, agentCtx(ws.id, b.id), s.id)).rejects.toMatchObject({ code: 'not_found' });
    await expectForbidden(cancelSession(db, member(ws.id, 'approver'), s.id));
    expect((await cancelSession(db, member(ws.id, 'owner'), s.id)).status).toBe('cancelled');
  });

  it('approvals: agents never answer; viewers neither answer nor ask; link holders may answer', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('asker');
    const { db, approvals: settings } = t.deps;
    const agentRow = await db.selectFrom('agents').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    const ask = {
      recipient: 'a@example.com',
      channel: 'web' as const,
      message: 'ok?',
      options: ['yes', 'no'],
      allow_text_response: false,
      timeout_default: null,
      approvers: null,
      approvals_required: 1,
      escalation: null,
      remind_after_seconds: null,
      metadata: null,
      timeout_seconds: 60,
    };
    await expectForbidden(createApproval(db, member(ws.id, 'viewer'), undefined, ask, settings));
    const approval = await createApproval(db, agentCtx(ws.id, a.id), agentRow, ask, settings);
    const responder = { channel: 'slack', display: 'x' };
    await expectForbidden(
      decideApproval(db, agentCtx(ws.id, a.id), approval.pause_id, { choice: 'yes' }, responder, settings),
    );
    await expectForbidden(
      decideApproval(db, member(ws.id, 'viewer'), approval.pause_id, { choice: 'yes' }, responder, settings),
    );
    await expectForbidden(cancelApproval(db, member(ws.id, 'viewer'), approval.pause_id, settings));
    const link: Ctx = {
      workspaceId: ws.id,
      channel: 'web',
      actor: { type: 'link', id: null, display: 'a@example.com' },
    };
    expect(
      (
        await decideApproval(
          db,
          link,
          approval.pause_id,
          { choice: 'yes' },
          { channel: 'web', display: 'a@example.com' },
          settings,
        )
      ).status,
    ).toBe('responded');
  });
});
