// Everything a process needs, built once from config and passed down. Tests build their own.
import { pino, type Logger } from 'pino';
import type { ApprovalSettings } from './approvals/approvals.js';
import { availableChannels } from './channels/registry.js';
import type { Config } from './config.js';
import { createDb, type Db } from './db/index.js';
import { Notifier } from './db/notifier.js';

export interface Deps {
  config: Config;
  /** Response-page links and the channels approvals may use. */
  approvals: ApprovalSettings;
  db: Db;
  log: Logger;
  notifier: Notifier;
}

export function createDeps(config: Config, overrides: Partial<Pick<Deps, 'log'>> = {}): Deps {
  const log = overrides.log ?? pino({ level: config.logLevel, base: undefined });
  return {
    config,
    approvals: { publicUrl: config.publicUrl, secret: config.secret, channels: availableChannels(config) },
    log,
    db: createDb(config.databaseUrl),
    notifier: new Notifier(config.databaseUrl, log),
  };
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.notifier.close();
  await deps.db.destroy();
}
