// One HTTP call to Leash, with the retries every call shares: a network error or a 5xx is tried
// again (only when sending it twice is safe), a 429 rate_limited or too_many_waits is waited out
// for its Retry-After (the server did nothing, so that is always safe).
import { backoff, sleep } from './backoff.js';
import { abortError, errorFromResponse, isAbortError, LeashError, NetworkError } from './errors.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** Safe to send again after a network error or 5xx: reads, creates under an Idempotency-Key, acks. */
  idempotent?: boolean;
  /** Tries after the first one; `Infinity` while a human is being waited on. */
  retries?: number;
}

/** Codes that mean "not now": nothing was done, try again after Retry-After. */
const WAIT_CODES = new Set(['rate_limited', 'too_many_waits']);
const VERSION = '0.1.0';

type Attempt<T> = { done: true; value: T } | { done: false; error: LeashError; waitMs: number | null };

export class Http {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly fetchImpl: FetchLike,
    private readonly defaultRetries = 8,
  ) {}

  async call<T>(path: string, opts: CallOptions = {}): Promise<T> {
    const delay = backoff();
    const retries = opts.retries ?? this.defaultRetries;
    for (let attempt = 0; ; attempt++) {
      const result = await this.attempt<T>(path, opts);
      if (result.done) return result.value;
      if (result.waitMs === null || attempt >= retries) throw result.error;
      // A server-given Retry-After is honoured as is (plus a little jitter); otherwise back off.
      const ms = result.error.retryAfter !== null ? result.waitMs + Math.random() * 250 : delay.next();
      await sleep(ms, opts.signal);
    }
  }

  private async attempt<T>(path: string, opts: CallOptions): Promise<Attempt<T>> {
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(this.url(path, opts.query), this.init(opts));
      // Read inside the try: a connection cut mid-answer is a network error like any other.
      text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted || isAbortError(err)) throw abortError(opts.signal);
      const error = new NetworkError(`could not reach Leash at ${this.baseUrl}: ${describe(err)}`, err);
      return { done: false, error, waitMs: opts.idempotent ? 0 : null };
    }
    const body = parseJson(text);
    if (res.ok) return { done: true, value: body as T };
    const error = errorFromResponse(res.status, res.headers, body);
    return { done: false, error, waitMs: retryWait(error, opts.idempotent === true) };
  }

  private url(path: string, query: CallOptions['query']): string {
    const url = new URL(this.baseUrl.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  private init(opts: CallOptions): RequestInit {
    const method = opts.method ?? 'GET';
    const headers: Record<string, string> = { 'user-agent': `leash-sdk/${VERSION}`, accept: 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    const init: RequestInit = { method, headers };
    // The API reads bodies as JSON only, and an empty POST as {}; sending {} keeps both true.
    if (method !== 'GET' && method !== 'DELETE') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(opts.body ?? {});
    }
    if (opts.signal) init.signal = opts.signal;
    return init;
  }
}

/** How long to wait before trying again, or null when the error is final. */
function retryWait(error: LeashError, idempotent: boolean): number | null {
  if (WAIT_CODES.has(error.code)) return (error.retryAfter ?? 1) * 1000;
  // The same key is still being answered (a retry overtook its first try): wait for it.
  if (error.code === 'idempotency_key_in_use' && idempotent) return 0;
  if (error.status >= 500 && idempotent) return (error.retryAfter ?? 0) * 1000;
  return null;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // A proxy's HTML error page: the status still says what happened.
    return null;
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
