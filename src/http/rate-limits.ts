// Requests per API key, and failed authentications per client address (contract §3.8), counted by
// @fastify/rate-limit over clock-aligned one-minute windows. Counted in each process as requests
// come and shared through Redis a beat later (./shared-counts.ts), so a request never waits for
// Redis, and with Redis away each process still limits what it sees (architecture rule 1: the API
// never refuses or stalls because its scheduler is down).
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Limits } from '../config.js';
import { LeashError } from '../errors.js';
import { errorBody } from './schemas.js';
import { SharedCounts, type CountStore } from './shared-counts.js';

const WINDOW_MS = 60_000;
/** A healthy round trip is well under a millisecond; a hung Redis holds a flush at most this. */
const REDIS_COMMAND_TIMEOUT_MS = 100;

declare module 'fastify' {
  interface FastifyInstance {
    authFailures: AuthFailures;
  }
}

export interface LimiterStore {
  /** The plugin's store option: a class it constructs once. */
  options: { store: new () => CountStore };
  close(): Promise<void>;
}

/** The one place that chooses where counts are shared: through Redis when the deployment has one
 *  (queue mode), nowhere otherwise (one process: its own counts are all there is). Counting is in
 *  the process either way (./shared-counts.ts); Redis only hears of it a beat later, on the
 *  limiter's own connection, which fails fast (no offline queue, one try, a short timeout). */
export function limiterStore(redisUrl: string | undefined, namespace: string, log: Logger): LimiterStore {
  const redis = redisUrl
    ? new Redis(redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      })
    : undefined;
  const counts = new SharedCounts(redis, `${namespace}:ratelimit:`, WINDOW_MS);
  let down = false;
  redis?.on('error', (err) => {
    if (!down)
      log.warn({ err: err.message }, 'redis unreachable: each web process limits on its own counts until it is back');
    down = true;
  });
  redis?.on('ready', () => {
    if (down) log.info('redis is back: rate limits are shared again');
    down = false;
  });
  return {
    options: {
      store: class {
        constructor() {
          return counts;
        }
      } as unknown as new () => CountStore,
    },
    close: async () => {
      counts.close();
      redis?.disconnect();
    },
  };
}

/** The client address as counted: IPv6 by /64, the block one subscriber usually holds. */
const addressOf = (req: FastifyRequest) => normalizeIP(req.ip);

/** Headers of a refusal: when to come back, and the limit that refused. */
function refuse(reply: FastifyReply, limit: number, ttlMs: number, message: (seconds: number) => string): never {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  reply
    .header('retry-after', seconds)
    .header('ratelimit-limit', limit)
    .header('ratelimit-remaining', 0)
    .header('ratelimit-reset', seconds);
  throw new LeashError('rate_limited', message(seconds));
}

type Count = (
  req: FastifyRequest,
) => Promise<{ isAllowed: boolean; remaining?: number; ttl?: number; isExceeded?: boolean }>;

/** Failed authentications per client address. An address that has used up its failures for the
 *  window is refused before its key is looked up, until the window passes. Which addresses are
 *  refused is remembered in this process: checking the shared count before every lookup would cost
 *  every keyed request a second Redis round trip. Another process learns it from that address's
 *  next failure there (counted over the limit, so refused with 429), so past the limit each process
 *  looks up only what was already in flight when it learned. */
export class AuthFailures {
  private readonly refusedUntil = new Map<string, number>();

  constructor(
    private readonly count: Count,
    private readonly limit: number,
  ) {}

  /** Throws 429 rate_limited if the request's address is refused for now. */
  refuseIfBlocked(req: FastifyRequest, reply: FastifyReply): void {
    if (this.refusedUntil.size === 0) return;
    const address = addressOf(req);
    const until = this.refusedUntil.get(address);
    if (until === undefined) return;
    const left = until - Date.now();
    if (left <= 0) {
      this.refusedUntil.delete(address);
      return;
    }
    this.refuseAddress(reply, left);
  }

  /** Counts a failed authentication. The failure that uses up the window's allowance still gets its
   *  own answer (401); the next request is refused. Throws 429 when the count was already over. */
  async record(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const r = await this.count(req);
    if (r.isAllowed || !r.ttl) return; // not counted (Redis away): fail open
    if (r.remaining === 0) this.remember(addressOf(req), Date.now() + r.ttl);
    if (r.isExceeded) this.refuseAddress(reply, r.ttl);
  }

  private refuseAddress(reply: FastifyReply, ttlMs: number): never {
    return refuse(
      reply,
      this.limit,
      ttlMs,
      (s) => `Too many failed authentications from your address; retry in ${s} s`,
    );
  }

  private remember(address: string, until: number) {
    // An expired entry goes when its address comes back, or in this sweep once there are many.
    if (this.refusedUntil.size >= 10_000)
      for (const [a, u] of this.refusedUntil) if (u <= Date.now()) this.refusedUntil.delete(a);
    this.refusedUntil.set(address, until);
  }
}

export interface RateLimits {
  /** Counts the authenticated request against its key, sets the RateLimit-* headers, and throws
   *  429 rate_limited past the key's limit. */
  perKey: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  failures: AuthFailures;
}

/** Registers the limiter (the auth hook calls it: src/http/auth.ts), and adds the 429 answer to the
 *  OpenAPI document of every keyed route. Call before any route is registered. */
export async function registerRateLimits(
  app: FastifyInstance,
  limits: Limits,
  store: LimiterStore,
): Promise<RateLimits> {
  app.addHook('onClose', store.close);
  await app.register(rateLimit, {
    global: false,
    timeWindow: WINDOW_MS,
    // One limiter, two counters: a key's requests once authenticated, an address's failures before.
    keyGenerator: (req) => (req.principal ? `key:${req.principal.keyId}` : `auth-failures:${addressOf(req)}`),
    max: (req) => (req.principal ? limits.perKeyPerMinute : limits.authFailuresPerMinute),
    enableDraftSpec: true,
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) =>
      new LeashError(
        'rate_limited',
        `This API key has made its ${ctx.max} requests for this minute; retry in ${Math.max(1, Math.ceil(ctx.ttl / 1000))} s`,
      ),
    ...store.options,
  });
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<number, unknown> | undefined;
    if ((route.config?.access ?? 'public') !== 'public' && response) response[429] ??= errorBody;
  });
  const failures = new AuthFailures(app.createRateLimit(), limits.authFailuresPerMinute);
  app.decorate('authFailures', failures);
  const perKey = app.rateLimit() as unknown as RateLimits['perKey'];
  return { perKey, failures };
}
