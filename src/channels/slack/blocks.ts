// Block Kit for an approval: the question with one button per option while pending; the outcome
// and who decided (no buttons) once settled, whatever channel settled it.
import type { ApprovalRow } from '../../db/schema.js';

import { clip, escapeMarkup as esc, scalarMetadata } from '../text.js';

/** Slack mrkdwn needs &, < and > escaped; everything else from users is shown as typed. */
export { esc };

/** A date Slack shows in the reader's own time zone. */
const when = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} at {time}|${d.toISOString()}>`;

export const DECIDE_ACTION = /^leash\.decide\.\d$/;
export const NOTE_VIEW = 'leash.note';

function metadataLine(row: ApprovalRow): string | undefined {
  const pairs = scalarMetadata(row, 6).map(([k, v]) => `${clip(esc(k), 40)}: *${clip(esc(v), 80)}*`);
  return pairs.length ? pairs.join(' · ') : undefined;
}

function head(row: ApprovalRow, asker: string | undefined) {
  const blocks: object[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(esc(row.message), 2900) } }];
  const meta = metadataLine(row);
  if (meta) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: meta }] });
  return { blocks, from: asker ? `From *${esc(asker)}*` : 'From a member' };
}

export function approvalMessage(row: ApprovalRow, asker: string | undefined): { text: string; blocks: object[] } {
  const { blocks, from } = head(row, asker);
  const fallback = row.timeout_default ? ` (then: ${esc(row.timeout_default)})` : '';
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `${from} · expires ${when(row.expires_at)}${fallback}` }],
  });
  blocks.push({
    type: 'actions',
    block_id: `leash.approval.${row.id}`,
    elements: row.options.map((o, i) => ({
      type: 'button',
      text: { type: 'plain_text', text: o.slice(0, 75) },
      action_id: `leash.decide.${i}`,
      value: `${row.id}|${i}`,
      ...(i === 0 ? { style: 'primary' } : {}),
    })),
  });
  return { text: clip(esc(`${row.message} (${row.options.join(' / ')})`), 3000), blocks };
}

export function outcomeLine(row: ApprovalRow): string {
  if (row.status === 'responded') {
    const who = row.responder?.display ?? 'someone';
    const via = row.responder?.channel ? ` via ${row.responder.channel}` : '';
    const note = row.response_text ? `\n> ${clip(esc(row.response_text), 2400)}` : '';
    return `*${esc(row.response_choice ?? '')}* — decided by ${esc(who)}${via}, ${when(row.response_at ?? row.updated_at)}${note}`;
  }
  if (row.status === 'timed_out')
    return `Timed out ${when(row.expires_at)}${row.response_choice ? ` — default: *${esc(row.response_choice)}*` : ' with no default'}`;
  return `Cancelled ${when(row.updated_at)}`;
}

export function outcomeMessage(row: ApprovalRow, asker: string | undefined): { text: string; blocks: object[] } {
  const { blocks, from } = head(row, asker);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: from }] });
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: outcomeLine(row) } });
  return {
    text: clip(esc(`${row.message}: ${row.status === 'responded' ? row.response_choice : row.status}`), 3000),
    blocks,
  };
}

/** The note modal for an approval that takes a text response. */
export function noteView(row: ApprovalRow, choice: number, meta: Record<string, unknown>) {
  return {
    type: 'modal',
    callback_id: NOTE_VIEW,
    private_metadata: JSON.stringify({ ...meta, a: row.id, c: choice }),
    title: { type: 'plain_text', text: 'Answer' },
    submit: { type: 'plain_text', text: (row.options[choice] ?? 'Send').slice(0, 24) },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `${clip(esc(row.message), 2500)}\nYour answer: *${esc(row.options[choice] ?? '')}*`,
        },
      },
      {
        type: 'input',
        block_id: 'note',
        optional: true,
        label: { type: 'plain_text', text: 'Note (optional)' },
        element: { type: 'plain_text_input', action_id: 'text', multiline: true, max_length: 2000 },
      },
    ],
  };
}
