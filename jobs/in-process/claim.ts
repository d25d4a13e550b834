// In single and embedded mode one process schedules everything in memory; a second one on the
// same database would run every drain and delivery twice. A session advisory lock, held on a
// connection of its own for the worker's life, keeps it to one.
import pg from 'pg';
import { ConfigError } from '../../src/config.js';
import { pgConfig } from '../../src/db/index.js';

/** 'leash' in ASCII: one key per database for "schedules in process". */
const KEY = 0x6c65617368;

export async function claimScheduling(databaseUrl: string): Promise<() => Promise<void>> {
  const client = new pg.Client(pgConfig(databaseUrl));
  // A dropped connection drops the lock with it; the worker goes on, and says nothing louder.
  client.on('error', () => {});
  await client.connect();
  const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [KEY]);
  if (!rows[0]?.ok) {
    await client.end();
    throw new ConfigError(
      'Another Leash without REDIS_URL already runs its worker on this database: in single mode one process schedules; set REDIS_URL (queue mode) to run several',
    );
  }
  return () => client.end();
}
