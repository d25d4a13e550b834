// Text helpers shared by the channels' renderers (Slack mrkdwn and Telegram HTML both escape
// &, < and >; both have length limits; all show the same metadata).
import type { Db } from '../db/index.js';
import type { ApprovalRow } from '../db/schema.js';

export const escapeMarkup = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Escaped text cut to `max` characters (with …), never inside an entity. */
export const clip = (escaped: string, max: number) =>
  escaped.length <= max ? escaped : `${escaped.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;

/** The approval's metadata fields that read well as text (scalars), the first `most` of them. */
export function scalarMetadata(row: Pick<ApprovalRow, 'metadata'>, most: number): [string, string][] {
  if (!row.metadata || typeof row.metadata !== 'object') return [];
  return Object.entries(row.metadata as Record<string, unknown>)
    .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
    .slice(0, most)
    .map(([k, v]) => [k, String(v)]);
}

/** Who asked an approval, by agent name (undefined when a member asked). */
export async function askerName(db: Db, row: Pick<ApprovalRow, 'agent_id'>): Promise<string | undefined> {
  if (!row.agent_id) return undefined;
  return (await db.selectFrom('agents').select('name').where('id', '=', row.agent_id).executeTakeFirst())?.name;
}
