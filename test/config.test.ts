import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('defaults follow the contract', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      env: 'development',
      port: 3000,
      // Contract §2 (v1.1): no DATABASE_URL is embedded mode, no REDIS_URL in-process scheduling.
      mode: 'embedded',
      databaseUrl: undefined,
      redisUrl: undefined,
      dataDir: resolve('.leash'),
      publicUrl: 'http://localhost:3000',
      backlogCap: 10_000,
      maxTimeoutHours: 168,
      allowPrivateUrls: true,
      slack: { apiUrl: 'https://slack.com/api/' },
      telegram: { apiRoot: 'https://api.telegram.org' },
      twilio: { apiUrl: 'https://api.twilio.com' },
    });
    expect(c.retryScheduleMs).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  });

  it('the mode follows which services are configured', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://db/leash' }).mode).toBe('single');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/leash', REDIS_URL: 'redis://r:6379' }).mode).toBe('queue');
    expect(loadConfig({ REDIS_URL: 'redis://r:6379' }).mode).toBe('embedded');
    expect(loadConfig({ LEASH_DATA_DIR: '/srv/leash' }).dataDir).toBe('/srv/leash');
  });

  it('PUBLIC_URL follows PORT unless set, without a trailing slash', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_URL: 'https://leash.example.com/' }).publicUrl).toBe('https://leash.example.com');
  });

  it('production requires a LEASH_SECRET of at least 32 bytes and turns the SSRF guard on', () => {
    const strong = 'x'.repeat(32);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/LEASH_SECRET: required/);
    expect(() => loadConfig({ NODE_ENV: 'production', LEASH_SECRET: 's3cret' })).toThrow(
      /LEASH_SECRET: must be at least 32 bytes/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', LEASH_SECRET: 'x'.repeat(31) })).toThrow(ConfigError);
    const c = loadConfig({ NODE_ENV: 'production', LEASH_SECRET: strong });
    expect(c.secret).toBe(strong);
    expect(c.allowPrivateUrls).toBe(false);
    expect(
      loadConfig({ NODE_ENV: 'production', LEASH_SECRET: strong, ALLOW_PRIVATE_URLS: 'true' }).allowPrivateUrls,
    ).toBe(true);
    // Outside production a short secret is the developer's business.
    expect(loadConfig({ LEASH_SECRET: 's' }).secret).toBe('s');
  });

  it('without LEASH_SECRET there is no built-in secret: the installation makes its own (src/secret.ts)', () => {
    expect(loadConfig({}).secret).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'test' }).secret).toBeUndefined();
  });

  it('an empty value is treated as absent (a copied .env.example starts as is)', () => {
    expect(loadConfig({ SLACK_BOT_TOKEN: '' }).slack.botToken).toBeUndefined();
    const c = loadConfig({ PUBLIC_URL: '', ALLOW_PRIVATE_URLS: '', PORT: ' ' });
    expect(c).toMatchObject({ publicUrl: 'http://localhost:3000', allowPrivateUrls: true, port: 3000 });
  });

  it('.env.example, copied as .env, loads', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../.env.example', import.meta.url), 'utf8');
    const env = Object.fromEntries(
      text
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(() => loadConfig(env)).not.toThrow();
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'nope' }, 'DATABASE_URL'],
    [{ BACKLOG_CAP: '0' }, 'BACKLOG_CAP'],
    [{ ALLOW_PRIVATE_URLS: 'maybe' }, 'ALLOW_PRIVATE_URLS'],
    [{ RETRY_SCHEDULE_MS: '5s,1m' }, 'RETRY_SCHEDULE_MS'],
    [{ TELEGRAM_WEBHOOK_SECRET: 'has spaces!' }, 'TELEGRAM_WEBHOOK_SECRET'],
    [{ TELEGRAM_POLLING: 'yes' }, 'TELEGRAM_POLLING'],
  ])('refuses %j naming the variable', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });
});
