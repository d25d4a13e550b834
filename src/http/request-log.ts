// Fastify's per-request logger: bound to the request's id as `request_id` (Fastify names it
// `reqId`), and marked so that the process logger's mixin (src/log-context.ts) does not name the
// request a second time.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';
import { BOUND } from '../log-context.js';

export function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  const { reqId, ...rest } = bindings;
  const child = logger.child({ request_id: reqId, ...rest }, opts);
  (child as unknown as Record<symbol, unknown>)[BOUND] = true;
  return child;
}
