// Who is connected. An agent is online while a stream is open or within 60 s of an inbox read;
// graceful stop asks hasLiveConnection() whether anything can hear a stop request at all.
// Open streams are rows kept fresh by a heartbeat from the process that holds them, so every web
// process (and a crashed one, whose rows go stale) answers the same.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { AgentRow } from '../db/schema.js';

/** How often a process refreshes its open streams; a row older than STREAM_STALE_MS is a crash's leftover. */
export const STREAM_HEARTBEAT_MS = 15_000;
const STREAM_STALE_MS = 45_000;

export async function hasLiveConnection(db: Db, agent: Pick<AgentRow, 'id' | 'delivery_url'>): Promise<boolean> {
  if (agent.delivery_url !== null) return true;
  const open = await db
    .selectFrom('agent_streams')
    .select('id')
    .where('agent_id', '=', agent.id)
    .where('seen_at', '>', new Date(Date.now() - STREAM_STALE_MS))
    .limit(1)
    .executeTakeFirst();
  return open !== undefined;
}

/** A stream opened: recorded, and the agent is seen now. */
export async function streamOpened(db: Db, streamId: string, agentId: string): Promise<void> {
  await db
    .with('s', (q) => q.insertInto('agent_streams').values({ id: streamId, agent_id: agentId }))
    .updateTable('agents')
    .set({ last_seen_at: sql`now()` })
    .where('id', '=', agentId)
    .execute();
}

export async function streamClosed(db: Db, streamId: string): Promise<void> {
  await db.deleteFrom('agent_streams').where('id', '=', streamId).execute();
}

/** The heartbeat of one process's open streams: one statement for all of them. */
export async function streamsAlive(db: Db, streams: { id: string; agentId: string }[]): Promise<void> {
  if (streams.length === 0) return;
  await db
    // Arrays, not IN lists: 10,000 streams are two parameters and one fixed statement, not 10,000
    // placeholders built, sent and planned every heartbeat.
    .with('s', (q) =>
      q
        .updateTable('agent_streams')
        .set({ seen_at: sql`now()` })
        .where('id', '=', sql<string>`any(${streams.map((s) => s.id)}::uuid[])`),
    )
    .updateTable('agents')
    .set({ last_seen_at: sql`now()` })
    .where('id', '=', sql<string>`any(${[...new Set(streams.map((s) => s.agentId))]}::uuid[])`)
    .execute();
}

/** Rows left by processes that died without closing their streams. */
export async function pruneStaleStreams(db: Db): Promise<void> {
  await db
    .deleteFrom('agent_streams')
    .where('seen_at', '<', new Date(Date.now() - 10 * STREAM_STALE_MS))
    .execute();
}
