// A real Leash per test file: its own database, real Postgres, Fastify driven through inject()
// (the full request pipeline, no network hop). Nothing of ours is mocked.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import type { Channel } from '../../src/channels/channel.js';
import { CHANNELS } from '../../src/channels/list.js';
import { loadConfig } from '../../src/config.js';
import { buildDeps, buildWeb, closeDeps, type Deps } from '../../src/app.js';
import { withSecret, type ConnectedConfig, type ReadyConfig } from '../../src/secret.js';
import { createWorkspace } from '../../src/workspaces/workspaces.js';
import { createTestDatabase } from './db.js';

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
}

export interface CallOptions {
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestApp {
  deps: Deps;
  config: ReadyConfig;
  app: FastifyInstance;
  /** The channels this Leash is built with (the build's, unless a test adds one). */
  channels: readonly Channel[];
  call<T = any>(method: string, url: string, opts?: CallOptions): Promise<Response<T>>;
  /** A new workspace with its owner, plus helpers bound to the owner's key. */
  workspace(name?: string): Promise<Workspace>;
}

export interface Workspace {
  id: string;
  ownerId: string;
  ownerKey: string;
  member(role: 'owner' | 'approver' | 'viewer', extra?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  agent(name: string, extra?: Record<string, unknown>): Promise<{ id: string; key: string; body: any }>;
}

export function testEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    // Queue mode unless a test says otherwise (REDIS_URL: '' is single mode).
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    QUEUE_PREFIX: `leash-test-${randomBytes(4).toString('hex')}`,
    // Out of the way unless a file sets them (test/limits.test.ts): a file's volume from one key,
    // and from one address (inject() is always 127.0.0.1), is no abuse. Still counted, in Redis.
    RATE_LIMIT_PER_MINUTE: '1000000',
    AUTH_FAILURES_PER_MINUTE: '1000000',
    ...extra,
  };
}

/** The configuration of a test Leash on `databaseUrl` (its env from testEnv). */
export function testConfig(databaseUrl: string, extra: Record<string, string> = {}): ConnectedConfig {
  return { ...loadConfig(testEnv(databaseUrl, extra)), databaseUrl };
}

/** Registers beforeAll/afterAll hooks; the returned object is filled in before the first test. */
export function useTestApp(env: Record<string, string> = {}, opts: { channels?: readonly Channel[] } = {}): TestApp {
  const t = {} as TestApp;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    t.config = await withSecret(testConfig(database.url, env));
    t.channels = opts.channels ?? CHANNELS;
    t.deps = buildDeps(t.config, { channels: t.channels });
    t.app = await buildWeb(t.deps, t.channels);
    await t.app.ready();
    t.call = async (method, url, opts = {}) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.key) headers.authorization = `Bearer ${opts.key}`;
      const hasBody = opts.body !== undefined;
      if (hasBody) headers['content-type'] ??= 'application/json';
      const res = await t.app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(hasBody ? { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}),
      });
      const text = res.body;
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON (e.g. /docs HTML) */
      }
      return { status: res.statusCode, body: body as any, headers: res.headers };
    };
    t.workspace = async (name = 'Acme') => {
      const init = await createWorkspace(t.deps.db, {
        name,
        ownerEmail: `owner-${randomBytes(3).toString('hex')}@example.com`,
      });
      const ownerKey = init.api_key;
      return {
        id: init.workspace_id,
        ownerId: init.member_id,
        ownerKey,
        async member(role, extra = {}) {
          const res = await t.call('POST', '/v1/members', {
            key: ownerKey,
            body: { email: `${role}-${randomBytes(3).toString('hex')}@example.com`, role, ...extra },
          });
          if (res.status !== 201) throw new Error(`member create failed: ${JSON.stringify(res.body)}`);
          return { id: res.body.member.id, key: res.body.api_key };
        },
        async agent(agentName, extra = {}) {
          const res = await t.call('POST', '/v1/agents', { key: ownerKey, body: { name: agentName, ...extra } });
          if (res.status !== 201) throw new Error(`agent create failed: ${JSON.stringify(res.body)}`);
          return { id: res.body.agent.id, key: res.body.api_key, body: res.body };
        },
      };
    };
  });
  afterAll(async () => {
    await t.app?.close();
    if (t.deps) await closeDeps(t.deps);
    await drop();
  });
  return t;
}

/** Rows on an agent's timeline, straight from the table (not through the API under test). */
export async function timelineCount(t: TestApp, agentId: string): Promise<number> {
  const row = await t.deps.db
    .selectFrom('activity')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('agent_id', '=', agentId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Another server on this test app's database, logging at info into a string: what a request
 *  leaves in the logs. */
export async function loggedServer(
  t: TestApp,
): Promise<{ app: FastifyInstance; logged: () => string; close: () => Promise<void> }> {
  let logged = '';
  const logStream = new Writable({ write: (chunk, _enc, cb) => ((logged += chunk), cb()) });
  const deps = buildDeps({ ...t.config, logLevel: 'info' }, { logStream });
  const app = await buildWeb(deps);
  return {
    app,
    logged: () => logged,
    close: async () => {
      await app.close();
      await closeDeps(deps);
    },
  };
}
