// Configuration is read from the environment once, validated with zod, and passed down explicitly.
// Defaults follow the contract (§2). Nothing else in the code reads process.env.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  // Unset: embedded mode (a Postgres server of our own under LEASH_DATA_DIR). Contract §2.
  DATABASE_URL: z.string().url().optional(),
  // Unset: in-process scheduling (one process: npm start).
  REDIS_URL: z.string().url().optional(),
  LEASH_DATA_DIR: z.string().default('./.leash'),
  PUBLIC_URL: z.string().url().optional(),
  LEASH_SECRET: optional,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // BullMQ key prefix: lets several deployments (or test files) share one Redis.
  QUEUE_PREFIX: z.string().min(1).default('leash'),
  SLACK_SIGNING_SECRET: optional,
  SLACK_BOT_TOKEN: optional,
  /** Socket Mode (development without a public URL): an app-level token, xapp-…. */
  SLACK_APP_TOKEN: optional,
  SLACK_API_URL: z.string().url().default('https://slack.com/api/'),
  TELEGRAM_BOT_TOKEN: optional,
  // Telegram accepts 1–256 of A-Z a-z 0-9 _ - as a secret_token.
  TELEGRAM_WEBHOOK_SECRET: optional.refine(
    (v) => v === undefined || /^[A-Za-z0-9_-]{1,256}$/.test(v),
    'must be 1-256 of A-Z a-z 0-9 _ -',
  ),
  TELEGRAM_API_ROOT: z.string().url().default('https://api.telegram.org'),
  /** Long polling instead of the webhook, for development without a public URL. */
  TELEGRAM_POLLING: z.enum(['true', 'false']).default('false'),
  TWILIO_ACCOUNT_SID: optional,
  TWILIO_AUTH_TOKEN: optional,
  TWILIO_FROM: optional,
  TWILIO_API_URL: z.string().url().default('https://api.twilio.com'),
  SMTP_URL: optional,
  EMAIL_FROM: optional,
  BACKLOG_CAP: z.coerce.number().int().min(1).default(10_000),
  MAX_TIMEOUT_HOURS: z.coerce.number().int().min(1).default(168),
  ALLOW_PRIVATE_URLS: bool.optional(),
  // How often the worker re-arms timers and deliveries from Postgres (rule 1).
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
  // Delays between delivery attempts (contract §5). Staging and tests shorten them.
  RETRY_SCHEDULE_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of milliseconds')
    .default('5000,300000,1800000,7200000,18000000,36000000,36000000')
    .transform((v) => v.split(',').map(Number)),
  // Delays between tries to send a question (or show its outcome) on a channel; the last one
  // repeats until it is sent or the approval leaves pending. Tests shorten them.
  CHANNEL_RETRY_SCHEDULE_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of milliseconds')
    .default('2000,10000,30000,60000,120000,300000')
    .transform((v) => v.split(',').map(Number)),
  // Pending approvals one channel recipient may have in a workspace (contract §3.8).
  MAX_PENDING_PER_RECIPIENT: z.coerce.number().int().min(1).default(20),
  // Questions a workspace may send per minute on each channel; more wait for the next minute. The
  // names are checked against the channels by the composition root (src/app.ts).
  SEND_BUDGET_PER_MINUTE: z
    .string()
    .regex(/^[a-z]+=\d+(,[a-z]+=\d+)*$/, 'must be like sms=20,email=60 (a channel name, =, sends a minute)')
    .default('sms=20,email=60,slack=120,telegram=120')
    .transform((v) =>
      Object.fromEntries(
        v
          .split(',')
          .map((kv) => kv.split('='))
          .map(([k, n]) => [k, Number(n)]),
      ),
    ),
  // Limits (contract §3.8; docs/api.md "Limits").
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  WEBHOOK_BODY_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  MAX_WAITS_PER_KEY: z.coerce.number().int().min(1).default(20),
  MAX_WAITS_PER_PROCESS: z.coerce.number().int().min(1).default(20_000),
  // How often a tool waiting at /mcp sends a progress notification (contract §8: at least every 15 s).
  MCP_PROGRESS_SECONDS: z.coerce.number().min(0.1).max(15).default(10),
  // Clean-up (jobs/clean-up.ts): how often, how many rows per statement, and what is kept how long.
  CLEANUP_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(300),
  CLEANUP_BATCH: z.coerce.number().int().min(1).max(100_000).default(1_000),
  MESSAGE_RETENTION_DAYS: z.coerce.number().min(0).default(7),
  DELIVERY_RETENTION_DAYS: z.coerce.number().min(0).default(30),
  INBOUND_RETENTION_DAYS: z.coerce.number().min(1).default(7),
  // GET /metrics: a bearer token to scrape it from anywhere; unset, it answers on loopback only.
  METRICS_TOKEN: optional,
  // A queue-mode worker serves /metrics, /healthz and /readyz on this port (unset: no listener).
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  // Which proxies may name the client address (X-Forwarded-For): `true`, a hop count, or addresses/CIDRs.
  TRUST_PROXY: optional,
});

type TrustProxy = boolean | string[] | ((address: string, hop: number) => boolean);

/** Fastify's trustProxy from TRUST_PROXY: off unless set, since a client could otherwise name any
 *  address it likes. A number trusts that many hops. */
function trustProxy(v: string | undefined): TrustProxy {
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return (_address, hop) => hop < hops;
  }
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** What the clean-up keeps, and how much it deletes per statement (jobs/clean-up.ts). */
export interface Retention {
  /** Acknowledged messages are kept this long after they were sent. */
  messagesDays: number;
  /** Settled deliveries, and dispatched events no pending delivery needs. */
  deliveriesDays: number;
  /** Inbound vendor requests, kept to deduplicate retries. */
  inboundDays: number;
  /** Rows per statement. */
  batch: number;
}

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  host: string;
  /** How this installation runs (contract §2): embedded (no DATABASE_URL), single (no REDIS_URL)
   *  or queue (both). */
  mode: 'embedded' | 'single' | 'queue';
  /** Unset in embedded mode until the embedded server is up (src/database.ts). */
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Where embedded mode keeps its database, as an absolute path. */
  dataDir: string;
  publicUrl: string;
  /** LEASH_SECRET; unset outside production means the installation's own (src/secret.ts). */
  secret: string | undefined;
  logLevel: string;
  queuePrefix: string;
  slack: { signingSecret?: string; botToken?: string; appToken?: string; apiUrl: string };
  telegram: { botToken?: string; webhookSecret?: string; apiRoot: string; polling: boolean };
  twilio: { accountSid?: string; authToken?: string; from?: string; apiUrl: string };
  email: { smtpUrl?: string; from?: string };
  backlogCap: number;
  maxTimeoutHours: number;
  /** How often a tool waiting at /mcp reports progress. */
  mcpProgressMs: number;
  /** How often the worker deletes rows past their use, and what it keeps. */
  cleanup: { intervalMs: number } & Retention;
  /** METRICS_TOKEN: unset, /metrics answers on loopback only. */
  metricsToken: string | undefined;
  /** METRICS_PORT: where a worker apart from the web serves /metrics and the probes. */
  metricsPort: number | undefined;
  allowPrivateUrls: boolean;
  sweepIntervalMs: number;
  retryScheduleMs: number[];
  channelRetryScheduleMs: number[];
  maxPendingPerRecipient: number;
  /** Sends per workspace per minute, by channel (missing: unlimited). */
  sendBudgetPerMinute: Partial<Record<string, number>>;
  limits: Limits;
  /** Fastify's trustProxy: which hops may name the client address the per-address limit counts. */
  trustProxy: TrustProxy;
}

export interface Limits {
  /** Requests per API key per minute. */
  perKeyPerMinute: number;
  /** Failed authentications per client address per minute. */
  authFailuresPerMinute: number;
  /** Time to receive a request's headers, and the whole request (headers and body). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Time to receive the body of a chat webhook (unauthenticated until read). */
  webhookBodyTimeoutMs: number;
  /** Long-polls and streams open at once, per key and in all, in one process. */
  waitsPerKey: number;
  waitsPerProcess: number;
}

export class ConfigError extends Error {}

/** Entry points call this first: a `.env` in the working directory fills in variables that the
 *  environment does not already set. */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

function cleanupOf(e: z.infer<typeof envSchema>): Config['cleanup'] {
  return {
    intervalMs: e.CLEANUP_INTERVAL_SECONDS * 1000,
    batch: e.CLEANUP_BATCH,
    messagesDays: e.MESSAGE_RETENTION_DAYS,
    deliveriesDays: e.DELIVERY_RETENTION_DAYS,
    inboundDays: e.INBOUND_RETENTION_DAYS,
  };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty value (`PUBLIC_URL=` in a copied .env.example) means "not set".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) {
    // Node refuses the server otherwise; say so in configuration terms.
    throw new ConfigError(
      'Invalid configuration:\n  HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS (the headers are part of the request)',
    );
  }
  if (e.NODE_ENV === 'production' && !e.LEASH_SECRET) {
    throw new ConfigError('Invalid configuration:\n  LEASH_SECRET: required when NODE_ENV=production');
  }
  // 32 bytes: as strong as the HMAC-SHA256 it keys (`openssl rand -base64 32` makes one).
  if (e.NODE_ENV === 'production' && Buffer.byteLength(e.LEASH_SECRET!) < 32) {
    throw new ConfigError(
      'Invalid configuration:\n  LEASH_SECRET: must be at least 32 bytes when NODE_ENV=production (try `openssl rand -base64 32`)',
    );
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    mode: !e.DATABASE_URL ? 'embedded' : !e.REDIS_URL ? 'single' : 'queue',
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir: resolve(e.LEASH_DATA_DIR),
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    secret: e.LEASH_SECRET,
    logLevel: e.LOG_LEVEL,
    queuePrefix: e.QUEUE_PREFIX,
    slack: {
      signingSecret: e.SLACK_SIGNING_SECRET,
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
    },
    telegram: {
      botToken: e.TELEGRAM_BOT_TOKEN,
      webhookSecret: e.TELEGRAM_WEBHOOK_SECRET,
      apiRoot: e.TELEGRAM_API_ROOT,
      polling: e.TELEGRAM_POLLING === 'true',
    },
    twilio: {
      accountSid: e.TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN,
      from: e.TWILIO_FROM,
      apiUrl: e.TWILIO_API_URL,
    },
    email: { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM },
    backlogCap: e.BACKLOG_CAP,
    maxTimeoutHours: e.MAX_TIMEOUT_HOURS,
    mcpProgressMs: Math.round(e.MCP_PROGRESS_SECONDS * 1000),
    cleanup: cleanupOf(e),
    metricsToken: e.METRICS_TOKEN,
    metricsPort: e.METRICS_PORT,
    allowPrivateUrls: e.ALLOW_PRIVATE_URLS ?? e.NODE_ENV !== 'production',
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    retryScheduleMs: e.RETRY_SCHEDULE_MS,
    channelRetryScheduleMs: e.CHANNEL_RETRY_SCHEDULE_MS,
    maxPendingPerRecipient: e.MAX_PENDING_PER_RECIPIENT,
    sendBudgetPerMinute: e.SEND_BUDGET_PER_MINUTE,
    limits: {
      perKeyPerMinute: e.RATE_LIMIT_PER_MINUTE,
      authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
      headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      webhookBodyTimeoutMs: e.WEBHOOK_BODY_TIMEOUT_MS,
      waitsPerKey: e.MAX_WAITS_PER_KEY,
      waitsPerProcess: e.MAX_WAITS_PER_PROCESS,
    },
    trustProxy: trustProxy(e.TRUST_PROXY),
  };
}
