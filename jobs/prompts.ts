// Channel work for an approval, one prompt at a time (the question as sent to one recipient):
// send the question, and once the approval has left pending, show the outcome on that message.
// The prompt row is the record of both: each try's result is written there (attempts, the next
// try, the last error), every retry is a new job named after its attempt, and the sweep re-arms
// whatever Redis lost. A question is retried until it is sent or the approval leaves pending; only
// a vendor's refusal for good ends it early, and that goes on the timeline and out as a webhook.
import { recordChanges } from '../src/activity/timeline.js';
import { approvalView, withDelivery } from '../src/approvals/approvals.js';
import { RetryLater, type ChannelAdapter } from '../src/channels/adapter.js';
import { presented } from '../src/approvals/presented.js';
import type { Ctx } from '../src/context.js';
import { inTransaction, json, type Tx } from '../src/db/index.js';
import type { ApprovalRow, PromptRow } from '../src/db/schema.js';
import type { Deps } from '../src/deps.js';
import { armOutcomes, armSends, type DueOutcome, type DueSend } from './arm.js';
import { retryDelay } from './backoff.js';
import { RunAgain, type Pacing, type Processor, type Scheduler } from './scheduler.js';

/** The adapter of a channel configured on this Leash (from the composition root), or undefined. */
export type AdapterFor = (channel: string) => ChannelAdapter | undefined;

/** What the job runner arms next: a retry of this step, or the outcome after a late send. */
export interface StepResult {
  done: string;
  retry?: Pick<PromptRow, 'id' | 'attempts' | 'next_attempt_at'>;
  outcomeRetry?: Pick<PromptRow, 'id' | 'outcome_attempts' | 'outcome_next_at'>;
  /** Sent after the approval had settled: its outcome is due now. */
  outcomeDue?: Pick<PromptRow, 'id' | 'outcome_attempts' | 'outcome_next_at'>;
}

/** A send that started this long ago and never finished (its worker died) no longer holds the prompt. */
const CLAIM_MS = 2 * 60_000;
/** An outcome update that keeps failing is given up this long after the approval settled: by then
 *  its buttons answer "already decided" anyway. */
const OUTCOME_GIVE_UP_MS = 24 * 3_600_000;

const claimFree = () => new Date(Date.now() - CLAIM_MS);

async function load(deps: Deps, promptId: string): Promise<{ prompt: PromptRow; approval: ApprovalRow } | undefined> {
  const prompt = await deps.db.selectFrom('prompts').selectAll().where('id', '=', promptId).executeTakeFirst();
  if (!prompt) return undefined;
  const approval = await deps.db
    .selectFrom('approvals')
    .selectAll()
    .where('id', '=', prompt.approval_id)
    .executeTakeFirst();
  return approval && { prompt, approval };
}

async function paced(adapter: ChannelAdapter, approval: ApprovalRow, prompt: PromptRow, pace: Pacing['pace']) {
  for (const p of adapter.pace?.(approval, prompt) ?? []) await pace(p.key, p.everyMs);
}

const errorText = (err: unknown) => ((err as Error)?.message ?? String(err)).slice(0, 500);

/** Leash itself, on the channel that could not take the question. */
const senderCtx = (prompt: PromptRow): Ctx => ({
  workspaceId: prompt.workspace_id,
  channel: prompt.channel as Ctx['channel'],
  actor: { type: 'system', id: null, display: 'leash' },
});

/** A question that will not reach its recipient: on the approval's timeline and out as
 *  pause_request.send_failed, in the transaction that marks the prompt failed. */
async function recordSendFailed(tx: Tx, deps: Deps, approvalId: string, prompt: PromptRow): Promise<void> {
  const approval = await tx.selectFrom('approvals').selectAll().where('id', '=', approvalId).executeTakeFirstOrThrow();
  const [record] = await withDelivery(tx, [approval]);
  await recordChanges(tx, [
    {
      ctx: senderCtx(prompt),
      entry: {
        action: 'approval.send_failed',
        agentId: approval.agent_id,
        details: {
          pause_id: approval.id,
          channel: prompt.channel,
          recipient: prompt.recipient,
          error: prompt.last_error,
        },
      },
      event: {
        workspaceId: approval.workspace_id,
        agentId: approval.agent_id,
        type: 'pause_request.send_failed',
        data: approvalView(record!, deps.approvals, 'agent'),
      },
    },
  ]);
}

/** Marks a prompt failed for good (and says so) if it is still queued and nobody is sending it. */
async function failForGood(deps: Deps, prompt: PromptRow, why: string, attempted: boolean): Promise<void> {
  await inTransaction(deps.db, async (tx) => {
    const row = await tx
      .updateTable('prompts')
      .set((eb) => ({
        status: 'failed',
        last_error: why,
        attempts: attempted ? eb('attempts', '+', 1) : eb.ref('attempts'),
        claimed_at: null,
        outcome_at: new Date(),
        updated_at: new Date(),
      }))
      .where('id', '=', prompt.id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    if (row) await recordSendFailed(tx, deps, prompt.approval_id, row);
  });
}

/**
 * The approval left pending before its question went out: nothing is sent. Never tried, the
 * prompt is `skipped`; tried and failing all along (a vendor outage that outlasted the question),
 * it is `failed`, and that is told like any final failure: nobody saw the question. Only while no
 * send holds the prompt; false when one does (its outcome follows that send).
 */
async function concludeUnsent(deps: Deps, prompt: PromptRow): Promise<boolean> {
  if (prompt.attempts === 0) {
    const row = await deps.db
      .updateTable('prompts')
      .set({ status: 'skipped', claimed_at: null, outcome_at: new Date(), updated_at: new Date() })
      .where('id', '=', prompt.id)
      .where('status', '=', 'queued')
      .where((eb) => eb.or([eb('claimed_at', 'is', null), eb('claimed_at', '<', claimFree())]))
      .returning('id')
      .executeTakeFirst();
    return row !== undefined || (await stillQueued(deps, prompt.id)) === false;
  }
  let concluded = false;
  await inTransaction(deps.db, async (tx) => {
    const row = await tx
      .updateTable('prompts')
      .set({
        status: 'failed',
        last_error: `not sent before the approval was settled; last error: ${prompt.last_error ?? 'none'}`.slice(
          0,
          500,
        ),
        claimed_at: null,
        outcome_at: new Date(),
        updated_at: new Date(),
      })
      .where('id', '=', prompt.id)
      .where('status', '=', 'queued')
      .where((eb) => eb.or([eb('claimed_at', 'is', null), eb('claimed_at', '<', claimFree())]))
      .returningAll()
      .executeTakeFirst();
    if (row) await recordSendFailed(tx, deps, prompt.approval_id, row);
    concluded = row !== undefined;
  });
  return concluded || (await stillQueued(deps, prompt.id)) === false;
}

async function stillQueued(deps: Deps, promptId: string): Promise<boolean> {
  const row = await deps.db.selectFrom('prompts').select('status').where('id', '=', promptId).executeTakeFirst();
  return row?.status === 'queued';
}

/** Sends one prompt's question, once: a conditional claim keeps two jobs from both sending it. */
export async function sendPrompt(
  deps: Deps,
  promptId: string,
  pacing: Pacing,
  adapterFor: AdapterFor,
): Promise<StepResult> {
  const found = await load(deps, promptId);
  if (!found || found.prompt.status !== 'queued') return { done: 'not queued' };
  const { prompt, approval } = found;
  if (approval.status !== 'pending') {
    await concludeUnsent(deps, prompt);
    return { done: 'settled before it was sent' };
  }
  // A job from an older schedule (the row has moved on): the current one comes at its time.
  if (prompt.next_attempt_at.getTime() > Date.now() + 1_000) return { done: 'not due' };
  const adapter = adapterFor(prompt.channel);
  if (!adapter) {
    await failForGood(deps, prompt, `the ${prompt.channel} channel is not configured on this Leash any more`, false);
    return { done: 'failed' };
  }
  // Paced first: a pacing wait comes back soon and must not count against the budget again.
  await paced(adapter, approval, prompt, pacing.pace);
  const budget = deps.config.sendBudgetPerMinute[prompt.channel];
  if (budget !== undefined) await pacing.budget(`${prompt.workspace_id}:${prompt.channel}`, budget);
  const claimed = await deps.db
    .updateTable('prompts')
    .set({ claimed_at: new Date() })
    .where('id', '=', prompt.id)
    .where('status', '=', 'queued')
    .where('attempts', '=', prompt.attempts)
    .where((eb) => eb.or([eb('claimed_at', 'is', null), eb('claimed_at', '<', claimFree())]))
    .returning('id')
    .executeTakeFirst();
  if (!claimed) return { done: 'another job has it' };

  let ref: Record<string, unknown> | null;
  try {
    ref = await adapter.send(deps, await presented(deps.db, approval, prompt), prompt);
  } catch (err) {
    if (!(err instanceof RetryLater)) deps.metrics.channelSends.inc({ channel: prompt.channel, outcome: 'failed' });
    return sendFailed(deps, adapter, prompt, err);
  }
  deps.metrics.channelSends.inc({ channel: prompt.channel, outcome: 'sent' });
  await markSent(deps, prompt, ref);
  // Settled while it was being sent: the outcome job found it still queued and left it to us.
  const now = await deps.db.selectFrom('approvals').select('status').where('id', '=', approval.id).executeTakeFirst();
  if (now && now.status !== 'pending') {
    const due = await deps.db
      .updateTable('prompts')
      .set({ outcome_next_at: new Date() })
      .where('id', '=', prompt.id)
      .where('outcome_at', 'is', null)
      .returning(['id', 'outcome_attempts', 'outcome_next_at'])
      .executeTakeFirst();
    return { done: 'sent', ...(due ? { outcomeDue: due } : {}) };
  }
  return { done: 'sent' };
}

/** Recorded even when `ref` is empty: a sent question is never sent again by a re-arm. An
 *  escalation step or the reminder goes on the timeline with it (an escalation also out as
 *  pause_request.escalated). */
async function markSent(deps: Deps, prompt: PromptRow, ref: Record<string, unknown> | null): Promise<void> {
  await inTransaction(deps.db, async (tx) => {
    const sent = await tx
      .updateTable('prompts')
      .set((eb) => ({
        status: 'sent',
        sent_at: new Date(),
        ref: json(ref ?? {}),
        last_error: null,
        attempts: eb('attempts', '+', 1),
        claimed_at: null,
        updated_at: new Date(),
      }))
      .where('id', '=', prompt.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (sent.kind !== 'question') await recordLaterSent(tx, deps, sent);
  });
}

async function recordLaterSent(tx: Tx, deps: Deps, prompt: PromptRow): Promise<void> {
  const approval = await tx
    .selectFrom('approvals')
    .selectAll()
    .where('id', '=', prompt.approval_id)
    .executeTakeFirstOrThrow();
  const [record] = await withDelivery(tx, [approval]);
  const escalated = prompt.kind === 'escalation';
  await recordChanges(tx, [
    {
      ctx: senderCtx(prompt),
      entry: {
        action: escalated ? 'approval.escalated' : 'approval.reminded',
        agentId: approval.agent_id,
        details: {
          pause_id: approval.id,
          channel: prompt.channel,
          recipient: prompt.recipient,
          ...(escalated ? { step: prompt.step } : {}),
        },
      },
      ...(escalated
        ? {
            event: {
              workspaceId: approval.workspace_id,
              agentId: approval.agent_id,
              type: 'pause_request.escalated',
              data: approvalView(record!, deps.approvals, 'agent'),
            },
          }
        : {}),
    },
  ]);
}

/** A send that threw: waited out (the vendor's 429), failed for good, or retried with backoff. */
async function sendFailed(deps: Deps, adapter: ChannelAdapter, prompt: PromptRow, err: unknown): Promise<StepResult> {
  if (err instanceof RetryLater) {
    await deps.db.updateTable('prompts').set({ claimed_at: null }).where('id', '=', prompt.id).execute();
    throw err;
  }
  const why = adapter.permanent?.(err);
  if (why) {
    deps.log.warn({ approval: prompt.approval_id, prompt: prompt.id, why }, 'the question could not be sent');
    await failForGood(deps, prompt, why, true);
    return { done: 'failed' };
  }
  const attempts = prompt.attempts + 1;
  const next = new Date(Date.now() + retryDelay(deps.config.channelRetryScheduleMs, attempts));
  deps.log.info(
    { approval: prompt.approval_id, prompt: prompt.id, attempts, err: errorText(err) },
    'sending the question failed; will retry',
  );
  const row = await deps.db
    .updateTable('prompts')
    .set({ attempts, next_attempt_at: next, last_error: errorText(err), claimed_at: null, updated_at: new Date() })
    .where('id', '=', prompt.id)
    .where('status', '=', 'queued')
    .returning(['id', 'attempts', 'next_attempt_at'])
    .executeTakeFirst();
  return row ? { done: 'retry', retry: row } : { done: 'not queued' };
}

/** Shows the outcome on the message a prompt sent, once the approval has left pending. */
export async function showOutcome(
  deps: Deps,
  promptId: string,
  pacing: Pacing,
  adapterFor: AdapterFor,
): Promise<StepResult> {
  const found = await load(deps, promptId);
  if (!found || found.prompt.outcome_at) return { done: 'nothing to show' };
  const { prompt, approval } = found;
  if (approval.status === 'pending') return { done: 'still pending' };
  if (prompt.status === 'queued') {
    // A send in progress holds the prompt: its outcome follows it. Otherwise nothing goes out now.
    if (!(await concludeUnsent(deps, prompt)))
      throw new RetryLater(Date.now() + 1_000, 'waiting for the question to be sent');
    return { done: 'never sent' };
  }
  const adapter = adapterFor(prompt.channel);
  const done = (error: string | null) =>
    deps.db
      .updateTable('prompts')
      .set({ outcome_at: new Date(), outcome_error: error, updated_at: new Date() })
      .where('id', '=', prompt.id)
      .where('outcome_at', 'is', null)
      .execute();
  // Nothing to update: never sent (failed, skipped), or a channel whose messages cannot be edited.
  if (prompt.status !== 'sent' || !adapter?.settled) {
    await done(null);
    return { done: 'nothing to update' };
  }
  await paced(adapter, approval, prompt, pacing.pace);
  try {
    await adapter.settled(deps, approval, prompt);
  } catch (err) {
    if (err instanceof RetryLater) throw err;
    const why = adapter.permanent?.(err);
    const settledAt = (approval.response_at ?? approval.updated_at).getTime();
    if (why || Date.now() - settledAt > OUTCOME_GIVE_UP_MS) {
      deps.log.warn(
        { approval: approval.id, prompt: prompt.id, why: why ?? errorText(err) },
        'the outcome could not be shown',
      );
      await done(why ?? `gave up: ${errorText(err)}`);
      return { done: 'gave up' };
    }
    const attempts = prompt.outcome_attempts + 1;
    const row = await deps.db
      .updateTable('prompts')
      .set({
        outcome_attempts: attempts,
        outcome_next_at: new Date(Date.now() + retryDelay(deps.config.channelRetryScheduleMs, attempts)),
        outcome_error: errorText(err),
        updated_at: new Date(),
      })
      .where('id', '=', prompt.id)
      .where('outcome_at', 'is', null)
      .returning(['id', 'outcome_attempts', 'outcome_next_at'])
      .executeTakeFirst();
    return row ? { done: 'retry', outcomeRetry: row } : { done: 'nothing to show' };
  }
  await done(null);
  return { done: 'shown' };
}

/** A quorum's vote changed what a sent, still pending question shows: show it again. Only where the
 *  channel edits messages; a failure is logged and left (the outcome update, which is retried and
 *  re-armed from Postgres, replaces the message anyway). */
export async function showProgress(
  deps: Deps,
  promptId: string,
  pacing: Pacing,
  adapterFor: AdapterFor,
): Promise<StepResult> {
  const found = await load(deps, promptId);
  if (!found || found.prompt.status !== 'sent' || found.approval.status !== 'pending')
    return { done: 'nothing to show' };
  const { prompt, approval } = found;
  const adapter = adapterFor(prompt.channel);
  if (!adapter?.progress) return { done: 'not editable' };
  await paced(adapter, approval, prompt, pacing.pace);
  try {
    await adapter.progress(deps, await presented(deps.db, approval, prompt), prompt);
  } catch (err) {
    if (err instanceof RetryLater) throw err;
    deps.log.warn({ approval: approval.id, prompt: prompt.id, err: errorText(err) }, 'the progress could not be shown');
    return { done: 'gave up' };
  }
  return { done: 'shown' };
}

const STEPS = { send: sendPrompt, outcome: showOutcome, progress: showProgress } as const;

/** The channels queue: a prompt's send or outcome update. A job armed before prompts existed names
 *  an approval: its prompt was re-armed at start. */
export function channelProcessor(deps: Deps, scheduler: Scheduler, adapterFor: AdapterFor): Processor {
  return {
    concurrency: 8,
    run: async (job) => {
      if (typeof job.data.promptId !== 'string') return 'stale';
      const step = STEPS[job.name as keyof typeof STEPS] ?? showOutcome;
      try {
        const result = await step(deps, job.data.promptId, scheduler.pacing, adapterFor);
        await armAfter(scheduler, result);
        return result.done;
      } catch (err) {
        // A vendor's 429 or our own pacing: the same job runs again then, its attempts untouched.
        if (err instanceof RetryLater) throw new RunAgain(err.at, err.message);
        throw err;
      }
    },
  };
}

/** What a prompt step leaves to arm: its retry, or an outcome a late send made due. */
async function armAfter(scheduler: Scheduler, r: StepResult): Promise<void> {
  const sends: DueSend[] = r.retry ? [r.retry] : [];
  const outcomes: DueOutcome[] = [r.outcomeRetry, r.outcomeDue].filter((o) => o !== undefined);
  await armSends(scheduler, sends);
  await armOutcomes(scheduler, outcomes);
}
