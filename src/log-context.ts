// Every log line written while a request is handled names that request (contract §9), also the
// lines of the core, which logs through deps.log and knows nothing of requests: the HTTP server
// runs each request in an AsyncLocalStorage scope, and the process logger's mixin reads it.
import { AsyncLocalStorage } from 'node:async_hooks';

const requests = new AsyncLocalStorage<string>();
/** Marks Fastify's per-request loggers, which carry the id in their bindings already. */
export const BOUND = Symbol('request_id bound');

/** Runs `fn` (and everything it starts) as part of request `id`. */
export function inRequest<T>(id: string, fn: () => T): T {
  return requests.run(id, fn);
}

/** pino's mixin: the current request's id, unless the logger is bound to it. */
export function requestIdMixin(_obj: object, _level: number, logger: unknown): Record<string, string> {
  if ((logger as Record<symbol, unknown>)[BOUND]) return {};
  const id = requests.getStore();
  return id ? { request_id: id } : {};
}
