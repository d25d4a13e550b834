// A key over RATE_LIMIT_PER_MINUTE gets 429 rate_limited with Retry-After; the SDK waits it out
// instead of failing the ask.
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../../test/support/app.js';
import { Leash, RateLimitedError, type FetchLike } from '../src/index.js';
import { listen, onePending, respond } from './support/leash.js';

const PER_KEY = 4;
const t = useTestApp({ RATE_LIMIT_PER_MINUTE: String(PER_KEY) });

/** fetch that records each answer's status and Retry-After. */
function recording(): { fetch: FetchLike; answers: { status: number; retryAfter: string | null; at: number }[] } {
  const answers: { status: number; retryAfter: string | null; at: number }[] = [];
  return {
    answers,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), at: Date.now() });
      return res;
    },
  };
}

describe('rate limits', () => {
  it('ask waits out 429 rate_limited by Retry-After and asks once', async () => {
    const base = await listen(t);
    const ws = await t.workspace();
    const a = await ws.agent('busy');
    // Use up the key's minute.
    for (let i = 0; i < PER_KEY; i++) expect((await t.call('GET', '/v1/agents/me', { key: a.key })).status).toBe(200);
    const rec = recording();
    const leash = new Leash({ baseUrl: base, apiKey: a.key, fetch: rec.fetch });
    const asking = leash.ask({ message: 'Go?', options: ['Go', 'Stop'], recipient: 'x@acme.com' });
    await expect.poll(() => rec.answers.length).toBeGreaterThan(0);
    const first = rec.answers[0]!;
    expect(first.status).toBe(429);
    expect(Number(first.retryAfter)).toBeGreaterThan(0);
    // The owner's key is limited too: look once the ask is in (agent create, this list, the answer: 3).
    await expect.poll(() => rec.answers.some((x) => x.status === 201), { timeout: 65_000, interval: 100 }).toBe(true);
    const p = await onePending(t, ws, a.id);
    await respond(t, ws, p.pause_id, 'Go');
    expect((await asking).choice).toBe('Go');
    const created = rec.answers.find((x) => x.status === 201)!;
    // It waited (about) as long as it was told to, not a quick retry loop.
    expect(created.at - first.at).toBeGreaterThanOrEqual((Number(first.retryAfter) - 1) * 1000);
    expect(rec.answers.filter((x) => x.status === 429).length).toBe(1);
  }, 75_000);

  it('with no retries left, the 429 is a RateLimitedError carrying retryAfter', async () => {
    const base = await listen(t);
    const ws = await t.workspace();
    const a = await ws.agent('impatient');
    for (let i = 0; i < PER_KEY; i++) await t.call('GET', '/v1/agents/me', { key: a.key });
    const leash = new Leash({ baseUrl: base, apiKey: a.key, retries: 0 });
    const err = await leash.me().catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(err.retryAfter).toBeGreaterThan(0);
  });
});
