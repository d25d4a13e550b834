// A notice travels in the redirect's query string, signed, so nobody can put words on our pages
// with a crafted link.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHmac } from 'node:crypto';
import type { Frame } from './views.js';

type Kind = 'notice' | 'error';

const sign = (secret: string, kind: Kind, text: string) =>
  createHmac('sha256', secret).update(`dashboard-notice ${kind} ${text}`).digest('base64url').slice(0, 22);

/** The notice a redirect carried, if its signature holds. */
export function noticeOf(secret: string, req: FastifyRequest): Frame['notice'] {
  const q = req.query as { notice?: string; error?: string; sig?: string };
  const kind = q.error !== undefined ? 'error' : 'notice';
  const text = q.error ?? q.notice;
  if (!text || !q.sig || q.sig !== sign(secret, kind, text)) return undefined;
  return { text: text.slice(0, 300), error: kind === 'error' };
}

/** Post/redirect/get: back to `to`, with `text` shown there. */
export function back(reply: FastifyReply, secret: string, to: string, key: Kind, text: string) {
  return reply
    .code(303)
    .header('location', `${to}?${key}=${encodeURIComponent(text)}&sig=${sign(secret, key, text)}`)
    .send();
}
