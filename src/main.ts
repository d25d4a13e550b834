// Process entry: `web`, `worker`, or `all` (both in one process, for a single machine; it also
// applies migrations first so `npm start` works on a fresh clone).
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { ConfigError, loadConfig, loadDotEnv } from './config.js';
import { createDb } from './db/index.js';
import { ensureDatabase, migrateToLatest } from './db/migrate.js';
import { buildDeps, buildWeb, closeDeps, startWorker, type RunningWorker } from './app.js';
import { withSecret } from './secret.js';
import { useValidationMessages } from './validation-messages.js';

/** `npm start` on a fresh machine: the database is created and migrated before anything reads it. */
async function prepareDatabase(databaseUrl: string) {
  await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

/** Logs before the process's own logger exists (it needs the secret's config). */
const startupLog = (config: { logLevel: string }) => pino({ level: config.logLevel, base: undefined });

async function main(mode: string) {
  if (!['web', 'worker', 'all'].includes(mode)) throw new ConfigError(`usage: main.js web|worker|all (got ${mode})`);
  const loaded = loadConfig();
  if (mode === 'all') await prepareDatabase(loaded.databaseUrl);
  const config = await withSecret(loaded, startupLog(loaded));
  const deps = buildDeps(config);
  let app: FastifyInstance | undefined;
  let worker: RunningWorker | undefined;
  if (mode === 'web' || mode === 'all') {
    app = await buildWeb(deps);
    const address = await app.listen({ port: config.port, host: config.host });
    deps.log.info({ address }, `Leash is listening on ${address} (public URL ${config.publicUrl}, API docs at /docs)`);
  }
  if (mode === 'worker' || mode === 'all') worker = await startWorker(deps);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    let code = 0;
    try {
      // First wake every waiting request (graceful stops, long-polls): they answer 503 at once, so
      // the server can close without sitting out their timeouts.
      await deps.notifier.close();
      await app?.close();
    } catch (err) {
      deps.log.error({ err }, 'closing the HTTP server failed');
      code = 1;
    } finally {
      await worker?.close().catch((err) => deps.log.error({ err }, 'closing the worker failed'));
      await closeDeps(deps).catch((err) => deps.log.error({ err }, 'closing the database failed'));
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

useValidationMessages();
loadDotEnv();
main(process.argv[2] ?? 'all').catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
