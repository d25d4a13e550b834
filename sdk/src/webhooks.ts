// Standard Webhooks verification (https://www.standardwebhooks.com), for an agent's delivery_url
// and workspace webhook endpoints: HMAC-SHA256 over `id.timestamp.body` with the secret's bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookHeaders =
  Headers | Record<string, string | string[] | undefined> | { get(name: string): string | null };

export interface VerifyWebhookOptions {
  /** `whsec_…` (base64 after the prefix), as Leash returned it once. */
  secret: string;
  headers: WebhookHeaders;
  /** The raw body, exactly as received: parsing and re-serialising it changes the bytes. */
  body: string | Uint8Array;
  /** Accepted clock difference, in seconds (default 300: five minutes either way). */
  toleranceSeconds?: number;
  /** For tests: the time to check against, in ms. */
  now?: number;
}

/** What Leash POSTs: `{type, timestamp, data}` (for inbox messages, type "message"). */
export interface WebhookEvent<D = unknown> {
  type: string;
  timestamp: string;
  data: D;
}

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

/** Checks the signature and the timestamp, and returns the parsed event; throws
 *  WebhookVerificationError otherwise (so a forgotten check cannot pass silently). */
export function verifyWebhook<D = unknown>(opts: VerifyWebhookOptions): WebhookEvent<D> {
  const id = header(opts.headers, 'webhook-id');
  const timestamp = header(opts.headers, 'webhook-timestamp');
  const signatures = header(opts.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures)
    throw new WebhookVerificationError('missing webhook-id, -timestamp or -signature');
  checkTimestamp(timestamp, opts.now ?? Date.now(), opts.toleranceSeconds ?? 300);
  const body = typeof opts.body === 'string' ? opts.body : Buffer.from(opts.body).toString('utf8');
  const expected = createHmac('sha256', secretBytes(opts.secret)).update(`${id}.${timestamp}.${body}`).digest();
  // The header may carry several signatures (during a secret rotation): one valid v1 is enough.
  const valid = signatures.split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    if (version !== 'v1' || !sig) return false;
    const given = Buffer.from(sig, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid) throw new WebhookVerificationError('no valid signature');
  try {
    return JSON.parse(body) as WebhookEvent<D>;
  } catch {
    throw new WebhookVerificationError('the signed body is not JSON');
  }
}

function checkTimestamp(value: string, nowMs: number, tolerance: number): void {
  if (!/^\d+$/.test(value)) throw new WebhookVerificationError('webhook-timestamp is not a number of seconds');
  // Both ways: a timestamp far in the future is as suspect as an old one (a replay kept for later).
  if (Math.abs(nowMs / 1000 - Number(value)) > tolerance)
    throw new WebhookVerificationError('webhook-timestamp is too far from now');
}

function secretBytes(secret: string): Buffer {
  const bytes = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  if (bytes.length === 0) throw new WebhookVerificationError('the secret is empty');
  return bytes;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}
