#!/usr/bin/env node
// The `leash` command: operator tasks that run against the database directly (no API key needed).
import { Command } from 'commander';
import { destination, pino } from 'pino';
import { overview } from '../agents/overview.js';
import { telegramApi } from '../channels/telegram/api.js';
import { createAgent } from '../agents/registry.js';
import { ConfigError, loadConfig, loadDotEnv } from '../config.js';
import { operatorCtx } from '../context.js';
import { createDb, isUuid, type Db } from '../db/index.js';
import { prepareDatabase } from '../db/migrate.js';
import { connectDatabase, runningEmbeddedUrl } from '../database.js';
import { DataDirError } from '../embedded/data-dir.js';
import { LeashError } from '../errors.js';
import { createWorkspace } from '../workspaces/workspaces.js';
import { useValidationMessages } from '../validation-messages.js';
import { table } from './table.js';

/** Runs `fn` on the installation's database: DATABASE_URL, or in embedded mode the running Leash's
 *  server, or one started for this command and stopped after it (contract §2). Embedded databases
 *  are created and migrated first: there is no release step to do it. */
async function withDb<T>(
  fn: (db: Db) => Promise<T>,
  opts: { prepare?: boolean; mayCreate?: boolean } = {},
): Promise<T> {
  const config = loadConfig();
  // Only migrate and init make an installation; another command in the wrong directory would
  // otherwise make a new, empty one and act there.
  const log = pino({ level: 'warn' }, destination(2));
  const conn = await connectDatabase(config, log, { useRunning: true, mayCreate: opts.mayCreate ?? false });
  try {
    const url = conn.config.databaseUrl;
    if (opts.prepare || config.mode === 'embedded') {
      const { created, applied } = await prepareDatabase(url);
      if (opts.prepare) {
        if (created) console.log('created the database');
        console.log(applied.length ? `applied ${applied.join(', ')}` : 'the database is up to date');
      }
    }
    const db = createDb(url, { max: 2 });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  } finally {
    await conn.close();
  }
}

const print = (json: boolean, value: unknown, text: string) =>
  console.log(json ? JSON.stringify(value, null, 2) : text);

const program = new Command('leash').description('Leash: the control hub for AI agents').showHelpAfterError();

program
  .command('migrate')
  .description('create the database if needed and apply all migrations')
  .action(async () => {
    await withDb(async () => {}, { prepare: true, mayCreate: true });
  });

program
  .command('init')
  .description('create a workspace and its first owner; prints the owner’s API key once')
  .requiredOption('--workspace <name>', 'workspace name')
  .requiredOption('--owner-email <email>', 'the first owner’s email')
  .option('--json', 'print {"workspace_id", "member_id", "api_key"}')
  .action(async (o: { workspace: string; ownerEmail: string; json?: boolean }) => {
    const out = await withDb((db) => createWorkspace(db, { name: o.workspace, ownerEmail: o.ownerEmail }), {
      mayCreate: true,
    });
    print(
      !!o.json,
      out,
      `Workspace ${o.workspace} created (${out.workspace_id}).\nOwner ${o.ownerEmail} (${out.member_id}).\n\nAPI key (shown once, keep it safe):\n  ${out.api_key}`,
    );
  });

program
  .command('db-url')
  .description('print the database URL (in embedded mode: the running Leash’s; for pg_dump)')
  .action(async () => {
    const config = loadConfig();
    if (config.databaseUrl) return console.log(config.databaseUrl);
    const url = await runningEmbeddedUrl(config.dataDir);
    if (!url) {
      throw new DataDirError(
        `Leash is not running on ${config.dataDir}: start it (npm start) and ask again, so its database can be reached`,
      );
    }
    console.log(url);
  });

const agent = program.command('agent').description('manage agents');
agent
  .command('create')
  .description('register an agent; prints its API key once')
  .requiredOption('--workspace <id>', 'workspace id')
  .requiredOption('--name <name>', 'agent name: 1-64 of a-z, 0-9, -')
  .option('--display-name <text>', 'a human-friendly name')
  .option('--delivery-url <url>', 'where Leash POSTs events for this agent')
  .option('--json', 'print {"agent", "api_key", "delivery_secret"?}')
  .action(
    async (o: { workspace: string; name: string; displayName?: string; deliveryUrl?: string; json?: boolean }) => {
      if (!isUuid(o.workspace))
        throw new LeashError('invalid_request', 'workspace: must be a workspace id (leash init prints it)');
      const config = loadConfig();
      const out = await withDb(async (db) => {
        const ws = await db.selectFrom('workspaces').select('id').where('id', '=', o.workspace).executeTakeFirst();
        if (!ws) throw new LeashError('not_found', `Workspace ${o.workspace} not found`);
        return createAgent(
          db,
          operatorCtx(ws.id),
          { name: o.name, display_name: o.displayName, delivery_url: o.deliveryUrl },
          { allowPrivateUrls: config.allowPrivateUrls },
        );
      });
      const secret = out.delivery_secret ? `\nDelivery secret (shown once):\n  ${out.delivery_secret}` : '';
      print(
        !!o.json,
        out,
        `Agent ${out.agent.name} created (${out.agent.id}).\n\nAPI key (shown once):\n  ${out.api_key}${secret}`,
      );
    },
  );

program
  .command('status')
  .description('agents, pauses, backlogs and pending approvals at a glance')
  .option('--workspace <id>', 'only this workspace')
  .option('--json', 'print JSON')
  .action(async (o: { workspace?: string; json?: boolean }) => {
    if (o.workspace && !isUuid(o.workspace))
      throw new LeashError('invalid_request', 'workspace: must be a workspace id');
    const rows = await withDb((db) => overview(db, o.workspace));
    if (o.json) return print(true, rows, '');
    if (rows.length === 0) {
      console.log('No agents yet. Create one with: leash agent create --workspace ID --name NAME');
      return;
    }
    console.log(
      table(
        ['WORKSPACE', 'AGENT', 'STATUS', 'BACKLOG', 'PENDING', 'SESSIONS', 'PAUSE'],
        rows.map((r) => [r.workspace, r.name, r.status, r.backlog, r.pending_approvals, r.open_sessions, r.pause]),
      ),
    );
  });

program
  .command('telegram-webhook')
  .description('point the Telegram bot at PUBLIC_URL/telegram/webhook, with TELEGRAM_WEBHOOK_SECRET')
  .action(async () => {
    const config = loadConfig();
    const { botToken, webhookSecret } = config.telegram;
    if (!botToken || !webhookSecret)
      throw new LeashError('invalid_request', 'set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET first');
    const url = `${config.publicUrl}/telegram/webhook`;
    await telegramApi(config).setWebhook(url, {
      secret_token: webhookSecret,
      allowed_updates: ['message', 'callback_query'],
    });
    console.log(`Telegram will send updates to ${url}`);
  });

program
  .command('mcp')
  .description(
    'the MCP server on stdio, for Claude Code and other MCP clients (env LEASH_URL, LEASH_API_KEY, LEASH_MCP_CHANNEL, LEASH_MCP_RECIPIENT; docs/mcp.md)',
  )
  .action(async () => {
    // Loaded only here: the other commands need none of the MCP SDK.
    const { McpSetupError, runStdio } = await import('../mcp/stdio.js');
    try {
      await runStdio();
      // Kept-alive connections to Leash would hold the process up for seconds after the client left.
      process.exit(0);
    } catch (err) {
      if (!(err instanceof McpSetupError)) throw err;
      console.error(`leash mcp: ${err.message}`);
      process.exit(2);
    }
  });

useValidationMessages();
loadDotEnv();
program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof LeashError || err instanceof ConfigError || err instanceof DataDirError) {
    console.error(`leash: ${err.message}`);
    process.exit(err instanceof LeashError && err.code === 'invalid_request' ? 2 : 1);
  }
  console.error(err);
  process.exit(1);
});
