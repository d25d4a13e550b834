// ask, approve and requireApproval against a real Leash on loopback, the owner answering through the API.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from '../../test/support/app.js';
import { useWorkers } from '../../test/support/worker.js';
import { AgentPausedError, ApprovalDeniedError, Leash, parseDuration } from '../src/index.js';
import { pauseBody } from '../src/decisions.js';
import { allApprovals, listen, onePending, respond } from './support/leash.js';

const t = useTestApp();
const worker = useWorkers(t);
let base: string;
let ws: Workspace;

beforeAll(async () => {
  base = await listen(t);
  ws = await t.workspace();
});

async function agent(name: string) {
  const a = await ws.agent(name);
  return { ...a, leash: new Leash({ baseUrl: base, apiKey: a.key }) };
}

describe('ask', () => {
  it('creates the approval as asked and resolves with the choice the owner made', async () => {
    const a = await agent('asker');
    const asking = a.leash.ask({
      message: 'Send a $340 wire to Acme?',
      options: ['Approve', 'Reject'],
      recipient: 'cfo@acme.com',
      timeout: '4h',
      default: 'Reject',
      metadata: { amount: 340 },
      allowText: true,
    });
    const p = await onePending(t, ws, a.id);
    expect(p).toMatchObject({ channel: 'web', recipient: 'cfo@acme.com', options: ['Approve', 'Reject'] });
    expect(p).toMatchObject({ timeout_default: 'Reject', metadata: { amount: 340 }, allow_text_response: true });
    expect(Date.parse(p.expires_at) - Date.parse(p.created_at)).toBeCloseTo(4 * 3600 * 1000, -4);
    await respond(t, ws, p.pause_id, 'Approve', 'go ahead');
    const d = await asking;
    // The type is the options' union: assigning to it would not compile for any other string.
    const choice: 'Approve' | 'Reject' | null = d.choice;
    expect(choice).toBe('Approve');
    expect(d).toMatchObject({ id: p.pause_id, status: 'responded', text: 'go ahead', viaTimeout: false });
    expect(d.responder?.member_id).toBe(ws.ownerId);
    expect(d.approval.pause_id).toBe(p.pause_id);
  });

  it('passes a quorum through, and resolves once the votes settle it, with the votes', async () => {
    const a = await agent('policy-asker');
    const second = await ws.member('approver');
    const asking = a.leash.ask({
      message: 'Rotate the prod keys?',
      options: ['Approve', 'Reject'],
      recipient: 'ops@acme.com',
      approvalsRequired: 2,
    });
    const p = await onePending(t, ws, a.id);
    expect(p).toMatchObject({ approvals_required: 2, escalation: null, remind_after_seconds: null });
    await respond(t, ws, p.pause_id, 'Approve');
    await t.call('POST', `/v1/pause/${p.pause_id}/respond`, { key: second.key, body: { choice: 'Approve' } });
    const d = await asking;
    expect(d.choice).toBe('Approve');
    expect(d.approval.votes?.map((v) => v.member_id)).toEqual([ws.ownerId, second.id]);
  });

  it('sends escalation steps and the reminder with their durations in seconds, and nothing when not given', () => {
    const base = { message: 'Go?', options: ['Yes', 'No'], recipient: 'ops@acme.com' } as const;
    expect(
      pauseBody({
        ...base,
        escalation: [{ after: '30m', channel: 'sms', recipient: '+15550001111' }],
        remindAfter: '15m',
      }),
    ).toMatchObject({
      escalation: [{ after_seconds: 1800, channel: 'sms', recipient: '+15550001111' }],
      remind_after_seconds: 900,
    });
    const plain = pauseBody(base);
    expect(plain).not.toHaveProperty('escalation');
    expect(plain).not.toHaveProperty('remind_after_seconds');
  });

  it('a timeout with a default resolves with the default, via_timeout', async () => {
    await worker();
    const a = await agent('timeout-default');
    const started = Date.now();
    const d = await a.leash.ask({
      message: 'Deploy?',
      options: ['Yes', 'No'],
      recipient: 'ops@acme.com',
      timeout: 1,
      default: 'No',
    });
    expect(d).toMatchObject({ status: 'timed_out', choice: 'No', viaTimeout: true, responder: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('a timeout without a default resolves { choice: null, status: "timed_out" }', async () => {
    await worker();
    const a = await agent('timeout-null');
    const d = await a.leash.ask({
      message: 'Deploy?',
      options: ['Yes', 'No'],
      recipient: 'ops@acme.com',
      timeout: '1s',
    });
    expect(d).toMatchObject({ choice: null, status: 'timed_out', viaTimeout: true });
  });

  it('abort rejects with an AbortError and leaves the approval pending', async () => {
    const a = await agent('abort-keep');
    const controller = new AbortController();
    const asking = a.leash.ask({
      message: 'Q?',
      options: ['A', 'B'],
      recipient: 'x@acme.com',
      signal: controller.signal,
    });
    const p = await onePending(t, ws, a.id);
    controller.abort();
    await expect(asking).rejects.toMatchObject({ name: 'AbortError' });
    const [still] = await allApprovals(t, ws, a.id);
    expect(still).toMatchObject({ pause_id: p.pause_id, status: 'pending' });
  });

  it('abort with cancelOnAbort also cancels the approval on the server', async () => {
    const a = await agent('abort-cancel');
    const controller = new AbortController();
    const asking = a.leash.ask({
      message: 'Q?',
      options: ['A', 'B'],
      recipient: 'x@acme.com',
      signal: controller.signal,
      cancelOnAbort: true,
    });
    const p = await onePending(t, ws, a.id);
    controller.abort();
    await expect(asking).rejects.toMatchObject({ name: 'AbortError' });
    const [after] = await allApprovals(t, ws, a.id);
    expect(after).toMatchObject({ pause_id: p.pause_id, status: 'cancelled' });
  });

  it('an already aborted signal asks nothing', async () => {
    const a = await agent('abort-early');
    const signal = AbortSignal.abort();
    await expect(
      a.leash.ask({ message: 'Q?', options: ['A', 'B'], recipient: 'x@acme.com', signal }),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(await allApprovals(t, ws, a.id)).toEqual([]);
  });

  it('a paused agent cannot ask: AgentPausedError with the API code and request id', async () => {
    const a = await agent('paused-asker');
    expect(
      (await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } })).status,
    ).toBe(200);
    const err = await a.leash.ask({ message: 'Q?', options: ['A', 'B'], recipient: 'x@acme.com' }).catch((e) => e);
    expect(err).toBeInstanceOf(AgentPausedError);
    expect(err).toMatchObject({ status: 403, code: 'AGENT_PAUSED_BY_OWNER' });
    expect(err.requestId).toMatch(/^req_/);
  });
});

describe('approve and requireApproval', () => {
  it('approve is true for the first option, false otherwise', async () => {
    const a = await agent('approver');
    const yes = a.leash.approve('Delete 14,000 stale rows?', { recipient: 'dba@acme.com' });
    const p1 = await onePending(t, ws, a.id);
    expect(p1.options).toEqual(['Approve', 'Reject']);
    await respond(t, ws, p1.pause_id, 'Approve');
    expect(await yes).toBe(true);
    const no = a.leash.approve('Again?', { recipient: 'dba@acme.com' });
    await respond(t, ws, (await onePending(t, ws, a.id)).pause_id, 'Reject');
    expect(await no).toBe(false);
  });

  it('requireApproval runs the function when approved, with its arguments and result', async () => {
    const a = await agent('wire-ok');
    const calls: unknown[][] = [];
    const sendWire = async (amount: number, to: string) => (calls.push([amount, to]), `sent ${amount} to ${to}`);
    const wire = a.leash.requireApproval(sendWire, (amount, to) => ({
      message: `Send $${amount} to ${to}?`,
      recipient: 'cfo@acme.com',
    }));
    const running = wire(340, 'Acme');
    const p = await onePending(t, ws, a.id);
    expect(p.message).toBe('Send $340 to Acme?');
    expect(calls).toEqual([]);
    await respond(t, ws, p.pause_id, 'Approve');
    expect(await running).toBe('sent 340 to Acme');
    expect(calls).toEqual([[340, 'Acme']]);
  });

  it('requireApproval throws ApprovalDeniedError carrying the decision, and never runs the function', async () => {
    const a = await agent('wire-no');
    let ran = false;
    const wire = a.leash.requireApproval(() => (ran = true), {
      message: 'Send it?',
      recipient: 'cfo@acme.com',
      allowText: true,
    });
    const running = wire();
    await respond(t, ws, (await onePending(t, ws, a.id)).pause_id, 'Reject', 'not this month');
    const err = await running.catch((e) => e);
    expect(err).toBeInstanceOf(ApprovalDeniedError);
    expect(err.decision).toMatchObject({ choice: 'Reject', status: 'responded', text: 'not this month' });
    expect(ran).toBe(false);
  });
});

describe('send', () => {
  it('delivers to another agent, and throws AgentPausedError while the sender is paused', async () => {
    const a = await agent('sender');
    const b = await agent('receiver');
    const sent = await a.leash.send('receiver', { hello: 1 });
    expect(sent).toMatchObject({ to: b.id, seq: 1 });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    const err = await a.leash.send('receiver', { hello: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(AgentPausedError);
    expect(err).toMatchObject({ status: 403, code: 'AGENT_PAUSED_BY_OWNER' });
    const inbox = await t.call('GET', '/v1/messages?after=0', { key: b.key });
    expect(inbox.body.data.map((m: { body: unknown }) => m.body)).toEqual([{ hello: 1 }]);
  });
});

describe('me and sessions', () => {
  it('me() is the agent object; sessions start, pause, resume and complete', async () => {
    const a = await agent('sessions');
    expect(await a.leash.me()).toMatchObject({ id: a.id, name: 'sessions', status: 'active', pause: null });
    const s = await a.leash.sessions.start({ task: 'reconcile', metadata: { n: 1 } });
    expect(s).toMatchObject({ agent_id: a.id, task: 'reconcile', status: 'running' });
    expect((await a.leash.sessions.pause(s.id)).status).toBe('paused');
    await expect(a.leash.sessions.pause(s.id)).rejects.toMatchObject({ status: 409, code: 'already_paused' });
    expect((await a.leash.sessions.resume(s.id)).status).toBe('running');
    expect((await a.leash.sessions.complete(s.id)).status).toBe('completed');
    expect((await a.leash.sessions.list()).data.map((x) => x.id)).toEqual([s.id]);
  });
});

describe('parseDuration', () => {
  it('reads seconds and s/m/h/d strings, and refuses the rest', () => {
    expect([90, '90s', '15m', '4h', '2d', '1.5m'].map(parseDuration)).toEqual([90, 90, 900, 14400, 172800, 90]);
    for (const bad of ['4 hours', '', '-1s', '0', 'h', '1w']) expect(() => parseDuration(bad), bad).toThrow(TypeError);
  });
});
