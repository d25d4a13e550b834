// POST /slack/events: the one request URL for slash commands, interactions and events. The raw body
// is kept for the v0 signature, which is checked before anything is parsed; a request already
// handled (same event_id, or the same signed request replayed) is acknowledged and ignored. Then
// it goes to the Bolt app through a receiver whose ack() answers this HTTP request. A failure
// before the ack that may pass (the database away) is answered 503 and forgotten; a bad request
// is answered 200 and stays handled (handleOnce, src/chat/dedupe.ts).
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createHash } from 'node:crypto';
import { handleOnce } from '../../chat/dedupe.js';
import type { Deps } from '../../deps.js';
import { sendError } from '../../http/errors.js';
import { createSlackApp } from './app.js';
import { slackKey, slackUnavailable } from './inbound.js';
import { startSocketMode } from './socket-mode.js';
import { slackSignatureProblem } from './verify.js';

/** Slack gives up after 3 s; we answer before that even if a listener forgot to ack. */
const ACK_DEADLINE_MS = 2_500;

/** Bolt's side of the receiver: it hands us the app, and we call processEvent per request. */
class FastifyReceiver implements Receiver {
  app: App | undefined;
  init(app: App) {
    this.app = app;
  }
  async start() {}
  async stop() {}
}

function parse(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (contentType?.startsWith('application/json')) return JSON.parse(text);
  const form = Object.fromEntries(new URLSearchParams(text));
  // Interactions arrive as a form with one field, `payload`, holding JSON.
  return typeof form.payload === 'string' ? JSON.parse(form.payload) : form;
}

export async function registerSlackEvents(root: FastifyInstance, deps: Deps): Promise<void> {
  if (deps.config.slack.appToken && deps.config.slack.botToken) {
    const stop = await startSocketMode(deps);
    root.addHook('onClose', stop);
  }
  const secret = deps.config.slack.signingSecret;
  // Without a bot token nothing could answer: the channel is simply off.
  if (!secret || !deps.config.slack.botToken) return;
  const receiver = new FastifyReceiver();
  createSlackApp(deps, receiver);

  await root.register(async (app) => {
    // This scope reads bodies as bytes: the signature covers them exactly as sent.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.post('/slack/events', { schema: { hide: true }, config: { access: 'public' } }, async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const problem = slackSignatureProblem(secret, req.headers, raw);
      if (problem) return sendError(reply, 'unauthorized', problem);
      let body: Record<string, unknown>;
      try {
        body = parse(raw, req.headers['content-type']);
      } catch {
        return sendError(reply, 'invalid_request', 'Slack sent a body that is not a form or JSON');
      }
      // Signed, yet not an object (JSON null, a list): nothing Slack sends; refused, not a 500.
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return sendError(reply, 'invalid_request', 'Slack sent a body that is not an object');
      if (body.type === 'url_verification') return reply.send({ challenge: body.challenge });
      // An Events API retry carries the first copy's event_id: handled once, whichever copy comes
      // first. Commands and interactions are never retried by Slack; the same signed request again
      // is a replay.
      const key = slackKey(
        body,
        `sig:${createHash('sha256').update(String(req.headers['x-slack-signature'])).digest('hex')}`,
      );
      return dispatch(receiver, body, key, req.headers['x-slack-retry-num'], reply, deps);
    });
  });
}

async function dispatch(
  receiver: FastifyReceiver,
  body: Record<string, unknown>,
  key: string,
  retryNum: unknown,
  reply: FastifyReply,
  deps: Deps,
) {
  let answered: (value: unknown) => void = () => {};
  const acked = new Promise<unknown>((resolve) => (answered = resolve));
  const event: ReceiverEvent = {
    body,
    ack: async (response) => answered(response ?? ''),
    ...(typeof retryNum === 'string' ? { retryNum: Number(retryNum) } : {}),
  };
  // Listeners go on after ack(): the answer is sent as soon as they ack, and what becomes of the
  // rest is only logged.
  const outcome = handleOnce(
    deps,
    {
      source: 'slack',
      key,
      what: `slack ${String(body.type ?? body.command ?? 'request')}`,
      vendorUnavailable: slackUnavailable,
    },
    () => receiver.app!.processEvent(event),
  );
  const timer = setTimeout(() => answered(''), ACK_DEADLINE_MS);
  const first = await Promise.race([acked.then((response) => ({ response })), outcome.then((done) => ({ done }))]);
  clearTimeout(timer);
  if ('done' in first) {
    if (first.done === 'retry')
      return sendError(reply, 'unavailable', 'Leash could not handle this request for now; send it again');
    return reply.code(200).send('');
  }
  const { response } = first;
  if (response === '' || response === undefined) return reply.code(200).send('');
  if (typeof response === 'string') return reply.code(200).type('text/plain').send(response);
  return reply.code(200).send(response);
}
