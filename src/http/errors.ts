// The one error handler: every failure leaves as `{error: {code, message, request_id}}` with the
// status from ERROR_STATUS. Validation failures name each bad field.
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Limits } from '../config.js';
import { isDatabaseUnavailable } from '../db/index.js';
import { ERROR_STATUS, LeashError, type ErrorCode, type FieldError } from '../errors.js';
import { messagePage, sendPage } from './pages/layout.js';

/** A value Postgres cannot store or read as its type: the request's fault, whatever slipped past
 *  validation (a malformed number or uuid, NUL, an invalid escape). */
export function isUnstorableValue(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '22P02' || code === '22P05' || code === '22021';
}

/** The same decisions, rendered for a person in a browser. */
function htmlError(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
    return sendPage(
      reply,
      403,
      messagePage('Please try again', 'This form has expired. Go back, reload the page, and answer again.'),
    );
  }
  if (err instanceof LeashError) return sendPage(reply, err.status, messagePage('Something is not right', err.message));
  if (hasZodFastifySchemaValidationErrors(err) || err.statusCode === 400 || isUnstorableValue(err)) {
    return sendPage(
      reply,
      400,
      messagePage('Something is not right', 'That request was not understood. Go back and try again.'),
    );
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err }, 'database unavailable');
    return sendPage(
      reply,
      503,
      messagePage('Please try again shortly', 'Leash cannot reach its database right now; nothing was changed.'),
    );
  }
  req.log.error({ err }, 'unhandled error');
  return sendPage(
    reply,
    500,
    messagePage('Something went wrong', 'Something went wrong on our side; it has been logged. Please try again.'),
  );
}

/** The error shape; `request_id` is the id on this request's log lines, so a user can quote it. */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string, fields?: FieldError[]) {
  return reply
    .code(ERROR_STATUS[code])
    .send({ error: { code, message, ...(fields ? { fields } : {}), request_id: reply.request.id } });
}

function fieldErrors(err: FastifyError): FieldError[] {
  const where = err.validationContext;
  const prefix =
    where === 'querystring' ? 'query.' : where === 'params' ? 'path.' : where === 'headers' ? 'header.' : '';
  const out: FieldError[] = [];
  for (const v of err.validation ?? []) {
    const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const keys = (v.params as { keys?: string[] } | undefined)?.keys;
    if (v.keyword === 'unrecognized_keys' && keys) {
      for (const k of keys) {
        // An empty key still needs a visible name: it is shown quoted.
        const name = k === '' ? '""' : k;
        out.push({ field: prefix + (path ? `${path}.${name}` : name), message: 'is not a known field' });
      }
      continue;
    }
    const field = prefix + (path || (where === 'body' ? 'body' : (where ?? '')));
    // The first problem with a field is the one to fix (a wrong type also fails its length check).
    if (!out.some((f) => f.field === field)) out.push({ field, message: v.message ?? 'is invalid' });
  }
  return out;
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (req.routeOptions.config?.html) return htmlError(err, req, reply);
  if (err instanceof LeashError) return sendError(reply, err.code, err.message, err.fields);
  if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
    return sendError(reply, 'forbidden', 'The form’s CSRF token is missing or invalid; reload the page and try again');
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const fields = fieldErrors(err);
    return sendError(reply, 'invalid_request', fields.map((f) => `${f.field}: ${f.message}`).join('; '), fields);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return sendError(reply, 'invalid_request', 'body: is not valid JSON', [
        { field: 'body', message: 'is not valid JSON' },
      ]);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // Closed after the answer: otherwise Node reads and discards the rest of the body, for as
      // long as the sender takes.
      reply.header('connection', 'close');
      return sendError(reply, 'payload_too_large', 'The request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 'unsupported_media_type', 'Send the body as application/json');
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return sendError(reply, 'invalid_request', `body: ${err.message}`, [{ field: 'body', message: err.message }]);
  }
  if (isUnstorableValue(err)) {
    return sendError(reply, 'invalid_request', 'A value in the request cannot be stored (malformed text or number)');
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err }, 'database unavailable');
    return sendError(reply, 'unavailable', 'Leash cannot reach its database right now; try again shortly');
  }
  req.log.error({ err }, 'unhandled error');
  return sendError(reply, 'internal_error', 'Something went wrong on our side; it has been logged');
}

/** This process's part of every request id: random, so ids of different processes differ (Fastify's
 *  default ids count from 1 in every process). */
const PROCESS_PART = randomBytes(4).toString('hex');
let requests = 0;

/** Unique across processes, so a request id quoted from an error body finds one log line: the
 *  process's random part and a count: random bytes, or a UUID's text, per request cost more CPU than
 *  the request's own work (bench/changes.md). */
export const newRequestId = () => `req_${PROCESS_PART}${(++requests).toString(16).padStart(12, '0')}`;

/** An answer written straight on the socket, which is then closed: for what Node or a deadline
 *  ends before Fastify can answer. */
export function closeWithError(socket: Socket, code: ErrorCode, message: string, requestId: string): void {
  if (socket.writable) {
    const status = ERROR_STATUS[code];
    const body = JSON.stringify({ error: { code, message, request_id: requestId } });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Errors Node raises on a connection before there is a request to answer: too slow, headers too
 *  large, or bytes that are not HTTP. Each gets a request id of its own, logged. */
export function clientErrorHandler(limits: Limits, log: FastifyBaseLogger) {
  const late = `The request did not arrive in time: headers within ${limits.headersTimeoutMs / 1000} s, the whole request within ${limits.requestTimeoutMs / 1000} s`;
  const answer = (err: Error & { code?: string }): [ErrorCode, string] => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return ['request_timeout', late];
    if (err.code === 'HPE_HEADER_OVERFLOW') return ['headers_too_large', 'The request headers are too large'];
    return ['invalid_request', 'That is not a well-formed HTTP request'];
  };
  return (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [code, message] = answer(err);
    const reqId = newRequestId();
    log.info(
      { request_id: reqId, remoteAddress: socket.remoteAddress, code },
      'connection closed before its request was read',
    );
    closeWithError(socket, code, message, reqId);
  };
}
