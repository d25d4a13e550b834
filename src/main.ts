// Process entry: `web`, `worker`, or `all` (both in one process: `npm start`). `all` also applies
// migrations first, so `npm start` works on a fresh clone; in embedded mode it starts the embedded
// Postgres first and stops it last (contract §2).
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildDeps, buildWeb, buildWorkerOperations, closeDeps, startWorker, type RunningWorker } from './app.js';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';
import { connectDatabase } from './database.js';
import { prepareDatabase } from './db/migrate.js';
import { DataDirError } from './embedded/data-dir.js';
import { withSecret } from './secret.js';
import { useValidationMessages } from './validation-messages.js';

/** Logs before the process's own logger exists (it needs the secret's config). */
const startupLog = (config: { logLevel: string }) => pino({ level: config.logLevel, base: undefined });

/** web and worker apart share work through Redis: only queue mode has it. */
function checkMode(mode: string, config: Config) {
  if (!['web', 'worker', 'all'].includes(mode)) throw new ConfigError(`usage: main.js web|worker|all (got ${mode})`);
  if (mode !== 'all' && config.mode !== 'queue') {
    throw new ConfigError(
      `\`${mode}\` runs apart from the ${mode === 'web' ? 'worker' : 'web process'} only in queue mode: set DATABASE_URL and REDIS_URL, or run both in one process with \`npm start\` (${config.mode} mode)`,
    );
  }
}

const where = (config: Config) =>
  config.mode === 'embedded' ? `, data in ${config.dataDir}` : config.mode === 'single' ? ', no Redis' : '';

async function main(mode: string) {
  const loaded = loadConfig();
  checkMode(mode, loaded);
  const log = startupLog(loaded);
  const database = await connectDatabase(loaded, log);
  // A signal while starting up stops what has started (the embedded Postgres) instead of leaving it.
  const interrupted = (signal: string) => {
    log.info({ signal }, 'interrupted while starting');
    void database.close().finally(() => process.exit(1));
  };
  process.once('SIGTERM', interrupted);
  process.once('SIGINT', interrupted);
  let closing: Promise<void> | undefined;
  try {
    if (mode === 'all') await prepareDatabase(database.config.databaseUrl);
    const config = await withSecret(database.config, log);
    const deps = buildDeps(config);
    let app: FastifyInstance | undefined;
    let worker: RunningWorker | undefined;
    if (mode === 'web' || mode === 'all') {
      app = await buildWeb(deps);
      const address = await app.listen({ port: config.port, host: config.host }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EADDRINUSE') throw err;
        throw new ConfigError(`PORT ${config.port} is in use on ${config.host}: stop what listens there, or set PORT`);
      });
      deps.log.info(
        { address, mode: config.mode, dataDir: config.mode === 'embedded' ? config.dataDir : undefined },
        `Leash is listening on ${address} (${config.mode} mode${where(config)}; public URL ${config.publicUrl}, API docs at /docs)`,
      );
    }
    if (mode === 'worker' || mode === 'all') worker = await startWorker(deps);
    if (mode === 'worker' && config.metricsPort !== undefined) {
      app = await buildWorkerOperations(deps);
      const address = await app.listen({ port: config.metricsPort, host: config.host });
      deps.log.info({ address }, `worker metrics and probes on ${address}/metrics, /healthz, /readyz`);
    }
    process.off('SIGTERM', interrupted);
    process.off('SIGINT', interrupted);
    const shutdown = (signal: string) => {
      closing ??= stop(deps, app, worker, database.close, signal);
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

async function stop(
  deps: ReturnType<typeof buildDeps>,
  app: FastifyInstance | undefined,
  worker: RunningWorker | undefined,
  closeDatabase: () => Promise<void>,
  signal: string,
): Promise<void> {
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
    // The embedded server goes last: everything above may still write.
    await closeDatabase().catch((err) => deps.log.error({ err }, 'stopping the embedded Postgres failed'));
  }
  process.exit(code);
}

useValidationMessages();
loadDotEnv();
main(process.argv[2] ?? 'all').catch((err) => {
  console.error(err instanceof ConfigError || err instanceof DataDirError ? err.message : err);
  process.exit(1);
});
