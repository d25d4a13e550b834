// The session API's control routes: POST /v1/sessions/{session_id}/pause|resume|cancel →
// {"success": true, "message": "Session paused successfully"}; errors {"success": false, "error":
// <code such as already_paused>, "message"}. docs/compat.md maps each field.
import type { FastifyInstance } from 'fastify';
import { ctxFor } from '../auth/principal.js';
import type { Deps } from '../deps.js';
import { principalOf } from '../http/auth.js';
import { cancelSession, pauseSession, resumeSession } from '../sessions/sessions.js';
import { answerErrorsAs, type Shape } from './errors.js';

export const sessionErrors: Shape = (f) => ({
  success: false,
  error: f.code,
  message: f.code === 'not_found' ? 'Session not found' : f.message,
});

const VERBS = [
  { path: 'pause', act: pauseSession, done: 'paused' },
  { path: 'resume', act: resumeSession, done: 'resumed' },
  { path: 'cancel', act: cancelSession, done: 'cancelled' },
] as const;

export async function registerSessionCompat(app: FastifyInstance, deps: Deps): Promise<void> {
  answerErrorsAs(app, sessionErrors);
  for (const { path, act, done } of VERBS) {
    app.post<{ Params: { session_id: string } }>(
      `/v1/sessions/:session_id/${path}`,
      { config: { access: 'owner' }, schema: { hide: true } },
      async (req) => {
        const ctx = ctxFor(principalOf(req), 'api', `compat: POST /v1/sessions/{id}/${path}`);
        await act(deps.db, ctx, req.params.session_id);
        return { success: true, message: `Session ${done} successfully` };
      },
    );
  }
}
