// Decisions at a steady rate with the asking agent's long-poll parked before each: the latency from
// sending an answer to the agent holding it (bench/decide.ts, bench/modes.ts).
import type { Pool } from 'undici';
import { get, post } from './lib.js';
import type { BenchLeash } from './leash.js';

export const RATE = 100; // decisions per second
export const PARK_AHEAD_MS = 1_000; // each long-poll is parked this long before its answer goes

/** Decides `ids` at RATE, each with its long-poll parked PARK_AHEAD_MS before: the latencies. */
export async function decideAll(leash: BenchLeash, L: Pool, waiters: Pool, ids: string[]) {
  const answerMs: number[] = [];
  const pollMs: number[] = [];
  const sentAt = new Map<string, number>();
  const started = performance.now();
  await Promise.all(
    ids.map(async (id, i) => {
      const due = started + PARK_AHEAD_MS + i * (1000 / RATE);
      await new Promise((r) => setTimeout(r, Math.max(0, due - PARK_AHEAD_MS - performance.now())));
      const woke = get(waiters, `/v1/pause/${id}?wait=30`, leash.agent.key).then((r) => {
        if (r.json.status !== 'responded') throw new Error(`long-poll returned ${r.json.status}`);
        return performance.now();
      });
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      const t0 = performance.now();
      sentAt.set(id, t0);
      const d = await post(L, `/v1/pause/${id}/respond`, { choice: 'Approve' }, leash.approverKey);
      if (d.status !== 200) throw new Error(`respond: ${d.status}`);
      answerMs.push(performance.now() - t0);
      pollMs.push((await woke) - t0);
    }),
  );
  return { answerMs, pollMs, sentAt, wallS: (performance.now() - started - PARK_AHEAD_MS) / 1000 };
}
