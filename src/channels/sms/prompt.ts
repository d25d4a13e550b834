// The SMS prompt and the reply grammar. A prompt ends with "Reply 1 for <option 1>, 2 for …";
// when the phone has other approvals pending, the prompt carries a short code and replies name it
// ("K7 1"). A reply is a code (optional when only one is pending), then an option number or the
// option's text (any case), then, where the approval takes one, a free-text note.
import type { ApprovalRow } from '../../db/schema.js';
import { fit, roomFor } from './segments.js';

/** Letters and digits that cannot be misread (no I/O/1/0): 24 × 8 codes per phone. */
const LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';

export function freeCode(taken: Set<string>): string {
  for (let tries = 0; tries < 500; tries++) {
    const code = `${LETTERS[Math.floor(Math.random() * LETTERS.length)]}${DIGITS[Math.floor(Math.random() * DIGITS.length)]}`;
    if (!taken.has(code)) return code;
  }
  throw new Error('no free reply code for this phone (too many pending approvals)');
}

export function promptText(row: ApprovalRow, code: string | undefined): string {
  const pre = code ? `${code} ` : '';
  const note = row.allow_text_response ? ' (a note may follow)' : '';
  const head = code ? `[${code}] ${row.message}` : row.message;
  // Long options are shortened in the reply line (the number is what counts), so that the
  // question keeps at least QUESTION_ROOM characters.
  for (const most of [Infinity, 40, 20, 10]) {
    const choices = row.options
      .map((o, i) => `${pre}${i + 1} for ${o.length > most ? `${o.slice(0, most - 1)}.` : o}`)
      .join(', ');
    const tail = `\nReply ${choices}${note}`;
    if (roomFor(head, tail) >= QUESTION_ROOM || most === 10) return fit(head, tail);
  }
  throw new Error('unreachable');
}

const QUESTION_ROOM = 40;

export interface Reply {
  code?: string;
  /** What follows the code: the choice and any note. */
  rest: string;
}

export function splitCode(text: string): Reply {
  const m = /^([A-HJ-NP-Z][2-9])\b\s*(.*)$/is.exec(text.trim());
  return m ? { code: m[1]!.toUpperCase(), rest: m[2]!.trim() } : { rest: text.trim() };
}

/** The option a reply names (by number or text, any case) and the note after it. */
export function parseChoice(rest: string, options: string[]): { choice: string; note: string | null } | undefined {
  // Text first ("2 hours" is an option, not option 2 with a note); the longest option that starts
  // the reply wins ("Approve all" before "Approve").
  const lower = rest.toLowerCase();
  const byText = [...options]
    .sort((a, b) => b.length - a.length)
    .find((o) => lower === o.toLowerCase() || lower.startsWith(`${o.toLowerCase()} `));
  if (byText) return { choice: byText, note: rest.slice(byText.length).trim() || null };
  const num = /^(\d)(?:[\s.,:;-]+(.*))?$/s.exec(rest);
  if (!num) return undefined;
  const choice = options[Number(num[1]) - 1];
  return choice === undefined ? undefined : { choice, note: num[2]?.trim() || null };
}
