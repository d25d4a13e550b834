// Sessions: one task run of the agent, which the owner can pause, resume or cancel from anywhere.
import { randomUUID } from 'node:crypto';
import type { Http } from './http.js';
import type { Page, Session } from './types.js';

type SessionStatus = Session['status'];

export class Sessions {
  constructor(private readonly http: Http) {}

  start(opts: { task?: string; metadata?: Record<string, unknown>; idempotencyKey?: string } = {}): Promise<Session> {
    const { idempotencyKey, ...body } = opts;
    return this.http.call<Session>('/v1/sessions', {
      method: 'POST',
      body,
      idempotencyKey: idempotencyKey ?? randomUUID(),
      idempotent: true,
    });
  }

  get(id: string): Promise<Session> {
    return this.http.call<Session>(`/v1/sessions/${encodeURIComponent(id)}`, { idempotent: true });
  }

  list(query: { status?: SessionStatus; cursor?: string; limit?: number } = {}): Promise<Page<Session>> {
    return this.http.call<Page<Session>>('/v1/sessions', { query, idempotent: true });
  }

  /** `409 already_paused` if paused, `409 already_finished` once cancelled or completed. */
  pause(id: string): Promise<Session> {
    return this.control(id, 'pause');
  }

  /** `409 not_paused` unless paused. */
  resume(id: string): Promise<Session> {
    return this.control(id, 'resume');
  }

  cancel(id: string): Promise<Session> {
    return this.control(id, 'cancel');
  }

  /** The agent's own end of a session (`409 already_finished` if it was cancelled). */
  complete(id: string): Promise<Session> {
    return this.control(id, 'complete');
  }

  private control(id: string, action: 'pause' | 'resume' | 'cancel' | 'complete'): Promise<Session> {
    return this.http.call<Session>(`/v1/sessions/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
  }
}
