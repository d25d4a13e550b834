// Property-based fuzzing of every JSON route of the HTTP API (fast-check). For each route, requests
// are built from near-valid bodies (a valid body with fields dropped, retyped, wrapped or added),
// arbitrary JSON, raw text that is not JSON, strings Postgres cannot store (NUL, lone surrogates),
// huge strings, numbers JSON.stringify cannot write (1e400, 30-digit integers), deep nesting, odd
// path parameters (invalid UUIDs, bad percent-escapes, over-long ids) and odd query strings, all
// sent with a key of the kind the route takes (sometimes another kind, or none).
//
// The properties: never a 5xx; every 4xx is exactly {error: {code, message, fields?, request_id}} with the
// status of its code; a 400 invalid_request names each bad field (non-empty names, rooted at a body
// field, or at query./path./header.).
//
// Seeded, so a failure reproduces: FUZZ_SEED=<seed> npx vitest run test/fault/fuzz.test.ts (the
// report prints the seed and fast-check's replay path). FUZZ_RUNS (default 120) is the number of
// runs of a route with a body (others get a share of it).
// Skipped on purpose: the HTML pages (/r/…, the dashboard), the vendor webhooks (/slack, /telegram,
// /sms) and the WebSocket upgrade (/v1/stream).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../src/errors.js';
import { MAX_DEPTH } from '../../src/http/json-body.js';
import { WEBHOOK_EVENTS } from '../../src/webhooks/events.js';
import { useTestApp } from '../support/app.js';

const t = useTestApp();

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

// ---------------------------------------------------------------------------------------------
// Fixtures: one workspace with a key of every kind and a thing of every kind, and a second
// workspace whose ids must all read as 404 from the first.

type KeyKind = 'owner' | 'approver' | 'viewer' | 'agent' | 'me' | 'none' | 'bogus';

interface Fixtures {
  keys: Record<Exclude<KeyKind, 'none' | 'bogus'>, string>;
  /** Agents by role in the fuzz: id and name. */
  agents: Record<'sender' | 'recipient' | 'target' | 'patch' | 'victim' | 'me', { id: string; name: string }>;
  approvals: { pending: string; pending2: string; settled: string };
  sessions: { one: string; two: string };
  webhook: string;
  members: { patch: string; victim: string; approver: string };
  other: { agent: string; agentName: string; member: string; approval: string; session: string; webhook: string };
}

let f: Fixtures;

beforeAll(async () => {
  const ws = await t.workspace('Fuzz');
  const approver = await ws.member('approver');
  const viewer = await ws.member('viewer');
  const patchee = await ws.member('viewer');
  const victim = await ws.member('viewer');
  const mk = async (name: string) => {
    const a = await ws.agent(name);
    return { id: a.id, name, key: a.key };
  };
  const [sender, recipient, target, patch, victimAgent, me] = [
    await mk('fz-sender'),
    await mk('fz-recipient'),
    await mk('fz-target'),
    await mk('fz-patch'),
    await mk('fz-victim'),
    await mk('fz-me'),
  ];
  const ask = async (key: string) => {
    const res = await t.call('POST', '/v1/pause', {
      key,
      body: {
        recipient: 'you@example.com',
        channel: 'web',
        message: 'Ship it?',
        options: ['Approve', 'Reject'],
        timeout_seconds: 3600,
      },
    });
    expect(res.status).toBe(201);
    return res.body.pause_id as string;
  };
  const pending = await ask(sender.key);
  const pending2 = await ask(sender.key);
  const settled = await ask(sender.key);
  expect(
    (await t.call('POST', `/v1/pause/${settled}/respond`, { key: ws.ownerKey, body: { choice: 'Approve' } })).status,
  ).toBe(200);
  const session = async (key: string) => {
    const res = await t.call('POST', '/v1/sessions', { key, body: { task: 'fuzz' } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const hook = async (key: string) => {
    const res = await t.call('POST', '/v1/webhooks', { key, body: { url: 'http://127.0.0.1:9/hook' } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  // Something in the inbox, so that reads have rows to render.
  expect(
    (await t.call('POST', '/v1/messages', { key: recipient.key, body: { to: 'fz-sender', body: { hello: 'world' } } }))
      .status,
  ).toBe(202);

  const ws2 = await t.workspace('Elsewhere');
  const agent2 = await ws2.agent('fz-foreign');
  const member2 = await ws2.member('approver');
  f = {
    keys: { owner: ws.ownerKey, approver: approver.key, viewer: viewer.key, agent: sender.key, me: me.key },
    agents: { sender, recipient, target, patch, victim: victimAgent, me },
    approvals: { pending, pending2, settled },
    sessions: { one: await session(sender.key), two: await session(sender.key) },
    webhook: await hook(ws.ownerKey),
    members: { patch: patchee.id, victim: victim.id, approver: approver.id },
    other: {
      agent: agent2.id,
      agentName: 'fz-foreign',
      member: member2.id,
      approval: await ask(agent2.key),
      session: await session(agent2.key),
      webhook: await hook(ws2.ownerKey),
    },
  };
}, 30_000);

// ---------------------------------------------------------------------------------------------
// Raw JSON fragments JSON.stringify cannot produce, spliced into bodies through placeholders.

const nest = (open: string, inner: string, close: string, n: number) => open.repeat(n) + inner + close.repeat(n);
const RAW: string[] = [
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '-9223372036854775809',
  '9007199254740993',
  '1E2',
  '-0.0',
  '1e-400',
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"x\\udfff"',
  '"\\udbff\\udfff"',
  '"\\u202e\\u200b\\ufeff"',
  nest('[', '1', ']', 64),
  nest('[', '1', ']', 5_000),
  nest('[', '', ']', 200_000),
  nest('{"a":', '1', '}', 10_000),
  nest('{"a":', '1', '}', 120_000),
  nest('{"a":', '"\\u0000"', '}', 50_000),
  nest('[', '"\\ud800"', ']', 100_000),
  nest('{"__proto__":', '{}', '}', 3),
  '{"constructor":{"prototype":{"polluted":true}}}',
];
const rawValue = fc.nat({ max: RAW.length - 1 }).map((i) => `@@raw:${i}@@`);

/** A body's text: JSON, with the placeholders replaced by their raw fragments. */
function serialize(value: unknown): string {
  return JSON.stringify(value).replace(/"@@raw:(\d+)@@"/g, (_m, i: string) => RAW[Number(i)]!);
}

// ---------------------------------------------------------------------------------------------
// Wild values.

const surrogateHalf = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const wildUnit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: surrogateHalf },
  {
    weight: 1,
    arbitrary: fc.constantFrom('\u0000', '\u202e', '\ufeff', '\u0085', '\u2028', '🙂', 'é', 'e\u0301', '\t', '\n'),
  },
);
const HUGE = [201, 501, 2_001, 65 * 1024, 300_000, 1_100_000];
const specialStrings = fc.constantFrom(
  '',
  ' ',
  '   ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '\udfff\ud800',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e400',
  '0x1F',
  '9'.repeat(30),
  '-1',
  'true',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  '{}',
  '[]',
  '00000000-0000-0000-0000-000000000000',
  'me',
  '<script>alert(1)</script>',
  "'; drop table agents; --",
  '%00',
  '\\u0000',
  'http://',
  'javascript:alert(1)',
  'http://user:pass@127.0.0.1/',
  'ftp://example.com/',
);
const wildString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: wildUnit, maxLength: 40 }) },
  { weight: 4, arbitrary: specialStrings },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...HUGE)
      .chain((n) => fc.constantFrom('x', 'é', '🙂', ' ').map((c) => c.repeat(Math.ceil(n / c.length)))),
  },
);
const wildNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    -1,
    0,
    -0,
    0.5,
    1.5,
    2 ** 31,
    2 ** 53 + 2,
    1e20,
    -1e20,
    1e308,
    -Number.MAX_SAFE_INTEGER,
    300_001,
    86_400 * 10_000,
  ),
);
const wildKey = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: wildUnit, maxLength: 12 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      '',
      ' ',
      'NAME',
      'a.b',
      '$where',
      'toString',
      'hasOwnProperty',
      '\u0000',
      '\ud800',
      'id',
      'workspace_id',
      'status',
      'agent_id',
    ),
  },
);
const wild: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: wildString },
  { weight: 3, arbitrary: wildNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: rawValue },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(wildString, { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.dictionary(wildKey, wildString, { maxKeys: 3 }) },
);

/** Own properties, so "__proto__" stays a key rather than setting the prototype. */
function put(obj: Record<string, unknown>, key: string, value: unknown) {
  Object.defineProperty(obj, key, { value, enumerable: true, configurable: true, writable: true });
}

type Mutation =
  | { op: 'del'; key: string }
  | { op: 'set'; key: string; value: unknown }
  | { op: 'wrap'; key: string; asArray: boolean }
  | { op: 'stringify'; key: string }
  | { op: 'inner'; key: string; at: number; value: unknown };

function mutations(keys: string[]): fc.Arbitrary<Mutation[]> {
  const known = keys.length > 0 ? fc.constantFrom(...keys) : wildKey;
  const anyKey = fc.oneof({ weight: 3, arbitrary: known }, { weight: 1, arbitrary: wildKey });
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('del' as const), key: known }),
    fc.record({ op: fc.constant('set' as const), key: anyKey, value: wild }),
    fc.record({ op: fc.constant('wrap' as const), key: known, asArray: fc.boolean() }),
    fc.record({ op: fc.constant('stringify' as const), key: known }),
    fc.record({ op: fc.constant('inner' as const), key: known, at: fc.nat({ max: 6 }), value: wild }),
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<Mutation[]>([]) },
    { weight: 3, arbitrary: fc.array(one, { minLength: 1, maxLength: 3 }) },
  );
}

function mutate(base: Record<string, unknown>, ms: Mutation[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) put(out, k, v);
  for (const m of ms) {
    if (m.op === 'del') delete out[m.key];
    else if (m.op === 'set') put(out, m.key, m.value);
    else if (m.op === 'wrap') put(out, m.key, m.asArray ? [out[m.key] ?? null] : { value: out[m.key] ?? null });
    else if (m.op === 'stringify')
      put(
        out,
        m.key,
        out[m.key] === undefined
          ? 'undefined'
          : typeof out[m.key] === 'string'
            ? out[m.key]
            : JSON.stringify(out[m.key]),
      );
    else {
      // Inside a field: one element of an array (options), or one key of an object (slack, metadata).
      const v = out[m.key];
      if (Array.isArray(v)) {
        const copy = [...(v as unknown[])];
        copy[m.at % (copy.length + 1)] = m.value;
        put(out, m.key, copy);
      } else if (v && typeof v === 'object') {
        const copy: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) put(copy, k, x);
        const keys = Object.keys(copy);
        put(copy, keys[m.at] ?? `extra${m.at}`, m.value);
        put(out, m.key, copy);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests.

interface Req {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** The body's top-level keys, when it is a JSON object (for the field-name check). */
  bodyKeys: string[];
  /** The query's keys as sent (for the field-name check). */
  queryKeys: string[];
}

type BodySpec = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };

const rawTexts = fc.constantFrom(
  '',
  ' ',
  '\n',
  '{',
  '}',
  '{"a":',
  'nul',
  'undefined',
  'NaN',
  '{"a":1}garbage',
  '{"a":1}{"b":2}',
  '{"a":"\u0000"}',
  '{"a":"\ud800"}',
  '\ufeff{}',
  '{"a":1,"a":2}',
  "{'a':1}",
  '{a:1}',
  '[]',
  '[{}]',
  '"x"',
  '0',
  '-0',
  'true',
  'null',
  '{"__proto__":{"x":1}}',
  '{"a":{"__proto__":[]}}',
  '{"constructor":{"prototype":{}}}',
  '\u0000',
  '{"a":1e400}',
  '{"a":0x10}',
  '{"a":.5}',
  '{"a":+1}',
  '{"a":01}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '/*c*/{}',
);

function bodySpec(fields: Record<string, fc.Arbitrary<unknown>>, required: string[]): fc.Arbitrary<BodySpec> {
  const keys = Object.keys(fields);
  const near = fc
    .tuple(fc.record(fields, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>, mutations(keys))
    .map(([base, ms]): BodySpec => ({ kind: 'json', value: mutate(base, ms) }));
  return fc.oneof(
    { weight: 12, arbitrary: near },
    { weight: 2, arbitrary: wild.map((value): BodySpec => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): BodySpec => ({ kind: 'json', value })) },
    { weight: 2, arbitrary: rawTexts.map((text): BodySpec => ({ kind: 'raw', text })) },
    { weight: 1, arbitrary: fc.constant<BodySpec>({ kind: 'none' }) },
  );
}

/** Percent-encodes any string, lone surrogates included (as their WTF-8 bytes: not valid UTF-8). */
function pct(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

/** A path segment: mostly encoded text, sometimes raw escapes a router must survive. */
const junkSegment = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: wildUnit, maxLength: 70 }).map(pct) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '%00',
      'a%00b',
      '%ED%A0%80',
      '%ff',
      '%C0%80',
      '%zz',
      '%',
      '%E2%82',
      '%2F',
      'me',
      'null',
      'undefined',
      'NaN',
      '-1',
      '0',
      '9'.repeat(40),
      'x'.repeat(65),
      'a'.repeat(64),
      'x'.repeat(5000),
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      '0190d5b2-7b1e-7c3a-9f00-0000000000000',
      '0190d5b2-7b1e-7c3a-9f00-00000000000',
      '0190d5b27b1e7c3a9f00000000000000',
      '%7B%7D',
      '%20',
      '+',
      'a;b',
      'a,b',
      '%F0%9F%99%82',
      '%C3%A9',
      '%EF%BB%BF',
      '__proto__',
      'constructor',
    ),
  },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.uuid().map((u) => `${u}x`) },
);

const uuidParam = (valid: () => string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...valid()) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 4, arbitrary: junkSegment },
  );
const nameParam = (valid: () => string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...valid()) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,12}$/).map((s) => `nx-${s}`) },
    { weight: 4, arbitrary: junkSegment },
  );

// Query values: near-valid for the route's own parameters, plus junk keys and raw fragments.
const intText = (min: number, max: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min, max }).map(String) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '-1',
        '0',
        '1e2',
        '0x10',
        '0b1',
        'NaN',
        'Infinity',
        '-0',
        '1.5',
        '',
        ' ',
        ' 5',
        '5 ',
        '9'.repeat(30),
        '99999999999999999999',
        '9223372036854775808',
        '1e400',
        '50abc',
        'true',
        '[]',
      ),
    },
  );
const waitText = fc.constantFrom(
  '0',
  '0.01',
  '0.05',
  '',
  '-1',
  '61',
  '60.5',
  'NaN',
  'Infinity',
  '1e400',
  'x',
  '0x0',
  '-0',
  '1e-9',
);
const cursorText = (valid: () => string[]) =>
  fc.oneof(fc.constantFrom(...valid()), fc.uuid(), fc.string({ unit: wildUnit, maxLength: 40 }));
const rawQuery = fc.constantFrom(
  '',
  '&',
  '&&',
  '=',
  '==',
  'a',
  '%',
  '%zz=1',
  'limit=%ff',
  'limit=%00',
  'x[]=1',
  'limit[]=1',
  'limit[0]=1',
  '__proto__=1',
  '__proto__[x]=1',
  'constructor[prototype]=1',
  'limit=1&limit=2',
  'cursor=&cursor=',
  'a=%ED%A0%80',
  '%ED%A0%80=1',
  ';',
  'limit=5;x=1',
);

function queryArb(known: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<{ text: string; keys: string[] }> {
  const names = Object.keys(known);
  const pair = (k: fc.Arbitrary<string>, v: fc.Arbitrary<string>) =>
    fc.tuple(k, v).map(([key, value]) => ({ text: `${pct(key)}=${pct(value)}`, key }));
  const parts: fc.Arbitrary<{ text: string; key?: string }>[] = [
    pair(
      fc.oneof(wildKey, fc.constantFrom('limit', 'cursor', 'wait', 'status')),
      fc.oneof(
        wildString.filter((s) => s.length < 3000),
        fc.constant(''),
      ),
    ),
    rawQuery.map((text) => ({ text })),
  ];
  if (names.length > 0) {
    parts.unshift(
      fc
        .constantFrom(...names)
        .chain((k) =>
          pair(
            fc.constant(k),
            fc.oneof(
              { weight: 3, arbitrary: known[k]! },
              { weight: 1, arbitrary: fc.string({ unit: wildUnit, maxLength: 20 }) },
            ),
          ),
        ),
    );
  }
  const weighted = parts.map((arbitrary, i) => ({ weight: i === 0 && names.length > 0 ? 6 : 1, arbitrary }));
  return fc.array(fc.oneof(...weighted), { maxLength: 4 }).map((ps) => ({
    text: ps.map((p) => p.text).join('&'),
    keys: ps.flatMap((p) => (p.key === undefined ? [] : [p.key])),
  }));
}

/** Every decoding a server might apply to a query component. */
function decodings(s: string): string[] {
  const out = [s, s.replace(/\+/g, ' ')];
  for (const x of [...out]) {
    try {
      out.push(decodeURIComponent(x));
    } catch {
      /* not decodable: kept raw */
    }
  }
  return out;
}

/** Long-polls are bounded by `wait`: drop any pair that could read as a real wait, so runs stay fast. */
function withoutLongWaits(query: string): string {
  return query
    .split('&')
    .filter((part) => {
      const [k = '', v = ''] = part.split(/=(.*)/s);
      if (!decodings(k).some((d) => d.trim() === 'wait')) return true;
      return !decodings(v).some((d) => {
        const n = Number(d);
        return Number.isFinite(n) && n > 0.1;
      });
    })
    .join('&');
}

const contentTypes = fc.oneof(
  { weight: 14, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/json;',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/vnd.api+json',
      'application/json-patch+json',
      '*/*',
    ),
  },
);

const idempotencyKeys = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,40}$/) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'a b', '\t', 'k'.repeat(255), 'k'.repeat(256), 'fuzz-fixed-key') },
);

const bogusAuth = fc.constantFrom(
  '',
  'Bearer',
  'Bearer ',
  'Bearer lsh_m_nope',
  'Bearer lsh_a_nope',
  'Bearer lsh_x_nope',
  'Basic Zm9vOmJhcg==',
  'Bearer a b',
  `Bearer ${'x'.repeat(5000)}`,
);

// ---------------------------------------------------------------------------------------------
// The routes.

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Route {
  method: Method;
  path: string;
  /** The keys the route takes; another kind is sent now and then (a 401/403 must be well formed too). */
  who: KeyKind[];
  params?: () => Record<string, fc.Arbitrary<string>>;
  query?: () => Record<string, fc.Arbitrary<string>>;
  /** The body's fields with valid values; near-valid bodies are mutations of these. */
  body?: () => Record<string, fc.Arbitrary<unknown>>;
  required?: string[];
  creates?: boolean;
  /** The fraction of FUZZ_RUNS this route gets (routes with no body or parameters need fewer). */
  share?: number;
  /** Rewrites a request that could block (a graceful stop waiting on a live connection). */
  guard?: (req: Req) => Promise<Req>;
}

const agentRefs = () => [
  f.agents.sender.id,
  f.agents.sender.name,
  f.agents.recipient.id,
  f.agents.recipient.name,
  f.agents.target.id,
  f.other.agent,
  f.other.agentName,
];
const pageQuery = () => ({
  limit: intText(-2, 250),
  cursor: cursorText(() => [f.agents.sender.id, f.approvals.pending, f.sessions.one]),
});
const text = (max: number) => fc.string({ maxLength: max > 60 ? 60 : max });
const displayName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim().length > 0),
  fc.constant(null),
  fc.constant('d'.repeat(200)),
);
const validName = fc.stringMatching(/^[a-z0-9-]{1,20}$/).map((s) => `fzn-${s}`);
const deliveryUrl = fc.constantFrom(
  null,
  'http://127.0.0.1:9/deliver',
  'https://example.com/deliver',
  `https://example.com/${'p'.repeat(2000)}`,
);
const members = () => ({
  display_name: displayName,
  phone: fc.oneof(fc.constant(null), fc.stringMatching(/^\+1555\d{7}$/)),
  slack: fc.oneof(
    fc.constant(null),
    fc.record({ team_id: fc.stringMatching(/^T[A-Z0-9]{2,8}$/), user_id: fc.stringMatching(/^[UW][A-Z0-9]{2,8}$/) }),
  ),
  telegram: fc.oneof(
    fc.constant(null),
    fc.record({ user_id: fc.oneof(fc.integer({ min: 1 }), fc.stringMatching(/^[1-9]\d{0,19}$/)) }),
  ),
});
const metadata = fc.oneof(
  fc.constant(null),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
);
const empty = () => ({});

const ROUTES: Route[] = [
  { method: 'GET', path: '/healthz', who: ['none'], query: empty, share: 0.25 },
  { method: 'GET', path: '/docs/json', who: ['none'], query: empty, share: 0.15 },

  // Agents (owner writes, members read).
  {
    method: 'POST',
    path: '/v1/agents',
    who: ['owner', 'owner', 'owner', 'approver', 'agent'],
    creates: true,
    required: ['name'],
    body: () => ({ name: validName, display_name: displayName, delivery_url: deliveryUrl }),
  },
  { method: 'GET', path: '/v1/agents', who: ['owner', 'approver', 'viewer', 'agent'], query: pageQuery },
  {
    method: 'GET',
    path: '/v1/agents/:id',
    who: ['owner', 'approver', 'viewer', 'agent'],
    params: () => ({ id: nameParam(agentRefs) }),
  },
  {
    method: 'PATCH',
    path: '/v1/agents/:id',
    who: ['owner', 'owner', 'owner', 'viewer'],
    params: () => ({ id: nameParam(() => [f.agents.patch.id, f.other.agent]) }),
    body: () => ({ name: validName, display_name: displayName, delivery_url: deliveryUrl }),
  },
  {
    method: 'DELETE',
    path: '/v1/agents/:id',
    who: ['owner', 'owner', 'approver'],
    params: () => ({ id: nameParam(() => [f.agents.victim.id, f.other.agent]) }),
    share: 0.5,
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/pause',
    who: ['owner', 'owner', 'viewer', 'agent'],
    params: () => ({ id: nameParam(() => [f.agents.target.id, f.agents.target.name, f.other.agent]) }),
    required: ['mode'],
    body: () => ({
      mode: fc.constantFrom('send', 'full'),
      reason: fc.oneof(fc.constant(null), text(500), fc.constant('r'.repeat(500))),
    }),
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/unpause',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: nameParam(() => [f.agents.target.id, f.other.agent]) }),
    body: empty,
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/stop',
    who: ['owner', 'owner', 'approver'],
    params: () => ({ id: nameParam(() => [f.agents.target.id, f.agents.target.name, f.other.agent]) }),
    body: () => ({ graceful: fc.boolean(), timeout: fc.integer({ min: 0, max: 300_000 }) }),
    guard: async (req) => {
      // A graceful stop of an agent with a live connection (a delivery_url) waits up to `timeout`:
      // aim such requests at an agent with none, which stops at once.
      const id = /^\/v1\/agents\/([^/?]*)\/stop/.exec(req.url)?.[1] ?? '';
      const ref = decodings(id).at(-1)!;
      const hit = await t.deps.db
        .selectFrom('agents')
        .select('delivery_url')
        .where((eb) =>
          eb.or([eb('name', '=', ref.replaceAll('\u0000', '')), ...(isUuidLike(ref) ? [eb('id', '=', ref)] : [])]),
        )
        .where('delivery_url', 'is not', null)
        .executeTakeFirst();
      return hit
        ? { ...req, url: req.url.replace(`/v1/agents/${id}/stop`, `/v1/agents/${f.agents.target.id}/stop`) }
        : req;
    },
  },
  {
    method: 'POST',
    path: '/v1/agents/:id/start',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: nameParam(() => [f.agents.target.id, f.other.agent]) }),
    body: empty,
  },
  {
    method: 'GET',
    path: '/v1/agents/:id/activity',
    who: ['owner', 'approver', 'viewer', 'agent'],
    params: () => ({ id: nameParam(() => [f.agents.target.id, f.agents.sender.name, f.other.agent]) }),
    query: pageQuery,
  },

  // The agent's own view.
  { method: 'GET', path: '/v1/agents/me', who: ['me', 'agent', 'owner'], query: empty, share: 0.35 },
  // This stops the me agent: an agent of its own, so the sender stays running for the routes below.
  { method: 'POST', path: '/v1/agents/me/stopped', who: ['me', 'me', 'owner', 'viewer'], body: empty, share: 0.5 },
  {
    method: 'GET',
    path: '/v1/directory/:name',
    who: ['agent', 'me', 'viewer'],
    params: () => ({ name: nameParam(agentRefs) }),
  },

  // Approvals.
  {
    method: 'POST',
    path: '/v1/pause',
    who: ['agent', 'agent', 'owner', 'approver', 'viewer'],
    creates: true,
    required: ['recipient', 'channel', 'message', 'options'],
    body: () => ({
      recipient: fc.constantFrom(
        'you@example.com',
        f.members.approver,
        '+15551234567',
        'C0123ABC',
        '@fuzz_channel',
        '12345',
        'https://hooks.example.com/x',
      ),
      channel: fc.constantFrom('web', 'web', 'web', 'sms', 'email', 'slack', 'telegram'),
      message: fc.string({ minLength: 1, maxLength: 60 }),
      options: fc.uniqueArray(
        fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() === s && s.length > 0),
        { minLength: 2, maxLength: 5 },
      ),
      allow_text_response: fc.boolean(),
      timeout_hours: fc.integer({ min: 1, max: 168 }),
      timeout_seconds: fc.integer({ min: 1, max: 168 * 3600 }),
      timeout_default: fc.constantFrom(null, 'Approve'),
      metadata,
    }),
  },
  {
    method: 'GET',
    path: '/v1/pause/:pause_id',
    who: ['agent', 'owner', 'viewer', 'me'],
    params: () => ({ pause_id: uuidParam(() => [f.approvals.settled, f.other.approval]) }),
    query: () => ({ wait: waitText }),
  },
  {
    method: 'GET',
    path: '/v1/pause',
    who: ['agent', 'owner', 'viewer'],
    query: () => ({
      ...pageQuery(),
      status: fc.constantFrom('pending', 'responded', 'timed_out', 'cancelled', 'PENDING', ''),
      agent_id: fc.oneof(fc.constantFrom(...agentRefs()), fc.string({ unit: wildUnit, maxLength: 70 })),
    }),
  },
  {
    method: 'POST',
    path: '/v1/pause/:pause_id/respond',
    who: ['approver', 'owner', 'viewer', 'agent'],
    params: () => ({ pause_id: uuidParam(() => [f.approvals.pending, f.approvals.settled, f.other.approval]) }),
    required: ['choice'],
    body: () => ({
      choice: fc.oneof(fc.constantFrom('Approve', 'Reject'), text(200)),
      text: fc.oneof(fc.constant(null), text(2000)),
    }),
  },
  {
    method: 'POST',
    path: '/v1/pause/:pause_id/cancel',
    who: ['agent', 'approver', 'viewer'],
    params: () => ({ pause_id: uuidParam(() => [f.approvals.pending2, f.approvals.settled, f.other.approval]) }),
    body: empty,
  },

  // Members.
  {
    method: 'POST',
    path: '/v1/members',
    who: ['owner', 'owner', 'owner', 'approver'],
    creates: true,
    required: ['email', 'role'],
    body: () => ({ email: fc.emailAddress(), role: fc.constantFrom('owner', 'approver', 'viewer'), ...members() }),
  },
  { method: 'GET', path: '/v1/members', who: ['owner', 'viewer', 'agent'], query: pageQuery },
  { method: 'GET', path: '/v1/members/me', who: ['viewer', 'owner', 'agent'], query: empty, share: 0.35 },
  { method: 'POST', path: '/v1/members/me/link-codes', who: ['viewer', 'approver', 'agent'], body: empty, share: 0.5 },
  {
    method: 'GET',
    path: '/v1/members/:id',
    who: ['owner', 'viewer', 'agent'],
    params: () => ({ id: uuidParam(() => [f.members.patch, f.members.approver, f.other.member]) }),
  },
  {
    method: 'PATCH',
    path: '/v1/members/:id',
    who: ['owner', 'owner', 'owner', 'approver'],
    params: () => ({ id: uuidParam(() => [f.members.patch, f.other.member]) }),
    body: () => ({ email: fc.emailAddress(), role: fc.constantFrom('approver', 'viewer'), ...members() }),
  },
  {
    method: 'DELETE',
    path: '/v1/members/:id',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: uuidParam(() => [f.members.victim, f.other.member]) }),
    share: 0.5,
  },

  // Messages and blocks (agent keys).
  {
    method: 'POST',
    path: '/v1/messages',
    who: ['agent', 'agent', 'agent', 'owner'],
    creates: true,
    required: ['to', 'body'],
    body: () => ({
      to: fc.oneof(
        fc.constantFrom(f.agents.recipient.name, f.agents.recipient.id, f.other.agent),
        fc.string({ maxLength: 70 }),
      ),
      body: fc.jsonValue({ maxDepth: 4 }),
    }),
  },
  {
    method: 'GET',
    path: '/v1/messages',
    who: ['agent', 'agent', 'owner'],
    query: () => ({ after: intText(-1, 5), limit: intText(-1, 1100), wait: waitText }),
  },
  {
    method: 'POST',
    path: '/v1/messages/ack',
    who: ['agent', 'agent', 'owner'],
    required: ['seq'],
    body: () => ({ seq: fc.integer({ min: 0, max: 10 }) }),
  },
  {
    method: 'POST',
    path: '/v1/blocks',
    who: ['agent', 'agent', 'owner'],
    required: ['agent'],
    body: () => ({ agent: fc.oneof(fc.constantFrom(...agentRefs()), fc.string({ maxLength: 70 })) }),
  },
  {
    method: 'DELETE',
    path: '/v1/blocks/:agent',
    who: ['agent', 'agent', 'owner'],
    params: () => ({ agent: nameParam(agentRefs) }),
  },
  { method: 'GET', path: '/v1/blocks', who: ['agent', 'owner'], query: empty, share: 0.35 },

  // Sessions.
  {
    method: 'POST',
    path: '/v1/sessions',
    who: ['agent', 'agent', 'agent', 'owner'],
    creates: true,
    body: () => ({ task: fc.oneof(fc.constant(null), text(2000)), metadata }),
  },
  {
    method: 'GET',
    path: '/v1/sessions',
    who: ['agent', 'owner', 'viewer'],
    query: () => ({
      ...pageQuery(),
      agent_id: fc.oneof(fc.constantFrom(...agentRefs()), fc.string({ unit: wildUnit, maxLength: 70 })),
      status: fc.constantFrom('running', 'paused', 'cancelled', 'completed', 'x'),
    }),
  },
  {
    method: 'GET',
    path: '/v1/sessions/:id',
    who: ['agent', 'owner', 'viewer'],
    params: () => ({ id: uuidParam(() => [f.sessions.one, f.other.session]) }),
  },
  ...(['pause', 'resume', 'cancel'] as const).map((verb): Route => ({
    method: 'POST',
    path: `/v1/sessions/:id/${verb}`,
    who: ['owner', 'agent', 'viewer'],
    params: () => ({ id: uuidParam(() => [verb === 'cancel' ? f.sessions.two : f.sessions.one, f.other.session]) }),
    body: empty,
    share: 0.6,
  })),
  {
    method: 'POST',
    path: '/v1/sessions/:id/complete',
    who: ['agent', 'agent', 'owner'],
    params: () => ({ id: uuidParam(() => [f.sessions.one, f.other.session]) }),
    body: empty,
    share: 0.6,
  },

  // Webhook endpoints (owner).
  {
    method: 'POST',
    path: '/v1/webhooks',
    who: ['owner', 'owner', 'owner', 'approver'],
    creates: true,
    required: ['url'],
    body: () => ({
      url: fc.constantFrom(
        'http://127.0.0.1:9/hook',
        'https://example.com/hook',
        'https://[::1]:9/x',
        'http://localhost:9',
        'mailto:a@b.c',
        'not a url',
      ),
      events: fc.oneof(fc.constant(null), fc.subarray([...WEBHOOK_EVENTS], { minLength: 1 })),
    }),
  },
  { method: 'GET', path: '/v1/webhooks', who: ['owner', 'approver'], query: empty, share: 0.35 },
  {
    method: 'GET',
    path: '/v1/webhooks/:id',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: uuidParam(() => [f.webhook, f.other.webhook]) }),
  },
  {
    method: 'GET',
    path: '/v1/webhooks/:id/deliveries',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: uuidParam(() => [f.webhook, f.other.webhook]) }),
    query: () => ({ ...pageQuery(), status: fc.constantFrom('pending', 'succeeded', 'failed', 'x', '') }),
  },
  {
    method: 'POST',
    path: '/v1/webhooks/:id/deliveries/:delivery_id/redeliver',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: uuidParam(() => [f.webhook, f.other.webhook]), delivery_id: uuidParam(() => [f.webhook]) }),
    body: empty,
  },
  {
    method: 'DELETE',
    path: '/v1/webhooks/:id',
    who: ['owner', 'owner', 'viewer'],
    params: () => ({ id: uuidParam(() => [f.other.webhook, f.webhook]) }),
    share: 0.5,
  },
];

/** The top-level keys of a raw text that parses as a JSON object (none otherwise). */
function objectKeys(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
  } catch {
    return [];
  }
}

function isUuidLike(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

function requestArb(route: Route): fc.Arbitrary<Req> {
  const paramArbs = route.params?.() ?? {};
  const hasBody = route.body !== undefined;
  const whoArb = fc.oneof(
    {
      weight: 10,
      arbitrary: fc.constantFrom(...route.who).map((k) => ({ kind: k, header: undefined as string | undefined })),
    },
    {
      weight: 1,
      arbitrary: bogusAuth.map((header) => ({ kind: 'bogus' as KeyKind, header: header as string | undefined })),
    },
  );
  return fc
    .record({
      who: whoArb,
      params: fc.record(paramArbs) as fc.Arbitrary<Record<string, string>>,
      query: route.query ? queryArb(route.query()) : fc.constant({ text: '', keys: [] as string[] }),
      body: hasBody ? bodySpec(route.body!(), route.required ?? []) : fc.constant<BodySpec>({ kind: 'none' }),
      contentType: contentTypes,
      idempotencyKey: route.creates ? idempotencyKeys : fc.constant(undefined),
    })
    .map(({ who, params, query, body, contentType, idempotencyKey }): Req => {
      const path = route.path.replace(/:([a-z_]+)/g, (_m, name: string) => params[name] ?? '');
      const q =
        route.path === '/v1/messages' || route.path.startsWith('/v1/pause/')
          ? withoutLongWaits(query.text)
          : query.text;
      const headers: Record<string, string> = {};
      if (who.kind === 'bogus') {
        if (who.header) headers.authorization = who.header;
      } else if (who.kind !== 'none') headers.authorization = `Bearer ${f.keys[who.kind]}`;
      if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
      const payload = body.kind === 'json' ? serialize(body.value) : body.kind === 'raw' ? body.text : undefined;
      const bodyKeys = payload === undefined ? [] : objectKeys(payload);
      if (payload !== undefined) headers['content-type'] = contentType;
      const req: Req = {
        method: route.method,
        url: q ? `${path}?${q}` : path,
        headers,
        bodyKeys,
        queryKeys: query.keys,
      };
      if (payload !== undefined) req.payload = payload;
      return Object.assign(req, { [fc.toStringMethod]: () => describeReq(req) });
    });
}

function preview(s: string | undefined, n = 400): string {
  if (s === undefined) return '(none)';
  const shown = JSON.stringify(s.length > n ? s.slice(0, n) : s);
  return s.length > n ? `${shown}… (${s.length} chars)` : shown;
}

function describeReq(req: Req): string {
  const auth = req.headers.authorization
    ? req.headers.authorization.length > 60
      ? 'bearer <long>'
      : req.headers.authorization.replace(/(lsh_[ma]_)\S+/, '$1…')
    : 'none';
  const extra = Object.entries(req.headers)
    .filter(([k]) => k !== 'authorization')
    .map(([k, v]) => `${k}: ${preview(v, 80)}`);
  return `${req.method} ${preview(req.url, 300)} [auth ${auth}${extra.length ? `; ${extra.join('; ')}` : ''}] body=${preview(req.payload)}`;
}

// ---------------------------------------------------------------------------------------------
// The oracle.

const PARAM_NAMES = (route: Route) => [...route.path.matchAll(/:([a-z_]+)/g)].map((m) => m[1]!);

function problems(route: Route, req: Req, status: number, raw: string): string[] {
  const out: string[] = [];
  if (status >= 500) return [`status ${status}`];
  if (status < 400) return out;
  let body: any;
  try {
    body = JSON.parse(raw);
  } catch {
    return [`a ${status} whose body is not JSON`];
  }
  const e = body?.error;
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).join() !== 'error')
    out.push('the body is not {error}');
  if (!e || typeof e !== 'object') return [...out, 'no error object'];
  const extra = Object.keys(e).filter((k) => !['code', 'message', 'fields', 'request_id'].includes(k));
  if (extra.length) out.push(`unexpected error keys: ${extra.join(', ')}`);
  if (typeof e.request_id !== 'string' || !/^req_[0-9a-f]{20}$/.test(e.request_id))
    out.push(`no request_id (${JSON.stringify(e.request_id)})`);
  if (typeof e.code !== 'string' || !(e.code in ERROR_STATUS)) out.push(`unknown code ${JSON.stringify(e.code)}`);
  else if (ERROR_STATUS[e.code as keyof typeof ERROR_STATUS] !== status)
    out.push(`code ${e.code} with status ${status}`);
  if (typeof e.message !== 'string' || e.message.trim() === '') out.push('empty message');
  if (e.fields !== undefined && !Array.isArray(e.fields)) out.push('fields is not an array');
  if (e.code === 'invalid_request') {
    if (!Array.isArray(e.fields) || e.fields.length === 0) {
      out.push('400 invalid_request without fields');
    } else {
      // An empty key is named "" (quoted), so that no field name is empty.
      const roots = new Set([
        'body',
        ...Object.keys(route.body?.() ?? {}),
        ...req.bodyKeys.map((k) => (k === '' ? '""' : k)),
      ]);
      const queryNames = new Set([...Object.keys(route.query?.() ?? {}), ...req.queryKeys]);
      const paramNames = new Set(PARAM_NAMES(route));
      for (const fe of e.fields) {
        if (
          !fe ||
          typeof fe.field !== 'string' ||
          fe.field === '' ||
          typeof fe.message !== 'string' ||
          fe.message === ''
        ) {
          out.push(`malformed field entry ${JSON.stringify(fe)}`);
          continue;
        }
        const field: string = fe.field;
        const under = (prefix: string, names: Set<string>) =>
          [...names].some((n) => field === prefix + n || field.startsWith(`${prefix}${n}.`));
        const ok =
          (field.startsWith('query.') && under('query.', queryNames)) ||
          (field.startsWith('path.') && under('path.', paramNames)) ||
          field === 'header.idempotency-key' ||
          [...roots].some((r) => field === r || field.startsWith(`${r}.`));
        if (!ok) out.push(`field ${JSON.stringify(field)} names nothing in the request`);
      }
    }
  }
  return out;
}

async function send(req: Req) {
  const res = await t.app.inject({
    method: req.method as Method,
    url: req.url,
    headers: req.headers,
    ...(req.payload !== undefined ? { payload: req.payload } : {}),
  });
  return { status: res.statusCode, raw: res.body };
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing every JSON route', () => {
  ROUTES.forEach((route, i) => {
    const seed = SEED + i;
    const numRuns = Math.max(1, Math.round((route.share ?? 1) * RUNS));
    it(`${route.method} ${route.path} (seed ${seed}, ${numRuns} runs)`, async () => {
      const property = fc.asyncProperty(requestArb(route), async (generated) => {
        const req = route.guard ? await route.guard(generated) : generated;
        const res = await send(req);
        const found = problems(route, req, res.status, res.raw);
        if (found.length)
          throw new Error(
            `${found.join('; ')}\n  request: ${describeReq(req)}\n  response: ${res.status} ${preview(res.raw, 600)}`,
          );
      });
      try {
        await fc.assert(property, { seed, numRuns, endOnFailure: false });
      } catch (err) {
        (err as Error).message =
          `${route.method} ${route.path}: replay with FUZZ_SEED=${SEED} (this route's seed ${seed})\n${(err as Error).message}`;
        throw err;
      }
    }, 120_000);
  });
});

// What the fuzzer found, pinned down. Each of these answered 500, or a 400 that named no field (or the
// wrong one), before the fix noted beside it.
describe('regressions found by fuzzing', () => {
  const deep = (n: number) => nest('{"a":', '1', '}', n);
  const fieldsOf = (res: { status: number; body: any }) => {
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    return res.body.error.fields;
  };
  const tooDeep = (field: string) => [{ field, message: `must not be nested more than ${MAX_DEPTH} levels deep` }];

  // Was 500: JSON.stringify in the 16 KiB/64 KiB size checks overflowed the stack (RangeError).
  // Fix: the JSON body parser refuses nesting deeper than MAX_DEPTH (src/http/json-body.ts).
  it('deeply nested metadata or message bodies are 400 naming the field, not 500', async () => {
    expect(
      fieldsOf(await t.call('POST', '/v1/sessions', { key: f.keys.agent, body: `{"metadata":${deep(10_000)}}` })),
    ).toEqual(tooDeep('metadata'));
    expect(
      fieldsOf(
        await t.call('POST', '/v1/messages', {
          key: f.keys.agent,
          body: `{"to":"fz-recipient","body":${nest('[', '', ']', 20_000)}}`,
        }),
      ),
    ).toEqual(tooDeep('body'));
    const ask = `{"recipient":"you@example.com","channel":"web","message":"m","options":["A","B"],"metadata":${deep(10_000)}}`;
    expect(fieldsOf(await t.call('POST', '/v1/pause', { key: f.keys.agent, body: ask }))).toEqual(tooDeep('metadata'));
    expect(
      fieldsOf(
        await t.call('POST', '/v1/agents/me/stopped', { key: f.keys.me, body: nest('[', '"\\u0000"', ']', 100_000) }),
      ),
    ).toEqual(tooDeep('body'));
    // The limit counts the body itself as level 1: metadata holding 99 more levels is fine, 100 is not.
    expect(
      (await t.call('POST', '/v1/sessions', { key: f.keys.agent, body: `{"metadata":${deep(MAX_DEPTH - 1)}}` })).status,
    ).toBe(201);
    expect(
      fieldsOf(await t.call('POST', '/v1/sessions', { key: f.keys.agent, body: `{"metadata":${deep(MAX_DEPTH)}}` })),
    ).toEqual(tooDeep('metadata'));
  });

  // Was 400 with no fields ("A value in the request cannot be stored"): Postgres refused the NUL.
  // Fix: agent refs in paths and query strings are the agentRef schema (src/http/schemas.ts).
  it('a NUL in an agent id or name in the path or query is 400 naming it', async () => {
    const nul = 'must not contain NUL characters';
    expect(fieldsOf(await t.call('DELETE', '/v1/agents/%00', { key: f.keys.owner }))).toEqual([
      { field: 'path.id', message: nul },
    ]);
    expect(fieldsOf(await t.call('GET', '/v1/agents/fz-target%00', { key: f.keys.viewer }))).toEqual([
      { field: 'path.id', message: nul },
    ]);
    expect(fieldsOf(await t.call('GET', '/v1/directory/a%00b', { key: f.keys.agent }))).toEqual([
      { field: 'path.name', message: nul },
    ]);
    expect(fieldsOf(await t.call('DELETE', '/v1/blocks/%00', { key: f.keys.agent }))).toEqual([
      { field: 'path.agent', message: nul },
    ]);
    expect(fieldsOf(await t.call('GET', '/v1/sessions?agent_id=%00', { key: f.keys.agent }))).toEqual([
      { field: 'query.agent_id', message: nul },
    ]);
    expect(fieldsOf(await t.call('GET', '/v1/pause?agent_id=x%00', { key: f.keys.owner }))).toEqual([
      { field: 'query.agent_id', message: nul },
    ]);
  });

  // Was a field named "" (unknown key), or named as if the empty key were not there ("value", "0").
  // Fix: an empty key is named "" quoted (src/http/errors.ts, src/http/json-body.ts).
  it('an empty key is named, quoted, never as an empty or shifted field', async () => {
    const unpause = `/v1/agents/${f.agents.target.id}/unpause`;
    expect(fieldsOf(await t.call('POST', unpause, { key: f.keys.owner, body: { '': '' } }))).toEqual([
      { field: '""', message: 'is not a known field' },
    ]);
    const slack = { team_id: 'T0123', user_id: 'U0123', '': 1 };
    expect(
      fieldsOf(
        await t.call('POST', '/v1/members', {
          key: f.keys.owner,
          body: { email: 'e@example.com', role: 'viewer', slack },
        }),
      ),
    ).toEqual([{ field: 'slack.""', message: 'is not a known field' }]);
    const stored = 'must not contain NUL characters (\\u0000) or unpaired surrogates';
    expect(
      fieldsOf(
        await t.call('POST', `/v1/sessions/${f.sessions.one}/complete`, {
          key: f.keys.agent,
          body: '{"":{"value":"x\\udfff"}}',
        }),
      ),
    ).toEqual([{ field: '"".value', message: stored }]);
    expect(
      fieldsOf(await t.call('POST', '/v1/blocks', { key: f.keys.agent, body: '{"agent":"","":["\\ud800"]}' })),
    ).toEqual([{ field: '"".0', message: stored }]);
  });

  // Was the field "0": a bad string inside a top-level array is now under "body".
  it('a bad string in a top-level array body is named under body', async () => {
    const res = await t.call('POST', '/v1/agents/me/stopped', { key: f.keys.me, body: '["\\ud800"]' });
    expect(fieldsOf(res)).toEqual([
      { field: 'body.0', message: 'must not contain NUL characters (\\u0000) or unpaired surrogates' },
    ]);
  });
});
