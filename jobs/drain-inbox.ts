// The delivery_url drain: an agent's inbox POSTed to its delivery_url one message at a time, in seq
// order, each signed like a webhook (webhook-id = the message id); a 2xx acks it. The job id is the
// agent's, so at most one drain per agent runs; it starts from the last acked seq, so a drain cut
// off by a crash resumes there (at least once: seq lets the agent drop the few it already has).
// Failures back off, and the backoff is kept on the agent's row, so a Redis that forgets re-arms
// the drain at the right time.
import type { Deps } from '../src/deps.js';
import { DeliveryError, NotSent, signedPost } from '../src/delivery/signed-post.js';
import { ackInbox, deliverableMessages } from '../src/messages/messages.js';
import { RunAgain, type Processor } from './scheduler.js';

export type DrainResult = { outcome: 'done'; delivered: number } | { outcome: 'retry'; at: Date; delivered: number };

const BATCH = 200;
/** Acks are written every this many deliveries (and when the drain stops): a crash re-sends at most these. */
const ACK_EVERY = 50;
const MAX_BACKOFF_MS = 5 * 60_000;

/** Exponential from the first step of RETRY_SCHEDULE_MS (5 s by default), capped at 5 minutes, ±10 %. */
export function drainBackoff(schedule: number[], failures: number): number {
  const base = Math.min((schedule[0] ?? 5_000) * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
  return Math.round(base * (0.9 + Math.random() * 0.2));
}

/** The agent as the drain needs it: where to post, and whether it may post at all right now.
 *  Read before every POST, so the query is compiled once per drain (compiling it each time was a
 *  measurable share of a message's CPU: bench/changes.md). */
function targetReader(db: Deps['db'], agentId: string) {
  const query = db
    .selectFrom('agents')
    .select(['delivery_url', 'delivery_secret', 'pause_mode', 'run_state', 'deleted_at', 'acked_seq', 'drain_failures'])
    .where('id', '=', agentId)
    .compile();
  return async () => {
    const a = (await db.executeQuery(query)).rows[0];
    // Held under full pause (skipped, not dropped); nothing for a stopped agent.
    if (!a?.delivery_url || !a.delivery_secret || a.deleted_at || a.pause_mode === 'full' || a.run_state === 'stopped')
      return undefined;
    return { url: a.delivery_url, secret: a.delivery_secret, acked: Number(a.acked_seq), failures: a.drain_failures };
  };
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

/** Drains until the inbox is empty, the agent may not take messages, a POST fails, or the worker
 *  stops or loses the job. */
export async function drainInbox(
  deps: Pick<Deps, 'db' | 'config'>,
  agentId: string,
  control: DrainControl = always,
): Promise<DrainResult> {
  const { db, config } = deps;
  let delivered = 0;
  let last = 0;
  let written = 0;
  const writeAck = async () => {
    if (last > written) {
      await ackInbox(db, agentId, last);
      written = last;
    }
  };
  const target = targetReader(db, agentId);
  try {
    let t = await target();
    if (!t) return { outcome: 'done', delivered };
    last = written = t.acked;
    for (;;) {
      const batch = await deliverableMessages(db, agentId, last, BATCH);
      if (batch.length === 0) break;
      for (const message of batch) {
        if (control.stopping()) return { outcome: 'done', delivered };
        const { url, secret } = t;
        const body = JSON.stringify({ type: 'message', timestamp: new Date().toISOString(), data: message });
        // Checked last, right before the request: nothing starts after a full pause, a stop or a
        // new URL commits, nor once another worker may have taken this drain over.
        // (A new URL ends this drain; the one armed when it finishes starts on the new URL.)
        const beforeSend = async () => {
          const now = await target();
          if (!now || now.url !== url || !(await control.stillOwner())) return false;
          t = now;
          return true;
        };
        try {
          await signedPost({
            url,
            secret,
            id: message.id,
            body,
            allowPrivateUrls: config.allowPrivateUrls,
            beforeSend,
          });
        } catch (err) {
          if (err instanceof NotSent) return { outcome: 'done', delivered };
          const at = new Date(Date.now() + drainBackoff(config.retryScheduleMs, t.failures + 1));
          const why = err instanceof DeliveryError ? err.message : String(err);
          await db
            .updateTable('agents')
            .set((eb) => ({
              drain_failures: eb('drain_failures', '+', 1),
              drain_retry_at: at,
              drain_error: `seq ${message.seq}: ${why}`.slice(0, 500),
            }))
            .where('id', '=', agentId)
            .execute();
          return { outcome: 'retry', at, delivered };
        }
        last = message.seq;
        delivered++;
        if (t.failures > 0)
          await db
            .updateTable('agents')
            .set({ drain_failures: 0, drain_retry_at: null, drain_error: null })
            .where('id', '=', agentId)
            .execute();
        if (last - written >= ACK_EVERY) await writeAck();
      }
    }
    return { outcome: 'done', delivered };
  } finally {
    await writeAck();
  }
}

/** The drains queue: one job per agent. A drain of a crashed worker is taken over once its lock
 *  lapses; it resumes from the last ack, so running it again is always safe. A drain that lost its
 *  lock (a long stall) sees it before its next POST and stops. */
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
