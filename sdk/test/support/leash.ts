// What the SDK's tests share: a real Leash listening on loopback (test/support/app.ts), and the
// owner's side of an approval read straight from the API.
import { expect } from 'vitest';
import type { TestApp, Workspace } from '../../../test/support/app.js';
import type { Approval } from '../../src/index.js';

/** Listens once per file; returns the base URL. */
export async function listen(t: TestApp): Promise<string> {
  const address = t.app.server.address();
  if (address && typeof address === 'object') return `http://127.0.0.1:${address.port}`;
  return t.app.listen({ host: '127.0.0.1', port: 0 });
}

/** The agent's pending approvals, as the owner lists them. */
export async function pending(t: TestApp, ws: Workspace, agentId: string): Promise<Approval[]> {
  const res = await t.call('GET', `/v1/pause?status=pending&agent_id=${agentId}`, { key: ws.ownerKey });
  expect(res.status).toBe(200);
  return res.body.data;
}

/** Every approval of the agent, whatever its status. */
export async function allApprovals(t: TestApp, ws: Workspace, agentId: string): Promise<Approval[]> {
  const res = await t.call('GET', `/v1/pause?agent_id=${agentId}&limit=200`, { key: ws.ownerKey });
  expect(res.status).toBe(200);
  return res.body.data;
}

/** Waits for the agent's one pending approval and returns it. */
export async function onePending(t: TestApp, ws: Workspace, agentId: string): Promise<Approval> {
  await expect.poll(async () => (await pending(t, ws, agentId)).length).toBe(1);
  return (await pending(t, ws, agentId))[0]!;
}

export async function respond(t: TestApp, ws: Workspace, pauseId: string, choice: string, text?: string) {
  const res = await t.call('POST', `/v1/pause/${pauseId}/respond`, {
    key: ws.ownerKey,
    body: text === undefined ? { choice } : { choice, text },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}
