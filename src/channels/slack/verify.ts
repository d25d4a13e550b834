// Slack's v0 request signature, checked before anything in the request is read: HMAC-SHA256 of
// `v0:<timestamp>:<raw body>` with the signing secret, and a timestamp within 5 minutes of now,
// either way (a stale request is a replay; a future one is forged or from a broken clock).
import { createHmac, timingSafeEqual } from 'node:crypto';

const WINDOW_S = 5 * 60;

/** Why the request is not from Slack, or undefined when it is. */
export function slackSignatureProblem(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  raw: Buffer,
  nowMs = Date.now(),
): string | undefined {
  const ts = headers['x-slack-request-timestamp'];
  const sig = headers['x-slack-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string') return 'missing Slack signature headers';
  if (!/^\d{1,12}$/.test(ts)) return 'malformed x-slack-request-timestamp';
  if (Math.abs(nowMs / 1000 - Number(ts)) > WINDOW_S)
    return 'x-slack-request-timestamp is more than 5 minutes from now';
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${ts}:`).update(raw).digest('hex')}`);
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad Slack signature';
  return undefined;
}
