// Channel work for an approval: send the question, and later show the outcome (adapters in
// src/channels/). The web channel has no adapter: it is answered on the response page.
import type { ApprovalRow } from '../src/db/schema.js';
import { RetryLater } from '../src/channels/adapter.js';
import { adapters, type ChannelAdapter } from '../src/channels/registry.js';
import { json } from '../src/db/index.js';
import type { Deps } from '../src/deps.js';

/** Takes the destination's next slot or throws RetryLater for when it frees (see ChannelAdapter.pace). */
export type Pacer = (key: string, everyMs: number) => Promise<void>;

async function paced(adapter: ChannelAdapter, row: ApprovalRow, pace: Pacer) {
  for (const p of adapter.pace?.(row) ?? []) await pace(p.key, p.everyMs);
}

/** How long an outcome waits for its question to be sent before giving up on editing it. */
const SEND_GRACE_MS = 10 * 60_000;

export async function sendOnChannel(deps: Deps, approvalId: string, pace: Pacer): Promise<void> {
  const row = await deps.db.selectFrom('approvals').selectAll().where('id', '=', approvalId).executeTakeFirst();
  const adapter = row && adapters[row.channel];
  if (!row || !adapter || row.channel_ref) return;
  if (row.status !== 'pending') {
    // Settled before it went out: nothing to send, and the outcome job stops waiting for it.
    await deps.db.updateTable('approvals').set({ channel_ref: json({}) }).where('id', '=', row.id).where('channel_ref', 'is', null).execute();
    return;
  }
  await paced(adapter, row, pace);
  let ref: Record<string, unknown> | null;
  try {
    ref = await adapter.send(deps, row);
  } catch (err) {
    // Refused for good: recorded on the approval (it can still be answered elsewhere), not retried.
    const why = adapter.permanent?.(err);
    if (!why) throw err;
    deps.log.warn({ approval: row.id, why }, 'the question could not be sent');
    ref = { failed: why };
  }
  // Recorded even when empty: a sent question is never sent again by a re-arm.
  await deps.db.updateTable('approvals').set({ channel_ref: json(ref ?? {}) }).where('id', '=', row.id).execute();
}

export async function showOutcome(deps: Deps, approvalId: string, pace: Pacer): Promise<void> {
  const row = await deps.db.selectFrom('approvals').selectAll().where('id', '=', approvalId).executeTakeFirst();
  const adapter = row && adapters[row.channel];
  if (!row || row.status === 'pending' || row.channel_settled_at) return;
  // The question may still be on its way (a decision can land while it is being posted): wait for
  // it, so that the message it leaves behind is updated rather than keeping live buttons.
  if (adapter?.settled && row.channel_ref === null && Date.now() - row.created_at.getTime() < SEND_GRACE_MS) {
    throw new RetryLater(Date.now() + 1_000, 'waiting for the question to be sent');
  }
  if (adapter?.settled && row.channel_ref) {
    await paced(adapter, row, pace);
    try {
      await adapter.settled(deps, row);
    } catch (err) {
      const why = adapter.permanent?.(err);
      if (!why) throw err;
      deps.log.warn({ approval: row.id, why }, 'the outcome could not be shown');
    }
  }
  await deps.db.updateTable('approvals').set({ channel_settled_at: new Date() }).where('id', '=', row.id).execute();
}
