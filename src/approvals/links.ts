// Response-page links: /r/<token>, where the token names an approval (and, for one-click email
// links, an option) and carries an HMAC under LEASH_SECRET. Holding the link is the authority to
// answer (contract §3.1); it can decide only while the approval is pending, so it is single-use
// by construction, and it dies with the approval.
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAC_BYTES = 16;

export interface LinkTarget {
  approvalId: string;
  /** Index into options: the link pre-selects that option (the page still asks to confirm). */
  choice?: number;
}

function mac(secret: string, payload: Buffer): Buffer {
  return createHmac('sha256', secret).update('leash-response-link-v1').update(payload).digest().subarray(0, MAC_BYTES);
}

export function signLink(secret: string, target: LinkTarget): string {
  const id = Buffer.from(target.approvalId.replace(/-/g, ''), 'hex');
  const payload = target.choice === undefined ? id : Buffer.concat([id, Buffer.from([target.choice])]);
  return `${payload.toString('base64url')}.${mac(secret, payload).toString('base64url')}`;
}

/** The target of a genuine token, or undefined for anything forged, truncated or malformed. */
export function verifyLink(secret: string, token: string): LinkTarget | undefined {
  const m = /^([A-Za-z0-9_-]{22,24})\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!m) return undefined;
  const payload = Buffer.from(m[1]!, 'base64url');
  const given = Buffer.from(m[2]!, 'base64url');
  if ((payload.length !== 16 && payload.length !== 17) || given.length !== MAC_BYTES) return undefined;
  if (!timingSafeEqual(given, mac(secret, payload))) return undefined;
  const hex = payload.subarray(0, 16).toString('hex');
  const approvalId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return payload.length === 17 ? { approvalId, choice: payload[16]! } : { approvalId };
}

export function linkUrl(publicUrl: string, secret: string, target: LinkTarget): string {
  return `${publicUrl}/r/${signLink(secret, target)}`;
}
