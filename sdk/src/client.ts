// The Leash client an agent holds: asking humans, its inbox and control events, sessions.
import { randomUUID } from 'node:crypto';
import { backoff, sleep } from './backoff.js';
import {
  approve,
  Approvals,
  ask,
  requireApproval,
  type ApprovalRequest,
  type AskOptions,
  type Decision,
} from './decisions.js';
import { isAbortError } from './errors.js';
import { ControlEvents, type ControlHandler } from './events.js';
import { Http, type FetchLike } from './http.js';
import { messages, type MessagesOptions, type StreamContext } from './messages.js';
import { Sessions } from './sessions.js';
import { StreamConnection } from './stream.js';
import type { Agent, ControlEventName, Message, SentMessage } from './types.js';

export interface LeashOptions {
  /** Default: env LEASH_URL, else http://localhost:3000. */
  baseUrl?: string;
  /** An agent key (`lsh_a_…`). Default: env LEASH_API_KEY. */
  apiKey?: string;
  /** Default: the global fetch (Node ≥ 20). */
  fetch?: FetchLike;
  /** Tries after the first for a call that failed for a passing reason (default 8). */
  retries?: number;
}

export class Leash {
  readonly baseUrl: string;
  readonly approvals: Approvals;
  readonly sessions: Sessions;
  private readonly http: Http;
  private readonly apiKey: string | undefined;
  private readonly events = new ControlEvents();
  private listening: AbortController | undefined;

  constructor(opts: LeashOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? process.env.LEASH_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
    this.apiKey = opts.apiKey ?? process.env.LEASH_API_KEY;
    this.http = new Http(this.baseUrl, this.apiKey, opts.fetch ?? ((url, init) => fetch(url, init)), opts.retries);
    this.approvals = new Approvals(this.http);
    this.sessions = new Sessions(this.http);
  }

  /** Asks a human and waits for the decision; `choice` is typed from `options`. */
  ask<const O extends readonly string[]>(opts: AskOptions<O>): Promise<Decision<O>> {
    return ask(this.approvals, opts);
  }

  /** Asks a yes/no question (the first option means yes; default Approve/Reject). */
  async approve(message: string, opts: Omit<ApprovalRequest, 'message'>): Promise<boolean> {
    return (await approve(this.approvals, message, opts)).approved;
  }

  /** Wraps fn: each call asks first and runs fn only when approved, else throws ApprovalDeniedError. */
  requireApproval<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    request: ApprovalRequest | ((...args: A) => ApprovalRequest),
  ): (...args: A) => Promise<Awaited<R>> {
    return requireApproval(this.approvals, fn, request);
  }

  /** The agent as Leash sees it: status, pause (mode, since, by, reason), backlog, presence. */
  me(): Promise<Agent> {
    return this.http.call<Agent>('/v1/agents/me', { idempotent: true });
  }

  /** Confirms a graceful stop (after `stop_requested`): the agent becomes inactive. */
  confirmStopped(): Promise<Agent> {
    return this.http.call<Agent>('/v1/agents/me/stopped', { method: 'POST' });
  }

  /** Sends a message to another agent (id or name); throws AgentPausedError while this agent is paused. */
  send<B = unknown>(to: string, body: B, opts: { idempotencyKey?: string } = {}): Promise<SentMessage> {
    return this.http.call<SentMessage>('/v1/messages', {
      method: 'POST',
      body: { to, body },
      idempotencyKey: opts.idempotencyKey ?? randomUUID(),
      idempotent: true,
    });
  }

  /** The inbox in seq order, live; each message is acked when the loop asks for the next one. */
  messages<B = unknown>(opts: MessagesOptions = {}): AsyncGenerator<Message<B>> {
    return messages(this.streamContext(), opts) as AsyncGenerator<Message<B>>;
  }

  /** Listens for a control event ('paused', 'unpaused', 'stop_requested', 'stopped', 'session_paused', …,
   *  or '*'). Opens a stream of its own for as long as a handler is registered; returns the remover. */
  on(event: ControlEventName | '*', handler: ControlHandler): () => void {
    this.events.on(event, handler);
    this.listen();
    return () => this.off(event, handler);
  }

  off(event: ControlEventName | '*', handler: ControlHandler): void {
    this.events.off(event, handler);
    if (this.events.size === 0) this.close();
  }

  /** Where a handler's error goes (default: console.error). */
  set onHandlerError(fn: (err: unknown) => void) {
    this.events.onHandlerError = fn;
  }

  /** Closes the control-event stream (messages() loops end with their own signal). */
  close(): void {
    this.listening?.abort();
    this.listening = undefined;
  }

  private streamContext(): StreamContext {
    return {
      http: this.http,
      apiKey: this.apiKey,
      streamUrl: `${this.baseUrl.replace(/^http/, 'ws')}/v1/stream`,
      hooks: { onReady: (agent) => this.events.observe(agent), onControl: (frame) => this.events.dispatch(frame) },
    };
  }

  /** The control-event stream: reconnects until closed; its message frames are left to messages(). */
  private listen(): void {
    if (this.listening) return;
    const controller = (this.listening = new AbortController());
    const { signal } = controller;
    const ctx = this.streamContext();
    const delay = backoff(250, 30_000);
    void (async () => {
      while (!signal.aborted) {
        try {
          const conn = await StreamConnection.open(ctx.streamUrl, ctx.apiKey, ctx.hooks, signal);
          delay.reset();
          try {
            while ((await conn.next(signal)).kind !== 'closed');
          } finally {
            conn.close();
          }
        } catch (err) {
          if (isAbortError(err)) return;
        }
        await sleep(delay.next(), signal).catch(() => {});
      }
    })();
  }
}
