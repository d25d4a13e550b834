// Outbound JSON POSTs under the SSRF guard; signedPost adds the Standard Webhooks signature
// (webhook-id, webhook-timestamp, webhook-signature) for webhook endpoints and delivery_urls. The
// id is the event's (or message's) id, so every retry carries the same webhook-id.
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { guardedDispatcher, targetProblem } from '../net/targets.js';

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface SignedPost {
  url: string;
  secret: string;
  id: string;
  body: string;
  allowPrivateUrls: boolean;
  timeoutMs?: number;
  /** The caller has just checked the target (targetProblem): the request starts in this call's
   *  first step, with nothing awaited before it (the drain's lease counts on that). */
  targetChecked?: boolean;
}

/** Signers by secret: making one decodes the secret, and a drain signs thousands with the same. */
const signers = new Map<string, Webhook>();
function signer(secret: string): Webhook {
  let w = signers.get(secret);
  if (!w) {
    if (signers.size >= 1_000) signers.clear();
    signers.set(secret, (w = new Webhook(secret)));
  }
  return w;
}

/** Resolves with the response status on 2xx; throws DeliveryError otherwise. */
export async function signedPost(p: SignedPost): Promise<number> {
  return postJson({
    ...p,
    headers: (timestamp) => ({
      'user-agent': 'Leash-Webhooks/1',
      'webhook-id': p.id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signer(p.secret).sign(p.id, timestamp, p.body),
    }),
  });
}

export interface JsonPost {
  url: string;
  body: string;
  allowPrivateUrls: boolean;
  timeoutMs?: number;
  targetChecked?: boolean;
  /** Extra headers, built at send time (a signature covers the moment of sending). */
  headers?: (timestamp: Date) => Record<string, string>;
}

/** A JSON POST to a URL from outside (a webhook, a delivery_url, a Slack incoming webhook), under
 *  the SSRF guard. Resolves with the status on 2xx; throws DeliveryError otherwise. */
export async function postJson(p: JsonPost): Promise<number> {
  // Checked again at send time: DNS may have changed since the URL was accepted.
  if (!p.targetChecked) {
    const problem = await targetProblem(p.url, p.allowPrivateUrls);
    if (problem) throw new DeliveryError(`refused target: ${problem}`);
  }
  let status: number;
  // A timer cleared as soon as the answer is in, not AbortSignal.timeout(): that one's timer lives
  // its full 10 s (a drain posting 1,500 messages a second kept ~15,000 of them alive, with their
  // weak references), and it costs twice as much to make.
  const ms = p.timeoutMs ?? 10_000;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${ms} ms`)), ms);
  try {
    // undici's request(), not fetch(): a fraction of the overhead per call, and it follows no redirects.
    const res = await request(p.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Leash/1', ...p.headers?.(new Date()) },
      body: p.body,
      signal: abort.signal,
      // The connection itself is pinned to public addresses (no DNS rebinding past the check above).
      ...(p.allowPrivateUrls ? {} : { dispatcher: guardedDispatcher() }),
    });
    status = res.statusCode;
    // The answer's body is not read; dumping it frees the connection for the next request.
    await res.body.dump().catch(() => {});
  } catch (err) {
    throw new DeliveryError(`request failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (status < 200 || status >= 300) throw new DeliveryError(`receiver answered ${status}`, status);
  return status;
}
