// Every error a user can see is one of these codes, and this map is the only place that gives it a
// status. The HTTP error handler renders `{error: {code, message}}`; chat adapters render the message.
export const ERROR_STATUS = {
  invalid_request: 400,
  channel_unavailable: 400,
  unauthorized: 401,
  forbidden: 403,
  self_approval: 403,
  not_an_approver: 403,
  AGENT_PAUSED_BY_OWNER: 403,
  AGENT_INACTIVE: 403,
  BLOCKED: 403,
  not_found: 404,
  graceful_timeout: 408,
  request_timeout: 408,
  already_paused: 409,
  not_paused: 409,
  not_running: 409,
  already_running: 409,
  already_finished: 409,
  not_pending: 409,
  already_voted: 409,
  name_taken: 409,
  identity_taken: 409,
  last_owner: 409,
  idempotency_key_reused: 409,
  idempotency_key_in_use: 409,
  RECIPIENT_INACTIVE: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  RECIPIENT_BACKLOGGED: 429,
  recipient_busy: 429,
  rate_limited: 429,
  too_many_waits: 429,
  headers_too_large: 431,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  field: string;
  message: string;
}

export class LeashError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldError[],
  ) {
    super(message);
    this.name = 'LeashError';
    this.status = ERROR_STATUS[code];
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new LeashError(code, message);
}

export function invalid(fields: FieldError[]): never {
  const message = fields.map((f) => (f.field ? `${f.field}: ${f.message}` : f.message)).join('; ');
  throw new LeashError('invalid_request', message, fields);
}

export function notFound(what: string): never {
  throw new LeashError('not_found', `${what} not found`);
}
