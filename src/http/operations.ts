// The operator's routes (contract §9): /healthz (the process is up), /readyz (its Postgres, and
// Redis in queue mode, answer), /metrics (Prometheus text), and the request histogram behind it.
// The web process serves them with the API; a queue-mode worker serves them alone on METRICS_PORT.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Deps } from '../deps.js';
import { sendError } from './errors.js';

/** A dependency slower than this is as good as down to a load balancer. */
const CHECK_TIMEOUT_MS = 2_000;

export function registerOperations(app: FastifyInstance, deps: Deps): void {
  registerHealth(app, deps);
  registerMetricsRoute(app, deps);
  recordRequests(app, deps);
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const reason = (err: unknown) => ((err as Error)?.message || String(err)).slice(0, 200);

function registerHealth(app: FastifyInstance, deps: Deps) {
  // Its own connection, so a ping says whether Redis answers, not whether a busy client has room.
  const redis = deps.config.redisUrl
    ? new Redis(deps.config.redisUrl, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: CHECK_TIMEOUT_MS,
        // Down is reported by the ping; a reconnect every second is plenty for a probe.
        retryStrategy: () => 1_000,
      })
    : undefined;
  redis?.on('error', () => {});
  app.addHook('onClose', async () => redis?.disconnect());

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));

  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const checks = await Promise.all([
      within(CHECK_TIMEOUT_MS, sql`select 1`.execute(deps.db)).then(
        () => ['postgres', 'up'] as const,
        (err) => ['postgres', `down (${reason(err)})`] as const,
      ),
      ...(redis
        ? [
            within(
              CHECK_TIMEOUT_MS,
              (redis.status === 'wait' ? redis.connect() : Promise.resolve()).then(() => redis.ping()),
            ).then(
              () => ['redis', 'up'] as const,
              (err) => ['redis', `down (${reason(err)})`] as const,
            ),
          ]
        : []),
    ]);
    const down = checks.filter(([, state]) => state !== 'up');
    if (down.length === 0) return { ok: true, ...Object.fromEntries(checks) };
    const names = down.map(([name, state]) => `${name === 'postgres' ? 'Postgres' : 'Redis'} is ${state}`);
    return sendError(reply, 'unavailable', `not ready: ${names.join('; ')}`);
  });
}

const isLoopback = (address: string | undefined) =>
  !!address && (address === '::1' || /^(::ffff:)?127\./.test(address));

function allowedToScrape(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return isLoopback(req.socket.remoteAddress);
  const given = Buffer.from(/^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function registerMetricsRoute(app: FastifyInstance, deps: Deps) {
  const { registry } = deps.metrics;
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    const token = deps.config.metricsToken;
    if (!allowedToScrape(req, token)) {
      return token
        ? sendError(reply, 'unauthorized', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>')
        : sendError(
            reply,
            'forbidden',
            'GET /metrics answers on loopback only; set METRICS_TOKEN to scrape it from elsewhere',
          );
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

/** Requests by route pattern (never the raw URL: ids would make a series each). */
function recordRequests(app: FastifyInstance, deps: Deps) {
  const histogram = deps.metrics.httpRequests;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    histogram.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
