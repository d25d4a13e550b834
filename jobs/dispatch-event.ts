// One outbox event: tell the agent's runtime at its delivery_url (control events such as
// agent.stop_requested and session.paused). Idempotent: a dispatched event is never sent again
// by a re-relayed job, and receivers deduplicate retries by webhook-id.
import type { Deps } from '../src/deps.js';
import { signedPost } from '../src/delivery/signed-post.js';

export async function dispatchEvent(deps: Pick<Deps, 'db' | 'config'>, outboxId: string): Promise<'sent' | 'skipped' | 'done'> {
  const event = await deps.db.selectFrom('outbox').selectAll().where('id', '=', outboxId).executeTakeFirst();
  if (!event || event.dispatched_at) return 'done';
  let result: 'sent' | 'skipped' = 'skipped';
  if (event.agent_id) {
    const agent = await deps.db
      .selectFrom('agents')
      .select(['delivery_url', 'delivery_secret'])
      .where('id', '=', event.agent_id)
      .executeTakeFirst();
    if (agent?.delivery_url && agent.delivery_secret) {
      await signedPost({
        url: agent.delivery_url,
        secret: agent.delivery_secret,
        id: event.id,
        body: JSON.stringify(event.payload),
        allowPrivateUrls: deps.config.allowPrivateUrls,
      });
      result = 'sent';
    }
  }
  await markDispatched(deps, outboxId);
  return result;
}

export async function markDispatched(deps: Pick<Deps, 'db'>, outboxId: string): Promise<void> {
  await deps.db.updateTable('outbox').set({ dispatched_at: new Date() }).where('id', '=', outboxId).where('dispatched_at', 'is', null).execute();
}
