// The delivery_url drain: an agent's inbox POSTed to its delivery_url one message at a time, in seq
// order, each signed like a webhook (webhook-id = the message id); a 2xx acks it. The job id is the
// agent's, so at most one drain per agent runs; it starts from the last acked seq, so a drain cut
// off by a crash resumes there (at least once: seq lets the agent drop the few it already has).
// Failures back off, and the backoff is kept on the agent's row, so a Redis that forgets re-arms
// the drain at the right time.
import type { Deps } from '../src/deps.js';
import { sql } from 'kysely';
import { DeliveryError, signedPost } from '../src/delivery/signed-post.js';
import { targetProblem } from '../src/net/targets.js';
import { ackInbox, deliverableMessages } from '../src/messages/messages.js';
import { RunAgain, type Processor } from './scheduler.js';

export type DrainResult = { outcome: 'done'; delivered: number } | { outcome: 'retry'; at: Date; delivered: number };

const BATCH = 200;
/** A lease starts no POST later than this after it was taken: the longest a pause waits for it. */
const LEASE_MS = 100;
/** A POST unanswered after this gives the lease back while it waits (a slow receiver holds no pause). */
const SLOW_POST_MS = 50;
const MAX_BACKOFF_MS = 5 * 60_000;
/** The fence's lock (migrations/0015_drain_fence.ts): the same key as the trigger's. */
const FENCE_CLASS = 6582894;

/** Exponential from the first step of RETRY_SCHEDULE_MS (5 s by default), capped at 5 minutes, ±10 %. */
export function drainBackoff(schedule: number[], failures: number): number {
  const base = Math.min((schedule[0] ?? 5_000) * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
  return Math.round(base * (0.9 + Math.random() * 0.2));
}

type Target = { url: string; secret: string; acked: number; failures: number };

/** The agent as the drain needs it: where to post, and whether it may post at all right now. */
async function readTarget(db: Deps['db'], agentId: string): Promise<Target | undefined> {
  const a = await db
    .selectFrom('agents')
    .select(['delivery_url', 'delivery_secret', 'pause_mode', 'run_state', 'deleted_at', 'acked_seq', 'drain_failures'])
    .where('id', '=', agentId)
    .executeTakeFirst();
  // Held under full pause (skipped, not dropped); nothing for a stopped agent.
  if (!a?.delivery_url || !a.delivery_secret || a.deleted_at || a.pause_mode === 'full' || a.run_state === 'stopped')
    return undefined;
  return { url: a.delivery_url, secret: a.delivery_secret, acked: Number(a.acked_seq), failures: a.drain_failures };
}

/** Drains until the inbox is empty, the agent may not take messages, a POST fails, or `stop()`
 *  (the worker shutting down) says so. */
export interface DrainControl {
  /** The worker is shutting down: stop after the current message. */
  stopping(): boolean;
  /** Whether this drain still holds its job (false if its lock lapsed and another may run). */
  stillOwner(): Promise<boolean>;
}

const always: DrainControl = { stopping: () => false, stillOwner: async () => true };

type Message = Awaited<ReturnType<typeof deliverableMessages>>[number];

/** How a lease ended. `slow`: a POST was still unanswered, so the lease was given back with it in flight. */
type LeaseEnd =
  | { kind: 'closed' }
  | { kind: 'empty' }
  | { kind: 'more' }
  | { kind: 'failed'; message: Message; err: unknown }
  | { kind: 'slow'; message: Message; post: Promise<unknown> };

const settle = (p: Promise<unknown>) =>
  p.then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, err }),
  );

/** One drain's progress: what is posted (`last`), acked (`written`), and the page in hand. */
interface Drain {
  agentId: string;
  target: Target;
  last: number;
  written: number;
  failures: number;
  delivered: number;
  queue: Message[];
}

function posted(d: Drain, m: Message): void {
  d.last = m.seq;
  d.delivered++;
  d.queue.shift();
}

/** A lease: the fence lock, the agent read after it, then POSTs (one at a time) for LEASE_MS. */
function lease(deps: Pick<Deps, 'db' | 'config'>, d: Drain, control: DrainControl): Promise<LeaseEnd> {
  return deps.db.transaction().execute(async (trx): Promise<LeaseEnd> => {
    await sql`select pg_advisory_xact_lock(${FENCE_CLASS}, hashtext(${d.agentId})),
                     set_config('idle_in_transaction_session_timeout', '2000', true)`.execute(trx);
    // A statement of its own, after the lock: its snapshot sees whatever committed before it.
    const t = await readTarget(trx, d.agentId);
    // A new URL ends this drain; the one armed when it finishes starts on the new URL.
    if (!t || t.url !== d.target.url || t.secret !== d.target.secret) return { kind: 'closed' };
    if (d.queue.length === 0) d.queue = await deliverableMessages(trx, d.agentId, d.last, BATCH);
    if (d.queue.length === 0) return { kind: 'empty' };
    // Postgres ends a session idle in a transaction for 2 s (a stalled worker holds no pause for
    // longer); no POST starts past LEASE_MS after the last statement, well inside that.
    const until = Date.now() + LEASE_MS;
    // One timer for the lease, pushed back at each POST: "this POST is slow".
    const slow = { wake: () => {}, timer: setTimeout(() => slow.wake(), SLOW_POST_MS) };
    try {
      while (d.queue.length > 0 && Date.now() < until) {
        if (control.stopping()) return { kind: 'closed' };
        const message = d.queue[0]!;
        const post = signedPost({
          url: t.url,
          secret: t.secret,
          id: message.id,
          body: JSON.stringify({ type: 'message', timestamp: new Date().toISOString(), data: message }),
          allowPrivateUrls: deps.config.allowPrivateUrls,
          targetChecked: true,
        });
        const answer = await new Promise<'slow' | { ok: true } | { ok: false; err: unknown }>((resolve) => {
          slow.wake = () => resolve('slow');
          slow.timer.refresh();
          post.then(
            () => resolve({ ok: true }),
            (err: unknown) => resolve({ ok: false, err }),
          );
        });
        if (answer === 'slow') return { kind: 'slow', message, post };
        if (!answer.ok) return { kind: 'failed', message, err: answer.err };
        posted(d, message);
      }
    } finally {
      clearTimeout(slow.timer);
    }
    return { kind: 'more' };
  });
}

/** The failure and its backoff, on the agent's row (a Redis that forgets re-arms at that time). */
async function failed(deps: Pick<Deps, 'db' | 'config'>, d: Drain, seq: number, err: unknown): Promise<DrainResult> {
  const at = new Date(Date.now() + drainBackoff(deps.config.retryScheduleMs, d.failures + 1));
  const why = err instanceof DeliveryError ? err.message : String(err);
  await deps.db
    .updateTable('agents')
    .set((eb) => ({
      drain_failures: eb('drain_failures', '+', 1),
      drain_retry_at: at,
      drain_error: `seq ${seq}: ${why}`.slice(0, 500),
    }))
    .where('id', '=', d.agentId)
    .execute();
  return { outcome: 'retry', at, delivered: d.delivered };
}

/** After a lease: a success clears the failure count; the ack moves up. */
async function afterLease(db: Deps['db'], d: Drain, before: number): Promise<void> {
  if (d.delivered > before && d.failures > 0) {
    d.failures = 0;
    await db
      .updateTable('agents')
      .set({ drain_failures: 0, drain_retry_at: null, drain_error: null })
      .where('id', '=', d.agentId)
      .execute();
  }
  await writeAck(db, d);
}

async function writeAck(db: Deps['db'], d: Drain): Promise<void> {
  if (d.last > d.written) {
    await ackInbox(db, d.agentId, d.last);
    d.written = d.last;
  }
}

/** Drains until the inbox is empty, the agent may not take messages, a POST fails, or the worker
 *  stops or loses the job.
 *
 *  Messages are posted one at a time, in seq order, under leases: a transaction holding the agent's
 *  fence lock (taken too by every pause, stop, URL change or deletion, in a trigger), in which the
 *  agent is read once and POSTs start for at most LEASE_MS. So no POST starts after such a change
 *  commits, without a read of the agent per message (docs/architecture.md, "The drain's fence").
 *  Nothing writes the agent's row while a lease is held (a pause waiting on the lock holds that
 *  row); acks are written after each lease, so a crash re-sends at most one lease's messages. */
export async function drainInbox(
  deps: Pick<Deps, 'db' | 'config'>,
  agentId: string,
  control: DrainControl = always,
): Promise<DrainResult> {
  const target = await readTarget(deps.db, agentId);
  if (!target) return { outcome: 'done', delivered: 0 };
  const d: Drain = {
    agentId,
    target,
    last: target.acked,
    written: target.acked,
    failures: target.failures,
    delivered: 0,
    queue: [],
  };
  try {
    for (;;) {
      if (control.stopping() || !(await control.stillOwner())) break;
      // The target's DNS check, once a lease and outside it (it can take seconds).
      const problem = await targetProblem(target.url, deps.config.allowPrivateUrls);
      if (problem) return await failed(deps, d, d.last + 1, new DeliveryError(`refused target: ${problem}`));
      const before = d.delivered;
      const end = await lease(deps, d, control);
      if (end.kind === 'slow') {
        const answer = await settle(end.post);
        if (!answer.ok) return await failed(deps, d, end.message.seq, answer.err);
        posted(d, end.message);
      }
      if (end.kind === 'failed') return await failed(deps, d, end.message.seq, end.err);
      await afterLease(deps.db, d, before);
      if (end.kind === 'closed' || end.kind === 'empty') break;
    }
    return { outcome: 'done', delivered: d.delivered };
  } finally {
    await writeAck(deps.db, d);
  }
}

/** The drains queue: one job per agent. A drain of a crashed worker is taken over once its lock
 *  lapses; it resumes from the last ack, so running it again is always safe. A drain that lost its
 *  lock (a long stall) sees it before its next lease and stops. */
export function drainProcessor(deps: Pick<Deps, 'db' | 'config' | 'log'>, closing: () => boolean): Processor {
  return {
    concurrency: 16,
    lockMs: 5_000,
    run: async (job, control) => {
      let at: number;
      try {
        const result = await drainInbox(deps, job.data.agentId, { stopping: closing, stillOwner: control.stillOwner });
        if (result.outcome !== 'retry') return result;
        at = result.at.getTime();
      } catch (err) {
        // Postgres away, say: the same job tries again shortly rather than waiting for the sweep.
        deps.log.warn({ err: (err as Error).message, agent: job.data.agentId }, 'drain failed; retrying');
        at = Date.now() + 2_000;
      }
      // The same job waits out the backoff, so its id keeps any second drain of this agent out.
      throw new RunAgain(at);
    },
  };
}
