// Everything a process needs, built once from config and passed down (by the composition root,
// src/app.ts, which also knows the channels).
import { pino, type DestinationStream, type Logger } from 'pino';
import type { ApprovalSettings } from './approvals/approvals.js';
import type { ChannelSet } from './approvals/channels.js';
import type { ReadyConfig } from './secret.js';
import { createDb, type Db } from './db/index.js';
import { Notifier } from './db/notifier.js';
import { requestIdMixin } from './log-context.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { readClusterState } from './metrics/state.js';

/** Request logs never carry a response-page token: the URL is the power to answer. */
export function requestForLog(req: { method?: string; url?: string; ip?: string }) {
  return { method: req.method, url: req.url?.replace(/\/r\/[^/?#]+/, '/r/[redacted]'), remoteAddress: req.ip };
}

export interface Deps {
  config: ReadyConfig;
  /** Response-page links and the channels approvals may use. */
  approvals: ApprovalSettings;
  db: Db;
  log: Logger;
  notifier: Notifier;
  /** This process's counters and the cluster's gauges, for GET /metrics. */
  metrics: Metrics;
}

export function createDeps(
  config: ReadyConfig,
  channels: ChannelSet,
  overrides: { log?: Logger; logStream?: DestinationStream } = {},
): Deps {
  const options = {
    level: config.logLevel,
    base: undefined,
    serializers: { req: requestForLog },
    mixin: requestIdMixin,
  };
  const log = overrides.log ?? (overrides.logStream ? pino(options, overrides.logStream) : pino(options));
  const db = createDb(config.databaseUrl);
  const metrics = createMetrics();
  metrics.sources.state = () => readClusterState(db);
  return {
    config,
    approvals: {
      publicUrl: config.publicUrl,
      secret: config.secret,
      channels,
      maxPendingPerRecipient: config.maxPendingPerRecipient,
      onCreated: (channel) => metrics.approvalsCreated.inc({ channel }),
    },
    log,
    db,
    notifier: new Notifier(config.databaseUrl, log),
    metrics,
  };
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.notifier.close();
  await deps.db.destroy();
}
