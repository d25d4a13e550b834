// Postgres crashes and comes back under load: while it is down every request gets a clear 503
// `unavailable` (never a 500, never a success), nothing acknowledged is missing afterwards, and
// Leash serves again within 5 s of Postgres being back. Runs against a private Postgres server, so
// the shared one (every other test file's) is never touched.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import { operatorCtx } from '../../src/context.js';
import { buildDeps, buildWeb, closeDeps, type Deps } from '../../src/app.js';
import { createDb } from '../../src/db/index.js';
import { ensureDatabase, migrateToLatest } from '../../src/db/migrate.js';
import { withSecret } from '../../src/secret.js';
import { addMember } from '../../src/members/members.js';
import { createWorkspace } from '../../src/workspaces/workspaces.js';
import { testConfig } from '../support/app.js';
import { privatePostgres, type PrivatePostgres } from './support/services.js';

interface Outcome {
  kind: 'approval' | 'message';
  at: number;
  status: number;
  code?: string;
  message?: string;
  id?: string;
}

describe('Postgres restart', () => {
  let pg: PrivatePostgres;
  let deps: Deps;
  let app: FastifyInstance;
  let origin: string;
  const keys = { sender: '', recipient: '', approver: '' };

  beforeAll(async () => {
    pg = await privatePostgres();
    const url = pg.url('leash');
    await ensureDatabase(url);
    const migrating = createDb(url, { max: 1 });
    await migrateToLatest(migrating);
    await migrating.destroy();
    deps = buildDeps(await withSecret(testConfig(url)));
    const ws = await createWorkspace(deps.db, { name: 'Fault', ownerEmail: 'owner@example.com' });
    const ctx = operatorCtx(ws.workspace_id);
    keys.approver = (await addMember(deps.db, ctx, { email: 'approver@example.com', role: 'approver' })).api_key;
    keys.sender = (await createAgent(deps.db, ctx, { name: 'sender' }, { allowPrivateUrls: true })).api_key;
    keys.recipient = (await createAgent(deps.db, ctx, { name: 'recipient' }, { allowPrivateUrls: true })).api_key;
    app = await buildWeb(deps);
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    if (deps) await closeDeps(deps).catch(() => {});
    await pg?.close();
  });

  const call = async (kind: Outcome['kind'], i: number): Promise<Outcome> => {
    const [path, body] =
      kind === 'approval'
        ? [
            '/v1/pause',
            {
              recipient: 'a@example.com',
              channel: 'web',
              message: `Wire #${i}?`,
              options: ['Approve', 'Reject'],
              timeout_seconds: 3600,
            },
          ]
        : ['/v1/messages', { to: 'recipient', body: { i } }];
    const res = await fetch(origin + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.sender}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const json = (await res.json().catch(() => ({}))) as any;
    return {
      kind,
      at: Date.now(),
      status: res.status,
      code: json.error?.code,
      message: json.error?.message,
      id: json.pause_id ?? json.id,
    };
  };

  it('answers 503 unavailable while down, loses no acknowledged write, and serves again within 5 s', async () => {
    const outcomes: Outcome[] = [];
    let running = true;
    let i = 0;
    const loops = Array.from({ length: 6 }, async (_, n) => {
      while (running) {
        const kind = n % 2 ? 'approval' : 'message';
        outcomes.push(await call(kind, i++));
        await new Promise((r) => setTimeout(r, 5));
      }
    });

    await new Promise((r) => setTimeout(r, 1_000));
    const downAt = Date.now();
    await pg.stop('immediate');
    await new Promise((r) => setTimeout(r, 3_000));
    // The process is up; it is not ready, and says what it waits for.
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    const ready = await fetch(`${origin}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).error).toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/^not ready: Postgres is down \(/),
      request_id: ready.headers.get('x-request-id'),
    });
    const startAt = Date.now();
    await pg.start();
    const upAt = Date.now();
    await new Promise((r) => setTimeout(r, 6_000));
    running = false;
    await Promise.all(loops);

    // Only successes and clear 503s; nothing else, ever.
    const odd = outcomes.filter(
      (o) =>
        !(o.status === 201 && o.kind === 'approval') && !(o.status === 202 && o.kind === 'message') && o.status !== 503,
    );
    expect(odd).toEqual([]);
    const refused = outcomes.filter((o) => o.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused) {
      expect(o.code).toBe('unavailable');
      expect(o.message).toMatch(/database|restarting/i);
    }
    // While down, nothing succeeded (a success needs a commit; an answer racing the crash may be 503
    // for a write that did commit, which is the safe side).
    const whileDown = outcomes.filter((o) => o.at > downAt + 200 && o.at < startAt && o.status < 300);
    expect(whileDown).toEqual([]);

    // Recovery: a success within 5 s of Postgres being back (pg_ctl returns once it accepts connections), and no 503 after that.
    const firstOk = outcomes.filter((o) => o.at >= upAt && o.status < 300).sort((a, b) => a.at - b.at)[0];
    expect(firstOk, 'no success after the restart').toBeDefined();
    expect(firstOk!.at - upAt).toBeLessThan(5_000);
    expect(outcomes.filter((o) => o.at > upAt + 5_000 && o.status === 503)).toEqual([]);
    expect(await (await fetch(`${origin}/readyz`)).json()).toEqual({ ok: true, postgres: 'up', redis: 'up' });

    // Every acknowledged write is in the record.
    const approvals = outcomes.filter((o) => o.kind === 'approval' && o.status === 201).map((o) => o.id!);
    const messages = outcomes.filter((o) => o.kind === 'message' && o.status === 202).map((o) => o.id!);
    expect(approvals.length).toBeGreaterThan(10);
    expect(messages.length).toBeGreaterThan(10);
    const foundA = await deps.db.selectFrom('approvals').select('id').where('id', 'in', approvals).execute();
    const foundM = await deps.db.selectFrom('messages').select('id').where('id', 'in', messages).execute();
    expect(foundA.length).toBe(approvals.length);
    expect(foundM.length).toBe(messages.length);
  }, 60_000);
});
