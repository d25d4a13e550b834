// docs/openapi.json as a validator and a code generator take it: every schema compiles under JSON
// Schema 2020-12 (Ajv), and real answers of every operation, walked through below, match the
// schema the document gives for their status.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { operationIdOf } from '../src/http/openapi-polish.js';
import { useTestApp } from './support/app.js';

const doc = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(doc, 'openapi.json');

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operations = Object.entries<Record<string, any>>(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] })),
);
const pointer = (...parts: string[]) =>
  `openapi.json#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

describe('docs/openapi.json', () => {
  it('has no relative $id, and every component schema compiles under JSON Schema 2020-12', () => {
    for (const [name, schema] of Object.entries<Record<string, unknown>>(doc.components.schemas)) {
      expect(schema.$id, name).toBeUndefined();
      expect(() => ajv.getSchema(pointer('components', 'schemas', name)), name).not.toThrow();
    }
  });

  it('every operation has a unique operationId, and the server is named', () => {
    const ids = operations.map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.servers).toEqual([{ url: expect.stringMatching(/^https?:\/\//) }]);
    expect(operationIdOf('post', '/v1/pause/{pause_id}/respond')).toBe('postPauseByPauseIdRespond');
  });

  it('a body is required only where a field is, and every body may be answered 413 or 415', () => {
    for (const { method, path, op } of operations) {
      if (!op.requestBody) continue;
      const schema = op.requestBody.content['application/json'].schema;
      const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
      expect(op.requestBody.required, `${method} ${path}`).toBe(Boolean(resolved.required?.length));
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
    }
    expect(doc.paths['/v1/agents/{id}/unpause'].post.requestBody.required).toBe(false);
    expect(doc.paths['/v1/pause'].post.requestBody.required).toBe(true);
  });

  it('times are date-time', () => {
    expect(doc.components.schemas.Agent.properties.created_at.format).toBe('date-time');
  });
});

describe('real answers match the document', () => {
  const t = useTestApp();
  const seen = new Set<string>();

  /** Calls the operation at `template` (filled with `url`) and holds the answer to its schema. */
  async function call(
    method: string,
    template: string,
    url: string,
    key: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) {
    const op = doc.paths[template]?.[method.toLowerCase()];
    expect(op, `${method} ${template} is in the document`).toBeDefined();
    const res = await t.call(method, url, {
      key,
      ...(body === undefined ? {} : { body }),
      ...(headers ? { headers } : {}),
    });
    const response = op.responses[String(res.status)];
    expect(response, `${method} ${url} answered ${res.status}, which the document does not list`).toBeDefined();
    const schemaAt = response.content?.['application/json']
      ? pointer(
          'paths',
          template,
          method.toLowerCase(),
          'responses',
          String(res.status),
          'content',
          'application/json',
          'schema',
        )
      : undefined;
    if (schemaAt) {
      const validate = ajv.getSchema(schemaAt)!;
      expect(validate(res.body), `${method} ${url} ${res.status}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    seen.add(op.operationId);
    return res;
  }

  afterAll(() => {
    // Checked last: a scenario that stopped early says which operations it never reached.
    const missing = operations.map((o) => o.op.operationId).filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
  });

  it('agents, approvals, members, messages, blocks, sessions and webhooks', async () => {
    const ws = await t.workspace('Document Co');
    const owner = ws.ownerKey;
    const created = await call('POST', '/v1/agents', '/v1/agents', owner, { name: 'doc-bot' });
    const bot = { id: created.body.agent.id as string, key: created.body.api_key as string };
    const peer = await ws.agent('doc-peer');
    await call('GET', '/v1/agents', '/v1/agents', owner);
    await call('GET', '/v1/agents/{id}', `/v1/agents/${bot.id}`, owner);
    await call('PATCH', '/v1/agents/{id}', `/v1/agents/${bot.id}`, owner, { display_name: 'Doc bot' });
    await call('POST', '/v1/agents/{id}/pause', `/v1/agents/${bot.id}/pause`, owner, { mode: 'send' });
    await call('POST', '/v1/agents/{id}/unpause', `/v1/agents/${bot.id}/unpause`, owner, {});
    await call('GET', '/v1/agents/{id}/activity', `/v1/agents/${bot.id}/activity`, owner);
    await call('GET', '/v1/agents/me', '/v1/agents/me', bot.key);
    await call('POST', '/v1/agents/me/stopped', '/v1/agents/me/stopped', bot.key, {});
    await call('GET', '/v1/directory/{name}', '/v1/directory/doc-peer', bot.key);
    const listTools = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    await call('POST', '/mcp', '/mcp', bot.key, listTools, { accept: 'application/json, text/event-stream' });

    const ask = { recipient: 'owner@example.com', channel: 'web', message: 'Ship?', options: ['Yes', 'No'] };
    const a = await call('POST', '/v1/pause', '/v1/pause', bot.key, ask);
    const b = await call('POST', '/v1/pause', '/v1/pause', bot.key, ask);
    await call('GET', '/v1/pause', '/v1/pause', owner);
    await call('GET', '/v1/pause/{pause_id}', `/v1/pause/${a.body.pause_id}`, bot.key);
    await call('POST', '/v1/pause/{pause_id}/respond', `/v1/pause/${a.body.pause_id}/respond`, owner, {
      choice: 'Yes',
    });
    await call('POST', '/v1/pause/{pause_id}/cancel', `/v1/pause/${b.body.pause_id}/cancel`, bot.key, {});

    const m = await call('POST', '/v1/members', '/v1/members', owner, { email: 'viewer@example.com', role: 'viewer' });
    await call('GET', '/v1/members', '/v1/members', owner);
    await call('GET', '/v1/members/me', '/v1/members/me', owner);
    await call('POST', '/v1/members/me/link-codes', '/v1/members/me/link-codes', owner, {});
    await call('GET', '/v1/members/{id}', `/v1/members/${m.body.member.id}`, owner);
    await call('PATCH', '/v1/members/{id}', `/v1/members/${m.body.member.id}`, owner, { display_name: 'Vi' });
    await call('DELETE', '/v1/members/{id}', `/v1/members/${m.body.member.id}`, owner);

    await call('POST', '/v1/messages', '/v1/messages', bot.key, { to: 'doc-peer', body: { hello: 1 } });
    await call('GET', '/v1/messages', '/v1/messages?wait=0', peer.key);
    await call('POST', '/v1/messages/ack', '/v1/messages/ack', peer.key, { seq: 1 });
    await call('POST', '/v1/blocks', '/v1/blocks', peer.key, { agent: 'doc-bot' });
    await call('GET', '/v1/blocks', '/v1/blocks', peer.key);
    await call('DELETE', '/v1/blocks/{agent}', '/v1/blocks/doc-bot', peer.key);

    const s = await call('POST', '/v1/sessions', '/v1/sessions', bot.key, { task: 'reconcile' });
    const s2 = await call('POST', '/v1/sessions', '/v1/sessions', bot.key, {});
    await call('GET', '/v1/sessions', '/v1/sessions', owner);
    await call('GET', '/v1/sessions/{id}', `/v1/sessions/${s.body.id}`, owner);
    await call('POST', '/v1/sessions/{id}/pause', `/v1/sessions/${s.body.id}/pause`, owner, {});
    await call('POST', '/v1/sessions/{id}/resume', `/v1/sessions/${s.body.id}/resume`, owner, {});
    await call('POST', '/v1/sessions/{id}/complete', `/v1/sessions/${s.body.id}/complete`, bot.key, {});
    await call('POST', '/v1/sessions/{id}/cancel', `/v1/sessions/${s2.body.id}/cancel`, owner, {});

    const hook = await call('POST', '/v1/webhooks', '/v1/webhooks', owner, { url: 'http://127.0.0.1:9/hook' });
    const hookId = hook.body.endpoint?.id ?? hook.body.id;
    await call('GET', '/v1/webhooks', '/v1/webhooks', owner);
    await call('GET', '/v1/webhooks/{id}', `/v1/webhooks/${hookId}`, owner);
    await call('GET', '/v1/webhooks/{id}/deliveries', `/v1/webhooks/${hookId}/deliveries`, owner);
    await call(
      'POST',
      '/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver',
      `/v1/webhooks/${hookId}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`,
      owner,
      {},
    );
    await call('DELETE', '/v1/webhooks/{id}', `/v1/webhooks/${hookId}`, owner);

    await call('POST', '/v1/agents/{id}/stop', `/v1/agents/${bot.id}/stop`, owner, { graceful: false });
    await call('POST', '/v1/agents/{id}/start', `/v1/agents/${bot.id}/start`, owner, {});
    await call('DELETE', '/v1/agents/{id}', `/v1/agents/${bot.id}`, owner);
    // Refusals are documented too: their bodies hold to the error schema.
    await call('GET', '/v1/agents/{id}', `/v1/agents/${bot.id}`, owner);
  });
});
