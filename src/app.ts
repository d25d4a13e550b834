// The composition root: the one place that knows every part and builds a process from them —
// config → deps (with the channels' facts) → the HTTP server with each surface's routes → the
// worker with the configured channels' adapters. src/main.ts, the OpenAPI dump and the tests
// build their processes here; nothing below imports this file. Every builder takes the channel
// list, so a test can add a channel without touching the rest.
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { bullmqScheduler } from '../jobs/bullmq/scheduler.js';
import { inProcessScheduler } from '../jobs/in-process/scheduler.js';
import { startWorker as startJobs, type RunningWorker } from '../jobs/worker.js';
import type { ChannelSet } from './approvals/channels.js';
import type { Channel } from './channels/channel.js';
import { CHANNELS } from './channels/list.js';
import { registerCompat } from './compat/index.js';
import { ConfigError, type Config } from './config.js';
import { registerDashboard } from './dashboard/routes.js';
import { createDeps, type Deps } from './deps.js';
import { buildOperationsServer, buildServer } from './http/server.js';
import type { ReadyConfig } from './secret.js';

export { closeDeps, type Deps } from './deps.js';
export type { RunningWorker } from '../jobs/worker.js';

/** The channels of this build, and those this installation has the credentials for. */
export function channelSet(config: Config, channels: readonly Channel[] = CHANNELS): ChannelSet {
  const names = new Set(channels.map((c) => c.name));
  for (const name of Object.keys(config.sendBudgetPerMinute)) {
    if (!names.has(name)) {
      throw new ConfigError(`SEND_BUDGET_PER_MINUTE: no channel named ${name} (channels: ${[...names].join(', ')})`);
    }
  }
  return { known: channels, available: new Set(channels.filter((c) => c.configured(config)).map((c) => c.name)) };
}

export function buildDeps(
  config: ReadyConfig,
  overrides: { log?: Logger; logStream?: DestinationStream; channels?: readonly Channel[] } = {},
): Deps {
  return createDeps(config, channelSet(config, overrides.channels), overrides);
}

/** The web process: the API, the response page, the dashboard, every channel's vendor routes, and
 *  the seed APIs' drop-in routes under /compat. */
export function buildWeb(deps: Deps, channels: readonly Channel[] = CHANNELS): Promise<FastifyInstance> {
  return buildServer(deps, {
    routes: [...channels.flatMap((c) => (c.routes ? [c.routes] : [])), registerCompat],
    pages: [registerDashboard],
  });
}

/** What a worker apart from the web serves on METRICS_PORT: /metrics, /healthz, /readyz. */
export function buildWorkerOperations(deps: Deps): Promise<FastifyInstance> {
  return buildOperationsServer(deps);
}

/** The worker, sending on the channels configured in `deps.config`. */
export function startWorker(deps: Deps, channels: readonly Channel[] = CHANNELS): Promise<RunningWorker> {
  const adapters = new Map(
    channels.filter((c) => c.adapter && c.configured(deps.config)).map((c) => [c.name, c.adapter!]),
  );
  // Queue mode shares the work through Redis; otherwise the one process schedules it (contract §2).
  const scheduler = deps.config.redisUrl
    ? bullmqScheduler({ redisUrl: deps.config.redisUrl, prefix: deps.config.queuePrefix, log: deps.log })
    : inProcessScheduler({ log: deps.log, databaseUrl: deps.config.databaseUrl });
  return startJobs(deps, (channel) => adapters.get(channel), scheduler);
}
