// Asking a human: create the approval once (under one Idempotency-Key, however often the request
// has to be sent), then long-poll until it is decided, timed out or cancelled.
import { randomUUID } from 'node:crypto';
import { backoff, sleep } from './backoff.js';
import { parseDuration } from './duration.js';
import { abortError, isAbortError, LeashError } from './errors.js';
import type { Http } from './http.js';
import type { Approval, ApprovalStatus, Channel, Page, PauseRequestBody, Responder } from './types.js';

export interface AskOptions<O extends readonly string[] = readonly string[]> {
  message: string;
  /** 2–5 distinct options; the decision's `choice` is typed from them. */
  options: O;
  /** Default `web`: nobody is notified, the question is answered on its response page or the API. */
  channel?: Channel;
  /** Who answers: a phone (sms), an address (email), a channel/user id (slack), a chat id (telegram),
   *  an email or member id (web). The server requires it and the contract gives it no default. */
  recipient: string;
  /** Seconds, or "90s", "15m", "4h", "2d". The server's default is 24 hours. */
  timeout?: number | string;
  /** The choice taken when the timeout passes; without one a timeout decides `null`. */
  default?: O[number];
  metadata?: Record<string, unknown>;
  /** Let the human add a note (`text` of the decision). */
  allowText?: boolean;
  /** Only these members (ids or emails) may decide. Sent only when given. */
  approvers?: string[];
  /** How many distinct deciders must choose the first option. Sent only when given. */
  approvalsRequired?: number;
  /** Still pending that long after the ask, the question is also sent there (at most 3 steps,
   *  each before the timeout). Sent only when given. */
  escalation?: { after: number | string; channel: Channel; recipient: string }[];
  /** Still pending that long after the ask, one reminder to the same recipient. Sent only when given. */
  remindAfter?: number | string;
  /** Generated when absent; every retry of this ask sends the same one, so it never asks twice. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** On abort, also cancel the approval on the server (otherwise it stays pending for the human). */
  cancelOnAbort?: boolean;
}

export interface Decision<O extends readonly string[] = readonly string[]> {
  id: string;
  status: Exclude<ApprovalStatus, 'pending'>;
  /** The option chosen (or the timeout's default); null for a timeout without default, or a cancel. */
  choice: O[number] | null;
  text: string | null;
  responder: Responder | null;
  viaTimeout: boolean;
  /** The approval object as the API returned it. */
  approval: Approval;
}

/** What `approve` and `requireApproval` take: an ask whose options default to Approve/Reject. */
export type ApprovalRequest = Omit<AskOptions, 'options' | 'default'> & {
  options?: readonly string[];
  default?: string;
};

export const DEFAULT_APPROVAL_OPTIONS = ['Approve', 'Reject'] as const;

/** Thrown by a function wrapped with `requireApproval` when the human did not choose the first option. */
export class ApprovalDeniedError extends Error {
  override name = 'ApprovalDeniedError';
  constructor(readonly decision: Decision) {
    const who = decision.responder ? ` by ${decision.responder.display}` : '';
    super(`Not approved: ${decision.choice ?? decision.status}${who}${decision.text ? `: ${decision.text}` : ''}`);
  }
}

/** Long-polls last at most this long each (the API allows 60 s; shorter ones notice a dead peer sooner). */
const WAIT_SECONDS = 30;
/** After the deadline the server settles a timeout within a minute: stop retrying well after. */
const GIVE_UP_AFTER_EXPIRY_MS = 5 * 60_000;
/** Retries inside one request before the outer wait loop looks at the deadline again. */
const CALL_RETRIES = 12;

export function pauseBody(opts: AskOptions): PauseRequestBody {
  const body: PauseRequestBody = {
    recipient: opts.recipient,
    channel: opts.channel ?? 'web',
    message: opts.message,
    options: [...opts.options],
  };
  if (opts.allowText !== undefined) body.allow_text_response = opts.allowText;
  if (opts.timeout !== undefined) body.timeout_seconds = parseDuration(opts.timeout);
  if (opts.default !== undefined) body.timeout_default = opts.default;
  if (opts.metadata !== undefined) body.metadata = opts.metadata;
  if (opts.approvers !== undefined) body.approvers = opts.approvers;
  if (opts.approvalsRequired !== undefined) body.approvals_required = opts.approvalsRequired;
  if (opts.escalation !== undefined) {
    body.escalation = opts.escalation.map((s) => ({
      after_seconds: parseDuration(s.after),
      channel: s.channel,
      recipient: s.recipient,
    }));
  }
  if (opts.remindAfter !== undefined) body.remind_after_seconds = parseDuration(opts.remindAfter);
  return body;
}

export function toDecision<O extends readonly string[]>(a: Approval): Decision<O> {
  if (a.status === 'pending') throw new TypeError(`approval ${a.pause_id} is still pending`);
  return {
    id: a.pause_id,
    status: a.status,
    choice: a.response_choice as O[number] | null,
    text: a.response_text,
    responder: a.responder,
    viaTimeout: a.via_timeout,
    approval: a,
  };
}

export class Approvals {
  constructor(private readonly http: Http) {}

  /** Creates an approval and returns it at once (pending). Retried safely under its Idempotency-Key. */
  create(opts: Omit<AskOptions, 'cancelOnAbort'>): Promise<Approval> {
    return this.http.call<Approval>('/v1/pause', {
      method: 'POST',
      body: pauseBody(opts),
      idempotencyKey: opts.idempotencyKey ?? randomUUID(),
      idempotent: true,
      retries: CALL_RETRIES,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** One read; with `wait` (0–60 s) it returns as soon as the approval leaves pending. */
  get(id: string, opts: { wait?: number; signal?: AbortSignal } = {}): Promise<Approval> {
    return this.http.call<Approval>(`/v1/pause/${encodeURIComponent(id)}`, {
      query: { wait: opts.wait },
      idempotent: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** Long-polls until the approval is settled, through network errors and server restarts. */
  async wait(id: string, opts: { signal?: AbortSignal } = {}): Promise<Approval> {
    return this.settle(await this.getPatiently(id, 0, opts.signal, null), opts.signal);
  }

  /** Long-polls from an approval already read until it is settled. */
  async settle(current: Approval, signal?: AbortSignal): Promise<Approval> {
    while (current.status === 'pending')
      current = await this.getPatiently(current.pause_id, waitFor(current), signal, current);
    return current;
  }

  /** Cancels a pending approval (`409 not_pending` once it is settled). */
  cancel(id: string): Promise<Approval> {
    return this.http.call<Approval>(`/v1/pause/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  list(query: { status?: ApprovalStatus; agentId?: string; cursor?: string; limit?: number } = {}) {
    const { agentId, ...rest } = query;
    return this.http.call<Page<Approval>>('/v1/pause', { query: { ...rest, agent_id: agentId }, idempotent: true });
  }

  /** A read that outlasts an outage until well past the approval's deadline. */
  private async getPatiently(id: string, wait: number, signal: AbortSignal | undefined, last: Approval | null) {
    const delay = backoff(500, 10_000);
    for (;;) {
      try {
        return await this.http.call<Approval>(`/v1/pause/${encodeURIComponent(id)}`, {
          query: { wait },
          idempotent: true,
          retries: CALL_RETRIES,
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if (!retryable(err) || pastHope(last)) throw err;
        await sleep(delay.next(), signal);
      }
    }
  }
}

function retryable(err: unknown): boolean {
  return err instanceof LeashError && (err.status === 0 || err.status >= 500);
}

function pastHope(last: Approval | null): boolean {
  return last !== null && Date.now() > Date.parse(last.expires_at) + GIVE_UP_AFTER_EXPIRY_MS;
}

/** Seconds to long-poll: up to just past the deadline, so a server with no worker settles it on the read. */
function waitFor(a: Approval): number {
  const left = Math.ceil((Date.parse(a.expires_at) - Date.now()) / 1000) + 1;
  return Math.min(WAIT_SECONDS, Math.max(1, left));
}

/** ask(): create, wait, and on abort optionally cancel. */
export async function ask<O extends readonly string[]>(
  approvals: Approvals,
  opts: AskOptions<O>,
): Promise<Decision<O>> {
  const { signal, cancelOnAbort } = opts;
  if (signal?.aborted) throw abortError(signal);
  const key = opts.idempotencyKey ?? randomUUID();
  // With cancelOnAbort the create is never cut short: the id is needed to cancel it.
  const { signal: _dropped, ...unsignalled } = opts;
  const created = await approvals.create({ ...(cancelOnAbort ? unsignalled : opts), idempotencyKey: key });
  try {
    if (signal?.aborted) throw abortError(signal);
    return toDecision<O>(await approvals.settle(created, signal));
  } catch (err) {
    if (cancelOnAbort && isAbortError(err)) await cancelQuietly(approvals, created.pause_id, err as Error);
    throw err;
  }
}

/** A cancel on abort: a decision that beat it (`not_pending`) is fine; another failure is kept on the error. */
async function cancelQuietly(approvals: Approvals, id: string, abort: Error): Promise<void> {
  try {
    await approvals.cancel(id);
  } catch (err) {
    if (err instanceof LeashError && err.code === 'not_pending') return;
    Object.defineProperty(abort, 'cancelError', { value: err, enumerable: true });
  }
}

export async function approve(approvals: Approvals, message: string, req: Omit<ApprovalRequest, 'message'>) {
  const options = req.options ?? DEFAULT_APPROVAL_OPTIONS;
  const decision = await ask(approvals, { ...req, message, options });
  return { approved: decision.choice === options[0], decision };
}

/** Wraps fn so that each call first asks; it runs only when the first option is chosen. */
export function requireApproval<A extends unknown[], R>(
  approvals: Approvals,
  fn: (...args: A) => R | Promise<R>,
  request: ApprovalRequest | ((...args: A) => ApprovalRequest),
): (...args: A) => Promise<Awaited<R>> {
  return async (...args: A): Promise<Awaited<R>> => {
    const { message, ...rest } = typeof request === 'function' ? request(...args) : request;
    const { approved, decision } = await approve(approvals, message, rest);
    if (!approved) throw new ApprovalDeniedError(decision);
    return (await fn(...args)) as Awaited<R>;
  };
}
