// The installation's secret, which signs response-page links, dashboard cookies and notices, and
// seals idempotency records. LEASH_SECRET names it; without it (outside production) a random one
// is made once per installation and kept in Postgres, so every process of the installation shares
// it and a restart keeps links and sessions valid. A constant default would let anyone who read the
// source forge a link that answers an approval.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createDb } from './db/index.js';

/** Configuration whose database is known (embedded mode: once its server is up). */
export type ConnectedConfig = Config & { databaseUrl: string };
/** Configuration whose database and secret are known (LEASH_SECRET, or the installation's own). */
export type ReadyConfig = ConnectedConfig & { secret: string };

/** The installation's generated secret: the one in Postgres, made now if there is none yet. */
export async function installationSecret(databaseUrl: string): Promise<{ secret: string; created: boolean }> {
  const db = createDb(databaseUrl, { max: 1 });
  try {
    const made = await db
      .insertInto('installation')
      .values({ secret: randomBytes(32).toString('base64url') })
      .onConflict((oc) => oc.doNothing())
      .returning('secret')
      .executeTakeFirst();
    if (made) return { secret: made.secret, created: true };
    const row = await db.selectFrom('installation').select('secret').executeTakeFirstOrThrow();
    return { secret: row.secret, created: false };
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') {
      throw new Error(
        "The database is not migrated (no installation table): run `npx leash migrate` first (the Procfile's release process does).",
      );
    }
    throw err;
  } finally {
    await db.destroy();
  }
}

/** The configuration with its secret: LEASH_SECRET, or the installation's (logged once). */
export async function withSecret(config: ConnectedConfig, log?: Pick<Logger, 'info'>): Promise<ReadyConfig> {
  if (config.secret) return config as ReadyConfig;
  const { secret, created } = await installationSecret(config.databaseUrl);
  log?.info(
    { created },
    created
      ? 'LEASH_SECRET is not set: generated a random secret for this installation and kept it in the database (set LEASH_SECRET to choose your own)'
      : "LEASH_SECRET is not set: using this installation's generated secret from the database",
  );
  return { ...config, secret };
}
