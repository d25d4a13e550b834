// A real Leash for a bench, run as deployed (the compiled dist/src/main.js: the npm scripts build
// first): a throwaway database, one `all` process (web + worker) with
// NODE_ENV=production and LOG_LEVEL=warn (BENCH_MODE=web runs the web part alone, to tell its cost
// from the worker's), a workspace with an approver and an agent.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createAgent } from '../../src/agents/registry.js';
import { operatorCtx, type Ctx } from '../../src/context.js';
import { createDb, type Db } from '../../src/db/index.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { addMember } from '../../src/members/members.js';
import { runningEmbeddedUrl } from '../../src/database.js';
import { createWorkspace } from '../../src/workspaces/workspaces.js';
import { freePort, freshDatabase, startProcess, stopProcess } from './lib.js';

export interface BenchLeash {
  db: Db;
  databaseUrl: string;
  origin: string;
  port: number;
  process: ChildProcess;
  workspaceId: string;
  ctx: Ctx;
  ownerKey: string;
  approverKey: string;
  agent: { id: string; key: string };
  /** Another agent with its own key. */
  newAgent(name: string, extra?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  stop(): Promise<void>;
}

export const QUICK = process.env.BENCH_QUICK === '1';

/** Node's flags for Leash as `npm start` runs it (web + worker in one process, the mode every
 *  bench uses): those of package.json's start script, so a bench measures what a user runs. The
 *  bare baseline servers get them too, so a ratio compares code, not runtime settings. */
export const DEPLOYED_NODE_FLAGS = (
  (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  ).scripts.start.match(/^node\s+(.*?)\s*dist\//)?.[1] ?? ''
)
  .split(/\s+/)
  .filter(Boolean);

/** queue: the throwaway database and the local Redis (what every bench measured before the
 *  modes); single: no Redis; embedded: no DATABASE_URL either, Leash's own Postgres in a temp dir. */
export type BenchMode = 'queue' | 'single' | 'embedded';

/** What every bench Leash runs with. */
export function benchEnv(port: number): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LEASH_SECRET: 'bench-secret-of-at-least-32-bytes!',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    QUEUE_PREFIX: `leash-bench-${randomBytes(3).toString('hex')}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    ALLOW_PRIVATE_URLS: 'true',
    // The benchmarks drive one key (and one address) far past the per-key limits a deployment
    // has by default; the limiter still counts every request, it just never refuses.
    RATE_LIMIT_PER_MINUTE: '100000000',
    AUTH_FAILURES_PER_MINUTE: '100000000',
    MAX_WAITS_PER_KEY: '100000',
  };
}

/** A workspace with an approver and an agent, straight into the database. */
export async function seed(db: Db) {
  const ws = await createWorkspace(db, { name: 'Bench', ownerEmail: 'owner@example.com' });
  const ctx = operatorCtx(ws.workspace_id);
  const approver = await addMember(db, ctx, { email: 'approver@example.com', role: 'approver' });
  const newAgent = async (name: string, extra: Record<string, unknown> = {}) => {
    const a = await createAgent(db, ctx, { name, ...extra }, { allowPrivateUrls: true });
    return { id: a.agent.id, key: a.api_key };
  };
  const agent = await newAgent('bench-agent');
  return { workspaceId: ws.workspace_id, ctx, ownerKey: ws.api_key, approverKey: approver.api_key, agent, newAgent };
}

export async function startLeash(
  tag: string,
  env: Record<string, string> = {},
  mode: BenchMode = 'queue',
): Promise<BenchLeash> {
  if (mode === 'embedded') return startEmbeddedLeash(env);
  const database = await freshDatabase(tag);
  const db = createDb(database.url, { max: 4 });
  let child: ChildProcess | undefined;
  try {
    await migrateToLatest(db);
    const seeded = await seed(db);
    const port = await freePort();
    const redis: Record<string, string> =
      mode === 'queue' ? { REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' } : {};
    child = await startProcess(
      'dist/src/main.js',
      [process.env.BENCH_MODE ?? 'all'],
      { DATABASE_URL: database.url, ...redis, ...benchEnv(port), ...env },
      `http://127.0.0.1:${port}/healthz`,
      DEPLOYED_NODE_FLAGS,
    );
    const proc = child;
    return {
      db,
      databaseUrl: database.url,
      origin: `http://127.0.0.1:${port}`,
      port,
      process: proc,
      ...seeded,
      async stop() {
        await stopProcess(proc);
        await db.destroy();
        await database.drop();
      },
    };
  } catch (err) {
    if (child) await stopProcess(child);
    await db.destroy();
    await database.drop();
    throw err;
  }
}

/** Embedded mode: a data dir of its own, and the process's own Postgres (found through it). */
export async function startEmbeddedLeash(env: Record<string, string> = {}, dataDir?: string): Promise<BenchLeash> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'leash-bench-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const { DATABASE_URL: _db, REDIS_URL: _redis, ...inherited } = process.env;
  const child = await startProcess(
    'dist/src/main.js',
    ['all'],
    { ...benchEnv(port), LEASH_DATA_DIR: dir, ...env },
    `http://127.0.0.1:${port}/healthz`,
    DEPLOYED_NODE_FLAGS,
    inherited as Record<string, string>,
  );
  const databaseUrl = (await runningEmbeddedUrl(dir))!;
  const db = createDb(databaseUrl, { max: 4 });
  return {
    db,
    databaseUrl,
    origin: `http://127.0.0.1:${port}`,
    port,
    process: child,
    ...(await seed(db)),
    async stop() {
      await db.destroy();
      await stopProcess(child);
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An approval request as an agent would send it. */
export const ask = (i: number, extra: Record<string, unknown> = {}) => ({
  recipient: 'alice@example.com',
  channel: 'web',
  message: `Send wire #${i} to Acme?`,
  options: ['Approve', 'Reject'],
  timeout_seconds: 3600,
  metadata: { amount: 340, invoice: `INV-${i}` },
  ...extra,
});
