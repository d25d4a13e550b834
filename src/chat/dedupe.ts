// Inbound vendor requests are handled once: a vendor's retry or an attacker's replay of a request
// already seen (same event id, update id, message SID or signature) changes nothing.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';

/** True the first time (source, key) is seen; false ever after (until pruned, after 7 days). */
export async function firstTime(db: Db, source: string, key: string): Promise<boolean> {
  const row = await db.insertInto('inbound_requests').values({ source, key }).onConflict((oc) => oc.doNothing()).returning('key').executeTakeFirst();
  return row !== undefined;
}

export async function pruneInbound(db: Db): Promise<void> {
  await sql`delete from inbound_requests where received_at < now() - interval '7 days'`.execute(db);
}
