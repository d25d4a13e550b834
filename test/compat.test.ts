// The three seed APIs' examples against Leash with only the base URL changed to <leash>/compat
// (contract §10, docs/compat.md): their paths, bodies, status codes, shapes and error sentences;
// the same core actions and timeline entries as the API; a viewer refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from './support/app.js';

const t = useTestApp();
let BASE = '';
let ws: Workspace;
let TOKEN = '';
beforeAll(async () => {
  const origin = await t.app.listen({ port: 0, host: '127.0.0.1' });
  BASE = `${origin}/compat`;
  ws = await t.workspace('Compat Co');
  TOKEN = ws.ownerKey;
});
afterAll(() => t.app.close());

/** What `curl -X POST $BASE$path -H "Authorization: Bearer $TOKEN"` (plus a JSON body) gets. */
async function curl(path: string, opts: { body?: unknown; token?: string; method?: string } = {}) {
  const res = await fetch(`${BASE}${path}`, {
    method: opts.method ?? 'POST',
    headers: {
      Authorization: `Bearer ${opts.token ?? TOKEN}`,
      ...(opts.body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: opts.body ? JSON.stringify(opts.body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

const timeline = async (agentId: string) =>
  (await t.call('GET', `/v1/agents/${agentId}/activity`, { key: ws.ownerKey })).body.data as {
    action: string;
    channel: string;
    details: Record<string, unknown>;
  }[];

describe('session API: POST /v1/sessions/{session_id}/pause|resume|cancel', () => {
  it('pauses, resumes and cancels with the documented answers, on the timeline as the API does', async () => {
    const agent = await ws.agent('session-bot');
    const session = (await t.call('POST', '/v1/sessions', { key: agent.key, body: { task: 'ingest' } })).body;
    expect(await curl(`/v1/sessions/${session.id}/pause`)).toEqual({
      status: 200,
      body: { success: true, message: 'Session paused successfully' },
    });
    const again = await curl(`/v1/sessions/${session.id}/pause`);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ success: false, error: 'already_paused' });
    expect(await curl(`/v1/sessions/${session.id}/resume`)).toEqual({
      status: 200,
      body: { success: true, message: 'Session resumed successfully' },
    });
    expect(await curl(`/v1/sessions/${session.id}/cancel`)).toEqual({
      status: 200,
      body: { success: true, message: 'Session cancelled successfully' },
    });
    const got = (await t.call('GET', `/v1/sessions/${session.id}`, { key: ws.ownerKey })).body;
    expect(got.status).toBe('cancelled');
    const rows = (await timeline(agent.id)).filter((r) => r.action.startsWith('session.'));
    expect(rows.map((r) => r.action).slice(0, 3)).toEqual(['session.cancelled', 'session.resumed', 'session.paused']);
    expect(rows[0]).toMatchObject({ channel: 'api', details: { via: 'compat: POST /v1/sessions/{id}/cancel' } });
  });

  it('unknown sessions (a UUID or not) are the 404 shape; a viewer is refused', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-session']) {
      expect(await curl(`/v1/sessions/${id}/pause`)).toEqual({
        status: 404,
        body: { success: false, error: 'not_found', message: 'Session not found' },
      });
    }
    const viewer = await ws.member('viewer');
    const res = await curl('/v1/sessions/00000000-0000-4000-8000-000000000000/pause', { token: viewer.key });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ success: false, error: 'forbidden' });
  });
});

describe('hired-agent API: POST /api/v1/workspaces/agents/{agent_id}/pause|resume', () => {
  it('pauses fully with no body and answers the hired-agent object; resume unpauses', async () => {
    const agent = await ws.agent('hired-bot', { display_name: 'Hired Bot' });
    const res = await curl(`/api/v1/workspaces/agents/${agent.id}/pause`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(
      [
        'id',
        'user_id',
        'agent_type',
        'display_name',
        'status',
        'tier',
        'stripe_subscription_id',
        'config',
        'hired_at',
        'paused_at',
        'cancelled_at',
        'created_at',
        'updated_at',
        'persona_name',
        'workspace',
        'team_id',
        'team_type',
      ].sort(),
    );
    expect(Object.keys(res.body.workspace).sort()).toEqual(
      [
        'id',
        'hired_agent_id',
        'user_id',
        'name',
        'status',
        'settings',
        'metrics_cache',
        'last_active_at',
        'created_at',
        'updated_at',
      ].sort(),
    );
    expect(res.body).toMatchObject({
      id: agent.id,
      user_id: ws.ownerId,
      display_name: 'Hired Bot',
      status: 'paused',
      persona_name: 'hired-bot',
      cancelled_at: null,
      workspace: { id: ws.id, hired_agent_id: agent.id, name: 'Compat Co' },
    });
    expect(Number.isNaN(Date.parse(res.body.paused_at))).toBe(false);
    const leash = (await t.call('GET', `/v1/agents/${agent.id}`, { key: ws.ownerKey })).body;
    expect(leash.pause.mode).toBe('full');
    const resumed = await curl(`/api/v1/workspaces/agents/${agent.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'active', paused_at: null });
    const rows = await timeline(agent.id);
    expect(rows.map((r) => r.action).slice(0, 2)).toEqual(['agent.unpaused', 'agent.paused']);
    expect(rows[1]).toMatchObject({
      channel: 'api',
      details: { mode: 'full', via: 'compat: POST /api/v1/workspaces/agents/{agent_id}/pause' },
    });
  });

  it('unknown agents (a UUID or not) are the 404 shape; a viewer is refused', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nobody']) {
      expect(await curl(`/api/v1/workspaces/agents/${id}/pause`)).toEqual({
        status: 404,
        body: { detail: 'Agent not found' },
      });
    }
    const viewer = await ws.member('viewer');
    const agent = await ws.agent('hired-viewer-bot');
    expect((await curl(`/api/v1/workspaces/agents/${agent.id}/pause`, { token: viewer.key })).status).toBe(403);
  });
});

describe('agent runtime API: GET /agents, POST /agents/{agentId}/stop|start', () => {
  it('runs the stop document’s fetch code: stopped, then not running; start; the list', async () => {
    const agent = await ws.agent('runtime-bot');
    const agentId = 'runtime-bot';
    // The document's example, with only the base URL changed.
    const response = await fetch(`${BASE}/agents/${agentId}/stop`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ graceful: true, timeout: 30000 }),
    });
    const result = (await response.json()) as any;
    expect(response.status).toBe(200);
    expect(result).toEqual({
      success: true,
      message: 'Agent stopped successfully',
      data: { agentId, status: 'inactive', stoppedAt: expect.any(Number) },
    });
    expect(Math.abs(result.data.stoppedAt - Date.now())).toBeLessThan(60_000);
    expect(await curl(`/agents/${agentId}/stop`, { body: { graceful: false } })).toEqual({
      status: 409,
      body: { success: false, error: 'Agent is not running' },
    });
    const list = await curl('/agents', { method: 'GET' });
    expect(list.body.data).toContainEqual({ agentId, status: 'inactive' });
    const started = await curl(`/agents/${agentId}/start`);
    expect(started).toEqual({
      status: 200,
      body: { success: true, message: 'Agent started successfully', data: { agentId, status: 'active' } },
    });
    expect((await curl(`/agents/${agentId}`, { method: 'GET' })).body.data).toEqual({ agentId, status: 'active' });
    const rows = await timeline(agent.id);
    expect(rows[1]).toMatchObject({ action: 'agent.stopped', details: { via: 'compat: POST /agents/{agentId}/stop' } });
  });

  it('not found is 404, a graceful stop nobody confirms is 408, a viewer cannot stop', async () => {
    expect(await curl('/agents/ghost/stop', { body: { graceful: false } })).toEqual({
      status: 404,
      body: { success: false, error: 'Agent not found' },
    });
    await ws.agent('deaf-runtime', { delivery_url: 'http://127.0.0.1:9/events' });
    expect(await curl('/agents/deaf-runtime/stop', { body: { graceful: true, timeout: 200 } })).toEqual({
      status: 408,
      body: { success: false, error: 'Graceful shutdown timed out' },
    });
    const viewer = await ws.member('viewer');
    const refused = await curl('/agents/deaf-runtime/stop', { token: viewer.key, body: { graceful: false } });
    expect(refused.status).toBe(403);
    expect(refused.body.success).toBe(false);
    const bad = await curl('/agents/deaf-runtime/stop', { body: { graceful: 'false' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ success: false, error: expect.stringContaining('graceful') });
    expect((await t.call('GET', '/v1/agents/deaf-runtime', { key: ws.ownerKey })).body.status).toBe('stopping');
    const unknownRoute = await curl('/agents/deaf-runtime/explode');
    expect(unknownRoute).toEqual({ status: 404, body: { success: false, error: 'Agent not found' } });
  });

  it('without the /compat base, a JSON post to the dashboard’s form route is a JSON 415, not the form page', async () => {
    const res = await fetch(`${BASE.replace(/\/compat$/, '')}/agents/x/stop`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ graceful: false }),
    });
    expect(res.status).toBe(415);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe('unsupported_media_type');
    expect(body.error.message).toContain('/compat');
  });
});
