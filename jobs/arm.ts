// Rows to jobs: each kind of work armed in the scheduler, with its job id derived from the row it
// serves (so arming the same work twice is a no-op, and re-arming after a loss is always safe).
import type { PromptRow } from '../src/db/schema.js';
import type { Scheduler } from './scheduler.js';

export interface DueDelivery {
  id: string;
  attempts: number;
  next_attempt_at: Date;
  endpoint_id: string | null;
  agent_id: string | null;
}
export type DueSend = Pick<PromptRow, 'id' | 'attempts' | 'next_attempt_at'>;
export type DueOutcome = Pick<PromptRow, 'id' | 'outcome_attempts' | 'outcome_next_at'>;
export type DueTimer = { id: string; expires_at: Date };
export type DueDrain = { id: string; drain_retry_at: Date | null };

/** A timer job starts this early and sleeps to the exact millisecond in the worker: a scheduler's
 *  delayed jobs start a little late (bench/timeouts.ts), and timeouts must not. */
export const TIMER_LEAD_MS = 500;

export const armDeliveries = (s: Scheduler, rows: DueDelivery[]) =>
  s.arm(
    'deliveries',
    rows.map((r) => ({
      name: 'deliver',
      id: `${r.id}.${r.attempts}`,
      // The target names the endpoint (or agent) for the per-target concurrency cap.
      data: { deliveryId: r.id, target: r.endpoint_id ?? r.agent_id },
      at: r.next_attempt_at.getTime(),
    })),
  );

export const armTimers = (s: Scheduler, rows: DueTimer[]) =>
  s.arm(
    'timers',
    rows.map((r) => timerJob(r.id, r.expires_at, `expire.${r.id}`)),
  );

/** A timer that fired early comes back under a new id (its own is still running). */
export const timerJob = (approvalId: string, at: Date, id = `expire.${approvalId}.${Date.now()}`) => ({
  name: 'expire',
  id,
  data: { approvalId },
  at: at.getTime() - TIMER_LEAD_MS,
});

/** Sends of prompts, each at its next attempt (the job id names the attempt, so a retry is a new job). */
export const armSends = (s: Scheduler, rows: DueSend[]) =>
  s.arm(
    'channels',
    rows.map((r) => ({
      name: 'send',
      id: `send.${r.id}.${r.attempts}`,
      data: { promptId: r.id },
      at: r.next_attempt_at.getTime(),
    })),
  );

/** Outcome updates of prompts whose approval has left pending. */
export const armOutcomes = (s: Scheduler, rows: DueOutcome[]) =>
  s.arm(
    'channels',
    rows.map((r) => ({
      name: 'outcome',
      id: `outcome.${r.id}.${r.outcome_attempts}`,
      data: { promptId: r.id },
      at: r.outcome_next_at?.getTime() ?? 0,
    })),
  );

/** A quorum's vote to show on each sent message (the job id names the vote's event). */
export const armProgress = (s: Scheduler, rows: { id: string; event_id: string }[]) =>
  s.arm(
    'channels',
    rows.map((r) => ({ name: 'progress', id: `progress.${r.id}.${r.event_id}`, data: { promptId: r.id }, at: 0 })),
  );

/** One drain per agent (the id is the agent's), at its backoff time if the last attempt failed. */
export const armDrains = (s: Scheduler, rows: DueDrain[]) =>
  s.arm(
    'drains',
    rows.map((r) => ({
      name: 'drain',
      id: `drain.${r.id}`,
      data: { agentId: r.id },
      at: r.drain_retry_at?.getTime() ?? 0,
    })),
  );
