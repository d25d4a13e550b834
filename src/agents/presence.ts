// Whether anything is connected that can hear a stop request. Until the WebSocket stream exists
// (issue 4) the only way to reach a runtime is its delivery_url; the stream will add its open
// connections here, which is the one place graceful stop asks.
import type { Db } from '../db/index.js';
import type { AgentRow } from '../db/schema.js';

export async function hasLiveConnection(_db: Db, agent: Pick<AgentRow, 'delivery_url'>): Promise<boolean> {
  return agent.delivery_url !== null;
}
