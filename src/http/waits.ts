// Long-polls (`?wait` > 0) and WebSocket streams hold a connection, a listener on the process's
// Postgres notifier and some memory for as long as they are open: up to 60 s, or for ever. They are
// capped per API key (one leaked or looping client cannot take a process's sockets) and in all (the
// process stays within its file descriptors and memory). Counted per process: a deployment with n
// web processes admits n times the figures.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Limits } from '../config.js';
import { fail } from '../errors.js';
import { principalOf } from './auth.js';

/** A wait ends within a minute (long-polls) or is a stream that may never end: come back soon. */
const RETRY_AFTER_S = 5;

declare module 'fastify' {
  interface FastifyInstance {
    waits: OpenWaits;
  }
}

export class OpenWaits {
  private readonly byKey = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<Limits, 'waitsPerKey' | 'waitsPerProcess'>) {}

  /** Waits open now in this process. */
  get size(): number {
    return this.total;
  }

  /** Admits one more wait for the request's key, or throws (429 too_many_waits for the key, 503
   *  unavailable for the process). Call the returned function when the wait ends; more calls are no-ops. */
  admit(req: FastifyRequest, reply: FastifyReply): () => void {
    const keyId = principalOf(req).keyId;
    const held = this.byKey.get(keyId) ?? 0;
    if (held >= this.limits.waitsPerKey) {
      reply.header('retry-after', RETRY_AFTER_S);
      fail(
        'too_many_waits',
        `This API key already has ${held} long-polls and streams open here, the most one key may; close one, or retry in ${RETRY_AFTER_S} s`,
      );
    }
    if (this.total >= this.limits.waitsPerProcess) {
      reply.header('retry-after', RETRY_AFTER_S);
      fail('unavailable', `This server holds as many long-polls and streams as it may; retry in ${RETRY_AFTER_S} s`);
    }
    this.byKey.set(keyId, held + 1);
    this.total++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.total--;
      const left = this.byKey.get(keyId)! - 1;
      if (left === 0) this.byKey.delete(keyId);
      else this.byKey.set(keyId, left);
    };
  }

  /** Runs a long-poll as one admitted wait. */
  async during<T>(req: FastifyRequest, reply: FastifyReply, wait: () => Promise<T>): Promise<T> {
    const end = this.admit(req, reply);
    try {
      return await wait();
    } finally {
      end();
    }
  }
}

export function registerWaits(app: FastifyInstance, limits: Limits): void {
  app.decorate('waits', new OpenWaits(limits));
}
