// The real `leash` command in a child process, against this file's database.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';

const t = useTestApp();

function leash(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, DATABASE_URL: t.config.databaseUrl, NODE_ENV: 'test' }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('leash CLI', () => {
  it('migrate is idempotent on an up-to-date database', async () => {
    const res = await leash('migrate');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('up to date');
  });

  it('init --json creates a workspace and an owner whose key works on the API', async () => {
    const res = await leash('init', '--workspace', 'CLI Co', '--owner-email', 'boss@example.com', '--json');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out).sort()).toEqual(['api_key', 'member_id', 'workspace_id']);
    const me = await t.call('GET', '/v1/members/me', { key: out.api_key });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: out.member_id, email: 'boss@example.com', role: 'owner' });
  });

  it('init without --json prints the key once, readably', async () => {
    const res = await leash('init', '--workspace', 'Plain', '--owner-email', 'plain@example.com');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/API key \(shown once.*\n\s+lsh_m_[0-9A-Za-z]{44}/);
  });

  it('refuses bad init input with a clear message and exit 2, creating nothing', async () => {
    const before = await t.deps.db.selectFrom('workspaces').select('id').execute();
    const res = await leash('init', '--workspace', 'X', '--owner-email', 'not-an-email');
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('owner-email: must be an email address');
    const missing = await leash('init', '--workspace', 'X');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--owner-email');
    expect(await t.deps.db.selectFrom('workspaces').select('id').execute()).toHaveLength(before.length);
  });

  it('agent create prints the agent and its key; status shows agents, pause and counts', async () => {
    const ws = await t.workspace('Status Co');
    const created = await leash('agent', 'create', '--workspace', ws.id, '--name', 'cli-bot', '--json');
    expect(created.code).toBe(0);
    const out = JSON.parse(created.stdout);
    expect(out.agent).toMatchObject({ name: 'cli-bot', status: 'active' });
    expect((await t.call('GET', '/v1/agents/me', { key: out.api_key })).body.name).toBe('cli-bot');
    await t.call('POST', '/v1/agents/cli-bot/pause', {
      key: ws.ownerKey,
      body: { mode: 'full', reason: 'maintenance' },
    });
    await t.call('POST', '/v1/sessions', { key: out.api_key, body: { task: 't' } });
    await t.call('POST', '/v1/agents/cli-bot/unpause', { key: ws.ownerKey });
    for (let i = 0; i < 2; i++) {
      const ask = { recipient: 'a@example.com', channel: 'web', message: 'ok?', options: ['yes', 'no'] };
      expect((await t.call('POST', '/v1/pause', { key: out.api_key, body: ask })).status).toBe(201);
    }
    await t.call('POST', '/v1/agents/cli-bot/pause', {
      key: ws.ownerKey,
      body: { mode: 'full', reason: 'maintenance' },
    });

    const status = await leash('status', '--workspace', ws.id);
    expect(status.code).toBe(0);
    const lines = status.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^WORKSPACE\s+AGENT\s+STATUS\s+BACKLOG\s+PENDING\s+SESSIONS\s+PAUSE$/);
    expect(lines[1]).toMatch(/^Status Co\s+cli-bot\s+paused\s+0\s+2\s+1\s+full since .* \(maintenance\)$/);

    // The timeline records the CLI as the actor and channel.
    const timeline = await t.call('GET', `/v1/agents/${out.agent.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data.at(-1)).toMatchObject({
      action: 'agent.created',
      channel: 'cli',
      actor: { type: 'operator' },
    });
  });

  it('agent create refuses a bad name or unknown workspace, creating nothing', async () => {
    const ws = await t.workspace('Strict Co');
    const bad = await leash('agent', 'create', '--workspace', ws.id, '--name', 'Bad Name');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('name: must be 1-64 characters');
    const unknown = await leash(
      'agent',
      'create',
      '--workspace',
      '00000000-0000-4000-8000-000000000000',
      '--name',
      'x',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not found');
    expect((await t.call('GET', '/v1/agents', { key: ws.ownerKey })).body.data).toEqual([]);
  });
});

describe('the Leash process', () => {
  function start() {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'all'], {
      env: {
        ...process.env,
        DATABASE_URL: t.config.databaseUrl,
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        QUEUE_PREFIX: `leash-test-${randomBytes(4).toString('hex')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = {
      child,
      out: '',
      exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
    };
    child.stdout.on('data', (d) => (p.out += d));
    child.stderr.on('data', (d) => (p.out += d));
    return p;
  }

  it('npm start’s mode (web + worker) serves, then exits 0 on SIGTERM, closing workers and pools', async () => {
    const p = start();
    await expect.poll(() => p.out, { timeout: 15_000 }).toContain('worker started');
    const address = /"address":"(http:\/\/[^"]+)"/.exec(p.out)![1];
    expect((await fetch(`${address}/healthz`)).status).toBe(200);
    const signalled = Date.now();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(p.out).toContain('shutting down');
  });

  it('SIGTERM while a graceful stop waits: the request gets 503 at once, the agent stays stopping, exit 0', async () => {
    const ws = await t.workspace('Shutdown Co');
    const a = await ws.agent('waiting', { delivery_url: 'http://127.0.0.1:9/events' });
    const p = start();
    await expect.poll(() => p.out, { timeout: 15_000 }).toContain('worker started');
    const address = /"address":"(http:\/\/[^"]+)"/.exec(p.out)![1];
    const stop = fetch(`${address}/v1/agents/${a.id}/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ws.ownerKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: 120_000 }),
    });
    await expect
      .poll(async () => (await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.status)
      .toBe('stopping');
    const signalled = Date.now();
    p.child.kill('SIGTERM');
    const res = await stop;
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe('unavailable');
    expect(await p.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.status).toBe('stopping');
  });
});
