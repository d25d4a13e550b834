// Each seed API answers errors in its own shape. A compatibility plugin renders every failure —
// Leash's own (not found, forbidden, a refused transition), the auth hook's and the rate limiter's —
// through its API's shape, with the status Leash would give.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from '../db/index.js';
import { ERROR_STATUS, LeashError, type ErrorCode } from '../errors.js';
import { isUnstorableValue } from '../http/errors.js';

export interface Failure {
  status: number;
  /** Leash's code (`not_found`, `already_paused`, …), or `internal` for what Leash did not foresee. */
  code: ErrorCode | 'internal';
  message: string;
}

export function failureOf(err: FastifyError | LeashError): Failure {
  if (err instanceof LeashError) return { status: ERROR_STATUS[err.code], code: err.code, message: err.message };
  if (isUnstorableValue(err)) return { status: 400, code: 'invalid_request', message: 'A value cannot be stored' };
  if (isDatabaseUnavailable(err)) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'Leash cannot reach its database right now; try again shortly',
    };
  }
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
  if (status === 429) return { status, code: 'rate_limited', message: err.message };
  if (status < 500) return { status, code: 'invalid_request', message: err.message };
  return { status, code: 'internal', message: 'Something went wrong on our side' };
}

export type Shape = (f: Failure) => unknown;

/** Renders this plugin's errors as `shape` says. */
export function answerErrorsAs(app: FastifyInstance, shape: Shape): void {
  app.setErrorHandler((err: FastifyError, req, reply: FastifyReply) => {
    const failure = failureOf(err);
    if (failure.status >= 500) req.log.error({ err }, 'compatibility route failed');
    return reply.code(failure.status).send(shape(failure));
  });
}

export const notFound: Failure = { status: 404, code: 'not_found', message: 'Not found' };
