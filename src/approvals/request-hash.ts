// `request_hash`: what exactly was asked, so that an agent (or an auditor) can hold a decision to
// the call it approved. sha256 over the RFC 8785 canonical JSON (JCS: keys sorted, no whitespace,
// numbers and strings as ECMAScript writes them) of these fields, as the approval returns them.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export interface HashedFields {
  agent_id: string | null;
  channel: string;
  recipient: string;
  message: string;
  options: string[];
  metadata: Record<string, unknown> | null;
  allow_text_response: boolean;
  timeout_default: string | null;
  /** ISO 8601 with milliseconds, as in the approval: "2026-12-02T02:40:00.000Z". */
  expires_at: string;
}

export function requestHash(fields: HashedFields): string {
  const { agent_id, channel, recipient, message, options, metadata, allow_text_response, timeout_default } = fields;
  const canonical = canonicalize({
    agent_id,
    channel,
    recipient,
    message,
    options,
    metadata,
    allow_text_response,
    timeout_default,
    expires_at: fields.expires_at,
  })!;
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
