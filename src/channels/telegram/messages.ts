// What an approval looks like in Telegram (HTML parse mode): the question with an inline keyboard
// while pending, the outcome and who decided once settled. callback_data stays under Telegram's
// 64 bytes: `d:<approval id>:<option index>`, looked up server-side.
import { isUuid } from '../../db/index.js';
import type { ApprovalRow } from '../../db/schema.js';

import { clip, escapeMarkup as esc, scalarMetadata } from '../text.js';

export { esc };

export const DECIDE = /^d:([0-9a-f-]{36}):(\d)$/;
/** Marks a note prompt; the reply to it carries the note. Anchored at both ends of the bot's own
 *  prompt, so a tag quoted inside an approval's (agent-written) text never counts. */
export const NOTE_TAG = /^Your answer: [^\n]*\n#leash-note d:([0-9a-f-]{36}):(\d)$/;

/** The approval and option a button (DECIDE) or a note prompt (NOTE_TAG) names. Undefined when the
 *  id is not a UUID: the patterns let any 36 of [0-9a-f-] through, and such an id must not reach a
 *  uuid column (Postgres would refuse the query, and the update would fail for good). */
export function namedOption(pattern: RegExp, text: string): { approvalId: string; option: number } | undefined {
  const m = pattern.exec(text);
  return m && isUuid(m[1]!) ? { approvalId: m[1]!, option: Number(m[2]) } : undefined;
}

/** What a press on a button Leash does not know (malformed, or from an older version) is answered. */
export const UNKNOWN_BUTTON = 'This button is not valid (any more).';
export const UNKNOWN_NOTE_PROMPT = 'This note prompt is not valid (any more).';

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function metadataLines(row: ApprovalRow): string[] {
  return scalarMetadata(row, 6).map(([k, v]) => `${clip(esc(k), 40)}: <b>${clip(esc(v), 80)}</b>`);
}

function head(row: ApprovalRow, asker: string | undefined): string[] {
  return [
    `<b>${clip(esc(row.message), 2500)}</b>`,
    ...metadataLines(row),
    `<i>From ${asker ? esc(asker) : 'a member'}</i>`,
  ];
}

export function approvalText(row: ApprovalRow, asker: string | undefined): string {
  const fallback = row.timeout_default ? ` (then: ${esc(row.timeout_default)})` : '';
  return [...head(row, asker), `Expires ${utc(row.expires_at)}${fallback}`].join('\n');
}

export function keyboard(row: ApprovalRow) {
  return { inline_keyboard: row.options.map((o, i) => [{ text: o.slice(0, 64), callback_data: `d:${row.id}:${i}` }]) };
}

export function outcomeText(row: ApprovalRow, asker: string | undefined): string {
  let outcome: string;
  if (row.status === 'responded') {
    const via = row.responder?.channel ? ` via ${esc(row.responder.channel)}` : '';
    outcome = `✅ <b>${esc(row.response_choice ?? '')}</b> — decided by ${esc(row.responder?.display ?? 'someone')}${via}, ${utc(row.response_at ?? row.updated_at)}`;
    if (row.response_text) outcome += `\n“${clip(esc(row.response_text), 800)}”`;
  } else if (row.status === 'timed_out') {
    outcome = `⏱ Timed out ${utc(row.expires_at)}${row.response_choice ? ` — default: <b>${esc(row.response_choice)}</b>` : ' with no default'}`;
  } else {
    outcome = `✖ Cancelled ${utc(row.updated_at)}`;
  }
  return [...head(row, asker), outcome].join('\n');
}
