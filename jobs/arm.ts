// Putting work into Redis from Postgres. Every job id is derived from the row it serves, so arming
// the same work twice is a no-op, and re-arming everything after Redis lost it is always safe.
import { sql } from 'kysely';
import type { PromptRow } from '../src/db/schema.js';
import type { Deps } from '../src/deps.js';
import type { Queues } from '../src/queue.js';

const CHUNK = 1_000;

export interface DueDelivery {
  id: string;
  attempts: number;
  next_attempt_at: Date;
  endpoint_id: string | null;
  agent_id: string | null;
}

export async function armDeliveries(queues: Queues, rows: DueDelivery[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await queues.deliveries.addBulk(
      rows.slice(i, i + CHUNK).map((r) => ({
        name: 'deliver',
        // The target names the endpoint (or agent) for the per-target concurrency cap.
        data: { deliveryId: r.id, target: r.endpoint_id ?? r.agent_id },
        opts: {
          jobId: `${r.id}.${r.attempts}`,
          delay: Math.max(0, r.next_attempt_at.getTime() - Date.now()),
          attempts: 5,
          backoff: { type: 'exponential', delay: 1_000 },
        },
      })),
    );
  }
}

/** A timer job starts this early and sleeps to the exact millisecond in the worker: BullMQ promotes
 *  delayed jobs 60–120 ms late on this machine (measured), the timeout target is p99 ≤ 50 ms. */
export const TIMER_LEAD_MS = 500;

export async function armTimers(queues: Queues, rows: { id: string; expires_at: Date }[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await queues.timers.addBulk(
      rows.slice(i, i + CHUNK).map((r) => ({
        name: 'expire',
        data: { approvalId: r.id },
        opts: {
          jobId: `expire.${r.id}`,
          delay: Math.max(0, r.expires_at.getTime() - Date.now() - TIMER_LEAD_MS),
          attempts: 5,
          backoff: { type: 'exponential', delay: 200 },
        },
      })),
    );
  }
}

export type DueSend = Pick<PromptRow, 'id' | 'attempts' | 'next_attempt_at'>;
export type DueOutcome = Pick<PromptRow, 'id' | 'outcome_attempts' | 'outcome_next_at'>;

/** Job-level retries cover a failure to record a try (Postgres away); the sweep covers the rest. */
const PROMPT_JOB = { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } } as const;

/** Sends of prompts, each at its next attempt (the job id names the attempt, so a retry is a new job). */
export async function armSends(queues: Queues, rows: DueSend[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await queues.channels.addBulk(
      rows.slice(i, i + CHUNK).map((r) => ({
        name: 'send',
        data: { promptId: r.id },
        opts: {
          ...PROMPT_JOB,
          jobId: `send.${r.id}.${r.attempts}`,
          delay: Math.max(0, r.next_attempt_at.getTime() - Date.now()),
        },
      })),
    );
  }
}

/** Outcome updates of prompts whose approval has left pending. */
export async function armOutcomes(queues: Queues, rows: DueOutcome[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await queues.channels.addBulk(
      rows.slice(i, i + CHUNK).map((r) => ({
        name: 'outcome',
        data: { promptId: r.id },
        opts: {
          ...PROMPT_JOB,
          jobId: `outcome.${r.id}.${r.outcome_attempts}`,
          delay: Math.max(0, (r.outcome_next_at?.getTime() ?? 0) - Date.now()),
        },
      })),
    );
  }
}

/** Prompts whose send or outcome update was due `overdueMs` ago or more (Redis lost its job, or
 *  arming it failed): arm them; `all`: every one, each at its time (the re-arm). */
export async function armDuePrompts(
  deps: Pick<Deps, 'db'>,
  queues: Queues,
  overdueMs: number | 'all',
): Promise<number> {
  const before = overdueMs === 'all' ? undefined : new Date(Date.now() - overdueMs);
  let sends = deps.db
    .selectFrom('prompts')
    .select(['id', 'attempts', 'next_attempt_at'])
    .where('status', '=', 'queued');
  if (before) sends = sends.where('next_attempt_at', '<=', before);
  const dueSends = await sends.orderBy('next_attempt_at').limit(10_000).execute();
  await armSends(queues, dueSends);
  let outcomes = deps.db
    .selectFrom('prompts')
    .select(['id', 'outcome_attempts', 'outcome_next_at'])
    .where('outcome_at', 'is', null)
    .where('outcome_next_at', 'is not', null);
  if (before) outcomes = outcomes.where('outcome_next_at', '<=', before);
  const dueOutcomes = await outcomes.orderBy('outcome_next_at').limit(10_000).execute();
  await armOutcomes(queues, dueOutcomes);
  return dueSends.length + dueOutcomes.length;
}

/** Deliveries whose attempt is due (by `overdueMs` or more): arm them. */
export async function armDueDeliveries(deps: Pick<Deps, 'db'>, queues: Queues, overdueMs: number): Promise<number> {
  const rows = await deps.db
    .selectFrom('deliveries')
    .select(['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', new Date(Date.now() - overdueMs))
    .orderBy('next_attempt_at')
    .limit(10_000)
    .execute();
  await armDeliveries(queues, rows);
  return rows.length;
}

/**
 * Drains for agents whose delivery_url has messages waiting and may take them now (not fully
 * paused, not stopped), at their backoff time if the last attempt failed. `agentIds` narrows it to
 * agents just woken; without it, every agent (the sweep and the re-arm).
 */
export async function armDrains(deps: Pick<Deps, 'db'>, queues: Queues, agentIds?: string[]): Promise<number> {
  if (agentIds?.length === 0) return 0;
  let q = deps.db
    .selectFrom('agents')
    .select(['id', 'drain_retry_at'])
    .where('delivery_url', 'is not', null)
    .where('deleted_at', 'is', null)
    .where('run_state', '!=', 'stopped')
    .where((eb) => eb.or([eb('pause_mode', 'is', null), eb('pause_mode', '!=', 'full')]))
    .whereRef('acked_seq', '<', 'inbox_seq');
  if (agentIds) q = q.where('id', 'in', agentIds);
  const rows = await q.execute();
  for (let i = 0; i < rows.length; i += CHUNK) {
    await queues.drains.addBulk(
      rows.slice(i, i + CHUNK).map((r) => ({
        name: 'drain',
        data: { agentId: r.id },
        opts: { jobId: `drain.${r.id}`, delay: Math.max(0, (r.drain_retry_at?.getTime() ?? 0) - Date.now()) },
      })),
    );
  }
  return rows.length;
}

/** Timers of pending approvals due in [from, until): the sweep arms each as it comes within the
 *  horizon (see ARM_AHEAD_MS); job ids make the overlap between sweeps harmless. */
export async function armTimersDue(deps: Pick<Deps, 'db'>, queues: Queues, from: Date, until: Date): Promise<number> {
  let armed = 0;
  let after: { expires_at: Date; id: string } | undefined;
  for (;;) {
    let q = deps.db
      .selectFrom('approvals')
      .select(['id', 'expires_at'])
      .where('status', '=', 'pending')
      .where('expires_at', '>=', from)
      .where('expires_at', '<', until);
    if (after) q = q.where(sql<boolean>`(expires_at, id) > (${after.expires_at}, ${after.id}::uuid)`);
    const rows = await q.orderBy('expires_at').orderBy('id').limit(CHUNK).execute();
    await armTimers(queues, rows);
    armed += rows.length;
    if (rows.length < CHUNK) return armed;
    after = rows[rows.length - 1]!;
  }
}

/** After Redis lost its data: every timer due before `until`, every pending delivery, every
 *  prompt's send or outcome update, from Postgres. */
export async function rearmEverything(
  deps: Pick<Deps, 'db'>,
  queues: Queues,
  until: Date,
): Promise<{ timers: number; deliveries: number; prompts: number; drains: number }> {
  const timers = await armTimersDue(deps, queues, new Date(0), until);
  const deliveries = await deps.db
    .selectFrom('deliveries')
    .select(['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'])
    .where('status', '=', 'pending')
    .execute();
  await armDeliveries(queues, deliveries);
  return {
    timers,
    deliveries: deliveries.length,
    prompts: await armDuePrompts(deps, queues, 'all'),
    drains: await armDrains(deps, queues),
  };
}
