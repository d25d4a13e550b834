// The chat webhooks (Slack, Telegram, Twilio) are open to anyone until their body has been read and
// its signature checked, so their bodies are bounded more tightly than the API's (1 MiB, within the
// request timeout): a size from what each vendor can send, and a short deadline for the body to
// arrive once the headers are in. A vendor sends its small body at once, from a data centre.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { Limits } from '../config.js';
import { closeWithError } from './errors.js';

/** Per route, the largest body accepted; the reasoning is the vendor's documented maxima. */
export const WEBHOOK_BODY_LIMITS: Readonly<Record<string, number>> = {
  // A slash command's text is capped by Slack's 40,000-character message limit: at most 480 KB
  // form-encoded even if every character were a 4-byte one with each byte percent-encoded.
  // Interactions carry Leash's own message (a question of at most 2,000 characters, 2 to 5 options)
  // or its note modal, far less.
  '/slack/events': 512 * 1024,
  // An update carries one message (text at most 4,096 characters, a caption 1,024) and the one it
  // replies to; even \u-escaped at 6 bytes a UTF-16 unit, two texts and their entities stay under
  // 100 KB.
  '/telegram/webhook': 256 * 1024,
  // An SMS Body is at most 1,600 characters (under 20 KB form-encoded at the worst) plus a few dozen
  // short parameters (sids, numbers, geography, media URLs).
  '/sms/twilio': 64 * 1024,
};

/** The body deadline of a request in flight, cleared once its body is read or it is answered. */
const deadlines = new WeakMap<object, NodeJS.Timeout>();

/** Cuts the connection if the body has not fully arrived `ms` after the headers. */
function bodyDeadline(ms: number): onRequestHookHandler {
  return (req, reply, done) => {
    const timer = setTimeout(() => {
      if (req.raw.complete) return;
      const socket = req.raw.socket;
      req.log.info('webhook body not received in time; connection closed');
      if (reply.raw.headersSent) socket.destroy();
      else
        closeWithError(
          socket,
          'request_timeout',
          `A webhook body must arrive within ${ms / 1000} s of its headers`,
          req.id,
        );
    }, ms);
    deadlines.set(req, timer);
    req.raw.once('close', () => clearTimeout(timer));
    done();
  };
}

/** The body is in (Fastify validates only what it has parsed), or the request was answered. */
const bodyIn = async (req: object) => clearTimeout(deadlines.get(req));

/** Call before the chat routes are registered. */
export function registerWebhookBodyBounds(app: FastifyInstance, limits: Limits): void {
  const deadline = bodyDeadline(limits.webhookBodyTimeoutMs);
  app.addHook('onRoute', (route) => {
    const limit = route.method === 'POST' ? WEBHOOK_BODY_LIMITS[route.url] : undefined;
    if (limit === undefined) return;
    route.bodyLimit = limit;
    // First, so the deadline runs even for a request the route's own hook answers early.
    route.onRequest = [deadline, ...[route.onRequest ?? []].flat()];
    route.preValidation = [bodyIn, ...[route.preValidation ?? []].flat()];
    route.onResponse = [bodyIn, ...[route.onResponse ?? []].flat()];
  });
}
