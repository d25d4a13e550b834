// Every refusal from Leash becomes a LeashError carrying the API's own code; the codes an agent
// is expected to handle get their own class, so `catch (e) { if (e instanceof AgentPausedError) … }`.

/** What the API answers on a refusal: `{error: {code, message, fields?, request_id}}`. */
export interface ErrorBody {
  error: { code: string; message: string; fields?: { field: string; message: string }[]; request_id: string };
}

export class LeashError extends Error {
  override name = 'LeashError';
  constructor(
    /** The HTTP status (0 when no answer came, see NetworkError). */
    readonly status: number,
    readonly code: string,
    message: string,
    /** The server's request id: quote it when reporting a problem. */
    readonly requestId: string | null = null,
    readonly fields: { field: string; message: string }[] = [],
    /** Seconds the server asked to wait (`Retry-After`), when it said. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

/** 403 AGENT_PAUSED_BY_OWNER: the owner paused this agent; it may not ask or send until unpaused. */
export class AgentPausedError extends LeashError {
  override name = 'AgentPausedError';
}
/** 403 AGENT_INACTIVE: the agent is stopping or stopped. */
export class AgentInactiveError extends LeashError {
  override name = 'AgentInactiveError';
}
/** 429 RECIPIENT_BACKLOGGED: the recipient holds too many undelivered messages. */
export class RecipientBackloggedError extends LeashError {
  override name = 'RecipientBackloggedError';
}
/** 409 RECIPIENT_INACTIVE: the recipient is stopping or stopped. */
export class RecipientInactiveError extends LeashError {
  override name = 'RecipientInactiveError';
}
/** 403 BLOCKED: the recipient has blocked this agent. */
export class BlockedError extends LeashError {
  override name = 'BlockedError';
}
/** 404 not_found (also another workspace's resources: the API never tells them apart). */
export class NotFoundError extends LeashError {
  override name = 'NotFoundError';
}
/** 429 rate_limited: thrown only when retries are used up (the client waits these out first). */
export class RateLimitedError extends LeashError {
  override name = 'RateLimitedError';
}

/** No answer at all (connection refused or reset, DNS): status 0, code `network_error`. */
export class NetworkError extends LeashError {
  override name = 'NetworkError';
  constructor(message: string, cause: unknown) {
    super(0, 'network_error', message);
    this.cause = cause;
  }
}

const BY_CODE: Record<string, typeof LeashError> = {
  AGENT_PAUSED_BY_OWNER: AgentPausedError,
  AGENT_INACTIVE: AgentInactiveError,
  RECIPIENT_BACKLOGGED: RecipientBackloggedError,
  RECIPIENT_INACTIVE: RecipientInactiveError,
  BLOCKED: BlockedError,
  not_found: NotFoundError,
  rate_limited: RateLimitedError,
};

/** The error for an answer that is not a success, from its status, headers and parsed body. */
export function errorFromResponse(status: number, headers: Headers, body: unknown): LeashError {
  const e = (body as Partial<ErrorBody> | null)?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `Leash answered HTTP ${status}`;
  const requestId = e?.request_id ?? headers.get('x-request-id');
  const Class = BY_CODE[code] ?? LeashError;
  return new Class(status, code, message, requestId, e?.fields ?? [], retryAfterSeconds(headers));
}

function retryAfterSeconds(headers: Headers): number | null {
  const value = headers.get('retry-after');
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  // Retry-After may also be an HTTP date.
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/** What an aborted call rejects with: a DOMException named AbortError, as fetch does. */
export function abortError(signal?: AbortSignal): Error {
  const err = new DOMException('The operation was aborted', 'AbortError');
  if (signal?.reason !== undefined) Object.defineProperty(err, 'cause', { value: signal.reason });
  return err;
}

export function isAbortError(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'AbortError';
}
