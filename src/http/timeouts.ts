// How long a client may take to send its request. Node's server bounds *receiving* a request, not
// answering it: `headersTimeout` (the headers) and `requestTimeout` (headers and body) stop counting
// once the request is in, so a long-poll (up to 60 s), a graceful stop's wait (up to 300 s) and a
// stream (after its upgrade) run as long as they need. test/timeouts.test.ts holds Node to that.
import type { ServerOptions } from 'node:http';
import type { Limits } from '../config.js';

export function serverTimeouts(limits: Limits): { requestTimeout: number; http: ServerOptions } {
  return {
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for late requests on this interval; its default (30 s) would let a slow client run
      // up to 30 s past its deadline. A fifth of the headers timeout, at most a second.
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.headersTimeoutMs / 5)),
    },
  };
}
