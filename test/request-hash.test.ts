// request_hash (contract §3.1): what exactly was asked, recomputed here from the documented form —
// RFC 8785 canonical JSON (keys sorted, no whitespace) of the approval's own fields, sha256 — and
// carried by the approval, its decision's timeline entry and its webhook event.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';

const t = useTestApp();

/** The documented canonical form, written independently of the server's (its values here are
 *  strings, booleans, null, arrays and plain objects). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const FIELDS = [
  'agent_id',
  'channel',
  'recipient',
  'message',
  'options',
  'metadata',
  'allow_text_response',
  'timeout_default',
  'expires_at',
] as const;
const recompute = (a: Record<string, unknown>) =>
  `sha256:${createHash('sha256')
    .update(canonical(Object.fromEntries(FIELDS.map((f) => [f, a[f]]))))
    .digest('hex')}`;

describe('request_hash', () => {
  it('is recomputed from the approval by the documented canonical form, and is on the decision and its event', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('hash-bot');
    const res = await t.call('POST', '/v1/pause', {
      key: bot.key,
      body: {
        recipient: 'owner@example.com',
        channel: 'web',
        message: 'Send a $340 wire to Acme? "ünïcode" ✓',
        options: ['Approve', 'Reject'],
        timeout_default: 'Reject',
        metadata: { z: 1, a: { y: [true, null, 'x'], b: 2.5 }, amount: 340 },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.request_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(res.body.request_hash).toBe(recompute(res.body));
    const got = (await t.call('GET', `/v1/pause/${res.body.pause_id}`, { key: bot.key })).body;
    expect(got.request_hash).toBe(res.body.request_hash);

    const decided = await t.call('POST', `/v1/pause/${res.body.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Approve' },
    });
    expect(decided.body.request_hash).toBe(res.body.request_hash);
    const entry = await t.deps.db
      .selectFrom('activity')
      .select('details')
      .where('action', '=', 'approval.responded')
      .where('agent_id', '=', bot.id)
      .executeTakeFirstOrThrow();
    expect(entry.details).toMatchObject({ pause_id: res.body.pause_id, request_hash: res.body.request_hash });
    const event = await t.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('type', '=', 'pause_request.responded')
      .where('agent_id', '=', bot.id)
      .executeTakeFirstOrThrow();
    expect((event.payload as { data: { request_hash: string } }).data.request_hash).toBe(res.body.request_hash);
  });

  it('differs when anything asked differs', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('hash-bot-2');
    const ask = (metadata: unknown) =>
      t.call('POST', '/v1/pause', {
        key: bot.key,
        body: { recipient: 'owner@example.com', channel: 'web', message: 'Go?', options: ['Yes', 'No'], metadata },
      });
    const a = (await ask({ amount: 340 })).body;
    const b = (await ask({ amount: 341 })).body;
    expect(a.request_hash).not.toBe(b.request_hash);
    expect(b.request_hash).toBe(recompute(b));
  });
});
