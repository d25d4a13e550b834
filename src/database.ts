// Which Postgres this process uses: DATABASE_URL, or in embedded mode the server under
// LEASH_DATA_DIR — started here, or (for the CLI) the one a running Leash already started.
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { holder, readState } from './embedded/data-dir.js';
import { DATABASE, startEmbeddedPostgres } from './embedded/postgres.js';
import type { ConnectedConfig } from './secret.js';

export interface Connection {
  config: ConnectedConfig;
  /** Stops the embedded server if this process started it. */
  close(): Promise<void>;
}

export async function connectDatabase(
  config: Config,
  log: Logger,
  opts: { useRunning?: boolean; mayCreate?: boolean } = {},
): Promise<Connection> {
  if (config.databaseUrl) return { config: { ...config, databaseUrl: config.databaseUrl }, close: async () => {} };
  const running = opts.useRunning ? await runningEmbeddedUrl(config.dataDir) : undefined;
  if (running) return { config: { ...config, databaseUrl: running }, close: async () => {} };
  const server = await startEmbeddedPostgres(config.dataDir, log, { mayCreate: opts.mayCreate });
  return { config: { ...config, databaseUrl: server.url }, close: () => server.stop() };
}

/** The URL of the embedded database a running Leash started on this data dir, if one is running. */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  if (!(await holder(dataDir))) return undefined;
  const state = await readState(dataDir);
  if (!state?.port) return undefined;
  return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${DATABASE}`;
}
