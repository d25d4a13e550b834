// The response page for one approval (GET /r/{token}): the question, who asks, a summary of its
// metadata, the options as buttons (and a note field when allowed), or the outcome once decided.
import type { ApprovalRow } from '../../db/schema.js';
import { html, page, type Html } from './layout.js';
import { metadataTable } from './metadata.js';

const metadataCard = (m: Record<string, unknown> | null) => {
  const table = metadataTable(m);
  return table ? html`<div class="card">${table}</div>` : '';
};

export interface ResponsePageInput {
  approval: ApprovalRow;
  askedBy: string;
  csrf: string;
  action: string;
  /** An option pre-selected by a one-click email link: the page asks to confirm it. */
  preselected?: string;
  notice?: string;
  /** False for questions sent by SMS, Slack or Telegram: the page shows them, the channel answers. */
  decides: boolean;
  /** A quorum's progress ("1 of 2 approvals for Approve so far"), while pending. */
  tally?: string;
}

const CHANNEL_NAME: Record<string, string> = { sms: 'text message (SMS)', slack: 'Slack', telegram: 'Telegram' };

function outcome(a: ApprovalRow): Html {
  const when = a.response_at ? a.response_at.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '';
  if (a.status === 'responded') {
    return html`<div class="card outcome" role="status"><strong>${a.response_choice}</strong> — answered by ${a.responder?.display ?? 'someone'}
      via ${a.responder?.channel ?? 'unknown'}, ${when}.${a.response_text ? html`<p>Note: ${a.response_text}</p>` : ''}</div>`;
  }
  if (a.status === 'timed_out') {
    return html`<div class="card outcome warn" role="status">No answer in time: it timed out ${when}${a.response_choice ? html`, and the default <strong>${a.response_choice}</strong> applied` : ''}.</div>`;
  }
  return html`<div class="card outcome warn" role="status">This request was cancelled ${when}.</div>`;
}

export function responsePage(p: ResponsePageInput): Html {
  const a = p.approval;
  const pending = a.status === 'pending';
  const expires = a.expires_at.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const options = p.preselected ? [p.preselected, ...a.options.filter((o) => o !== p.preselected)] : a.options;
  const form = html`<form method="post" action="${p.action}">
    <input type="hidden" name="_csrf" value="${p.csrf}">
    ${a.allow_text_response ? html`<label for="text">Add a note (optional)</label><textarea id="text" name="text" maxlength="2000"></textarea>` : ''}
    <div class="options" role="group" aria-label="Your answer">
      ${options.map((o) => html`<button type="submit" name="choice" value="${o}" class="${o === p.preselected ? 'primary' : ''}">${o === p.preselected ? `Confirm: ${o}` : o}</button>`)}
    </div>
  </form>`;
  return page(
    pending ? 'Your answer is needed' : 'Answered',
    html`<h1>${pending ? 'Your answer is needed' : 'This request is closed'}</h1>
    <p class="muted">Asked by ${p.askedBy}${pending ? html` · open until ${expires}` : ''}</p>
    ${p.notice ? html`<div class="card notice" role="alert">${p.notice}</div>` : ''}
    <div class="card"><p class="question">${a.message}</p>${p.tally ? html`<p class="muted" role="status">${p.tally}</p>` : ''}</div>
    ${metadataCard(a.metadata)}
    ${pending ? (p.decides ? form : html`<div class="card notice" role="status">This question was sent by ${CHANNEL_NAME[a.channel] ?? a.channel}: answer it there.</div>`) : outcome(a)}`,
  );
}
