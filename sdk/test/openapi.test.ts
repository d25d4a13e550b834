// The SDK's hand-written types against docs/openapi.json: each type that mirrors an API schema must
// have the same property names, read from the route and response it comes from (not operationIds,
// which may change). A route that the SDK does not follow fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AGENT_FIELDS,
  APPROVAL_EXTENSION_FIELDS,
  APPROVAL_FIELDS,
  DELIVERY_FIELDS,
  MESSAGE_FIELDS,
  PAGE_FIELDS,
  PAUSE_REQUEST_EXTENSION_FIELDS,
  PAUSE_REQUEST_FIELDS,
  PAUSE_STATE_FIELDS,
  RESPONDER_FIELDS,
  SENT_MESSAGE_FIELDS,
  SESSION_FIELDS,
} from '../src/types.js';

type Schema = { $ref?: string; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; type?: unknown };
const doc = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));

function resolve(s: Schema): Schema {
  if (!s.$ref) return s;
  const name = s.$ref.replace('#/components/schemas/', '');
  const target = doc.components.schemas[name];
  if (!target) throw new Error(`unresolved ${s.$ref}`);
  return resolve(target);
}

/** The object schema of a nullable or plain property (`anyOf: [object, null]` → object). */
function objectOf(s: Schema): Schema {
  const r = resolve(s);
  const obj = r.anyOf?.map(resolve).find((x) => x.properties);
  return obj ?? r;
}

function response(path: string, method: string, status: string): Schema {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in docs/openapi.json`);
  const schema = op.responses?.[status]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${path} has no JSON ${status} answer`);
  return resolve(schema);
}

function requestBody(path: string, method: string): Schema {
  return resolve(doc.paths[path][method].requestBody.content['application/json'].schema);
}

const names = (s: Schema) => Object.keys(objectOf(s).properties ?? {}).sort();
const sorted = (xs: readonly string[]) => [...xs].sort();
/** The SDK's fields, minus the contract's extensions the document does not have (yet). */
const served = (sdk: readonly string[], ext: readonly string[], api: string[]) =>
  sorted(sdk.filter((f) => !ext.includes(f) || api.includes(f)));

describe('SDK types match docs/openapi.json', () => {
  it('the approval (POST /v1/pause 201, GET /v1/pause/{pause_id} 200, the list) and its parts', () => {
    const created = response('/v1/pause', 'post', '201');
    const api = names(created);
    expect(served(APPROVAL_FIELDS, APPROVAL_EXTENSION_FIELDS, api)).toEqual(api);
    expect(names(response('/v1/pause/{pause_id}', 'get', '200'))).toEqual(api);
    expect(names(response('/v1/pause/{pause_id}/cancel', 'post', '200'))).toEqual(api);
    const list = response('/v1/pause', 'get', '200');
    expect(names(list)).toEqual(sorted(PAGE_FIELDS));
    expect(names(list.properties!.data!.items!)).toEqual(api);
    expect(names(created.properties!.responder!)).toEqual(sorted(RESPONDER_FIELDS));
    expect(names(created.properties!.delivery!.items!)).toEqual(sorted(DELIVERY_FIELDS));
  });

  it('the body ask sends is what POST /v1/pause accepts (the extensions only once it does)', () => {
    const api = names(requestBody('/v1/pause', 'post'));
    const sdk = served(PAUSE_REQUEST_FIELDS, PAUSE_REQUEST_EXTENSION_FIELDS, api);
    // timeout_hours is PausePoint's; the SDK always sends seconds.
    expect(sdk).toEqual(api.filter((f) => f !== 'timeout_hours'));
  });

  it('the agent (GET /v1/agents/me, POST /v1/agents/me/stopped) and its pause', () => {
    const agent = response('/v1/agents/me', 'get', '200');
    expect(names(agent)).toEqual(sorted(AGENT_FIELDS));
    expect(names(response('/v1/agents/me/stopped', 'post', '200'))).toEqual(sorted(AGENT_FIELDS));
    expect(names(agent.properties!.pause!)).toEqual(sorted(PAUSE_STATE_FIELDS));
  });

  it('messages: the inbox (stream frames carry the same object), and what a send returns', () => {
    const inbox = response('/v1/messages', 'get', '200');
    expect(names(inbox.properties!.data!.items!)).toEqual(sorted(MESSAGE_FIELDS));
    expect(names(response('/v1/messages', 'post', '202'))).toEqual(sorted(SENT_MESSAGE_FIELDS));
    expect(names(requestBody('/v1/messages', 'post'))).toEqual(['body', 'to']);
    expect(names(requestBody('/v1/messages/ack', 'post'))).toEqual(['seq']);
  });

  it('sessions: start and every control answer the session object', () => {
    expect(names(response('/v1/sessions', 'post', '201'))).toEqual(sorted(SESSION_FIELDS));
    for (const action of ['pause', 'resume', 'cancel', 'complete'])
      expect(names(response(`/v1/sessions/{id}/${action}`, 'post', '200')), action).toEqual(sorted(SESSION_FIELDS));
    expect(names(response('/v1/sessions', 'get', '200').properties!.data!.items!)).toEqual(sorted(SESSION_FIELDS));
    expect(names(requestBody('/v1/sessions', 'post'))).toEqual(['metadata', 'task']);
  });

  it('errors: {error: {code, message, fields?, request_id}} is what LeashError reads', () => {
    const err = response('/v1/pause', 'post', '403');
    expect(names(err.properties!.error!)).toEqual(['code', 'fields', 'message', 'request_id']);
  });
});
