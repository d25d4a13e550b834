// Without LEASH_SECRET, links and cookies are signed with a secret this installation made for
// itself and keeps in Postgres: never a constant anyone can read in the source.
import { describe, expect, it } from 'vitest';
import { signLink } from '../src/approvals/links.js';
import { installationSecret, withSecret } from '../src/secret.js';
import { testConfig, useTestApp } from './support/app.js';

const t = useTestApp();

describe('the installation secret', () => {
  it('is random, 32 bytes, kept in Postgres, and the same for every process of the installation', async () => {
    const rows = await t.deps.db.selectFrom('installation').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(Buffer.from(rows[0]!.secret, 'base64url')).toHaveLength(32);
    expect(t.config.secret).toBe(rows[0]!.secret);
    // Another process of this installation (same database) signs with the same secret.
    const other = await withSecret(testConfig(t.config.databaseUrl));
    expect(other.secret).toBe(t.config.secret);
    expect(await installationSecret(t.config.databaseUrl)).toEqual({ secret: t.config.secret, created: false });
  });

  it('says so in the log when it is used (and LEASH_SECRET, when set, wins)', async () => {
    const lines: unknown[] = [];
    await withSecret(testConfig(t.config.databaseUrl), {
      info: (...args: unknown[]) => void lines.push(args),
    });
    expect(JSON.stringify(lines)).toContain('LEASH_SECRET is not set');
    const chosen = await withSecret(testConfig(t.config.databaseUrl, { LEASH_SECRET: 'chosen-by-the-operator' }));
    expect(chosen.secret).toBe('chosen-by-the-operator');
  });

  it('a link signed with the old built-in development secret is not valid', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('asker');
    const { body } = await t.call('POST', '/v1/pause', {
      key: agent.key,
      body: {
        recipient: 'a@example.com',
        channel: 'web',
        message: 'Pay?',
        options: ['Yes', 'No'],
        timeout_seconds: 60,
      },
    });
    const forged = signLink('leash-development-secret-do-not-use-in-production', { approvalId: body.pause_id });
    const res = await t.app.inject({ method: 'GET', url: `/r/${forged}` });
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('Link not valid');
    expect((await t.app.inject({ method: 'GET', url: new URL(body.url).pathname })).statusCode).toBe(200);
  });
});
