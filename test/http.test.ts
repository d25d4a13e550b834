import { describe, expect, it } from 'vitest';
import { loggedServer, useTestApp } from './support/app.js';

const t = useTestApp();

describe('the HTTP surface', () => {
  it('GET /healthz says the process is up (readiness, with Postgres and Redis, is /readyz)', async () => {
    const res = await t.call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it('unknown routes are 404 in the error shape', async () => {
    const res = await t.call('GET', '/v1/nope?x=1');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { code: 'not_found', message: 'No route GET /v1/nope', request_id: res.headers['x-request-id'] },
    });
  });

  it('every error body carries the request id its log lines carry, and every answer names it', async () => {
    const { app, logged, close } = await loggedServer(t);
    try {
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/agents',
        headers: { authorization: 'Bearer lsh_m_nope', 'content-type': 'application/json' },
        payload: '{}',
      });
      expect(bad.statusCode).toBe(401);
      const id = bad.json().error.request_id;
      expect(id).toMatch(/^req_[0-9a-f]{20}$/);
      expect(bad.headers['x-request-id']).toBe(id);
      const lines = logged()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.filter((l) => l.request_id === id).length).toBeGreaterThan(0);
      expect(lines.find((l) => l.request_id === id && l.res)?.res.statusCode).toBe(401);
      // Ids are unique, and an answer that is not an error names its request too.
      const ok = await app.inject({ method: 'GET', url: '/healthz' });
      expect(ok.headers['x-request-id']).toMatch(/^req_[0-9a-f]{20}$/);
      expect(ok.headers['x-request-id']).not.toBe(id);
      // Served over plain http (the default PUBLIC_URL) there is no HSTS to send.
      expect(ok.headers['strict-transport-security']).toBeUndefined();
    } finally {
      await close();
    }
  });

  it('a POST with no body, or an empty JSON body, reads as {}', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('empty-body');
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    const res = await t.call('POST', `/v1/agents/${a.id}/unpause`, {
      key: ws.ownerKey,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    expect((await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
  });

  it('a non-JSON content type is 415 unsupported_media_type', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('a body that is JSON but not an object is refused, naming the body', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: '[1,2]' });
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('body');
  });

  it('a NUL character anywhere in a body is 400 naming its field, and nothing changes', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('nul-target');
    const res = await t.call('POST', `/v1/agents/${a.id}/pause`, {
      key: ws.ownerKey,
      body: { mode: 'send', reason: 'x\u0000y' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: 'reason', message: 'must not contain NUL characters (\\u0000) or unpaired surrogates' },
    ]);
    const key = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: '{"name":"n","display_name":{"a\\u0000":1}}',
    });
    expect(key.body.error.fields[0].field).toBe('display_name');
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.pause).toBeNull();
  });

  it('an unpaired surrogate anywhere is 400 naming its field; a proper pair (emoji) is fine', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('surrogates');
    const lone = await t.call('POST', `/v1/agents/${a.id}/pause`, {
      key: ws.ownerKey,
      body: '{"mode":"send","reason":"x\\ud800"}',
    });
    expect(lone.status).toBe(400);
    expect(lone.body.error.fields[0].field).toBe('reason');
    const session = await t.call('POST', '/v1/sessions', { key: a.key, body: '{"metadata":{"a":{"b":"\\udfff"}}}' });
    expect(session.body.error.fields[0].field).toBe('metadata.a.b');
    const emoji = await t.call('POST', `/v1/agents/${a.id}/pause`, {
      key: ws.ownerKey,
      body: '{"mode":"send","reason":"ok \\ud83d\\ude80"}',
    });
    expect(emoji.status).toBe(200);
    expect(emoji.body.pause.reason).toBe('ok 🚀');
  });

  it('a __proto__ key is refused with 400 (not silently dropped from metadata, not applied)', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: '{"name":"safe","__proto__":{"display_name":"injected"}}',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('__proto__');
    const nested = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: '{"name":"safe","x":{"constructor":{"prototype":{}}}}',
    });
    expect(nested.status).toBe(400);
    expect((await t.call('GET', '/v1/agents', { key: ws.ownerKey })).body.data).toEqual([]);
  });

  it('malformed Authorization headers are 401 with a hint', async () => {
    for (const authorization of ['Basic abc', 'Bearer', 'Bearer a b', 'lsh_m_x']) {
      const res = await t.call('GET', '/v1/agents', { headers: { authorization } });
      expect(res.status, authorization).toBe(401);
      expect(res.body.error.message).toContain('Bearer');
    }
  });

  it('serves OpenAPI 3.1 at /docs/json covering every /v1 route, and the UI at /docs', async () => {
    const spec = await t.call('GET', '/docs/json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toBe('3.1.0');
    const paths = Object.keys(spec.body.paths);
    for (const p of [
      '/v1/agents',
      '/v1/agents/{id}',
      '/v1/agents/{id}/pause',
      '/v1/agents/{id}/unpause',
      '/v1/agents/{id}/stop',
      '/v1/agents/{id}/start',
      '/v1/agents/{id}/activity',
      '/v1/agents/me',
      '/v1/agents/me/stopped',
      '/v1/directory/{name}',
      '/v1/members',
      '/v1/members/me',
      '/v1/members/{id}',
      '/v1/sessions',
      '/v1/sessions/{id}',
      '/v1/sessions/{id}/pause',
      '/v1/sessions/{id}/resume',
      '/v1/sessions/{id}/cancel',
      '/v1/sessions/{id}/complete',
    ]) {
      expect(paths, p).toContain(p);
    }
    expect(spec.body.components.schemas.Agent.properties.status.enum).toEqual([
      'active',
      'paused',
      'stopping',
      'inactive',
    ]);
    const ui = await t.call('GET', '/docs/');
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger');
  });
});

describe('GET /v1/directory/{name}', () => {
  it('shows another agent’s public profile and never its pause state', async () => {
    const ws = await t.workspace();
    const asker = await ws.agent('asker');
    const target = await ws.agent('target', { display_name: 'Target' });
    await t.call('POST', `/v1/agents/${target.id}/pause`, {
      key: ws.ownerKey,
      body: { mode: 'full', reason: 'secret reason' },
    });
    const res = await t.call('GET', '/v1/directory/target', { key: asker.key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'target', display_name: 'Target', presence: 'offline' });
    expect(JSON.stringify(res.body)).not.toMatch(/pause|secret/);
  });

  it('another workspace’s agent is 404', async () => {
    const a = await t.workspace();
    const b = await t.workspace();
    const asker = await a.agent('asker');
    await b.agent('hidden');
    expect((await t.call('GET', '/v1/directory/hidden', { key: asker.key })).status).toBe(404);
  });
});

describe('docs/openapi.json', () => {
  it('is the document the code generates (run `npm run openapi` after changing a route)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { openapiDocument } = await import('../src/openapi-dump.js');
    const committed = JSON.parse(await readFile(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(await openapiDocument())));
  });
});
