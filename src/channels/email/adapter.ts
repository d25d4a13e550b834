// Approvals by email (nodemailer over SMTP_URL): the question with one signed link per option and
// the response-page link, in plain text and HTML. A link opens the response page with that option
// chosen and asks to confirm (mail scanners follow links; a GET never decides). The outcome shows on
// the response page; a sent email cannot be changed.
import nodemailer, { type Transporter } from 'nodemailer';
import { linkUrl } from '../../approvals/links.js';
import type { ReadyConfig } from '../../secret.js';
import type { ApprovalRow } from '../../db/schema.js';
import type { ChannelAdapter } from '../adapter.js';
import { askerName, scalarMetadata } from '../text.js';

const transports = new Map<string, Transporter>();

function transport(config: ReadyConfig): Transporter {
  const url = config.email.smtpUrl!;
  let t = transports.get(url);
  if (!t) {
    t = nodemailer.createTransport(url);
    transports.set(url, t);
  }
  return t;
}

const html = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const metadata = (row: ApprovalRow): [string, string][] =>
  scalarMetadata(row, 10).map(([k, v]) => [k.slice(0, 60), v.slice(0, 200)]);

export function approvalEmail(
  row: ApprovalRow,
  asker: string | undefined,
  links: { publicUrl: string; secret: string },
) {
  const page = linkUrl(links.publicUrl, links.secret, { approvalId: row.id });
  const options = row.options.map((o, i) => ({
    label: o,
    url: linkUrl(links.publicUrl, links.secret, { approvalId: row.id, choice: i }),
  }));
  const meta = metadata(row);
  const expires = row.expires_at.toUTCString();
  const from = asker ? `${asker} asks` : 'A question for you';
  const fallback = row.timeout_default ? ` If nobody answers by then: ${row.timeout_default}.` : '';
  const text = [
    `${from}:`,
    '',
    row.message,
    '',
    ...meta.map(([k, v]) => `${k}: ${v}`),
    ...(meta.length ? [''] : []),
    'Answer with one link (you will be asked to confirm):',
    ...options.map((o) => `  ${o.label}: ${o.url}`),
    '',
    `Or open the question: ${page}`,
    `It expires ${expires}.${fallback}`,
  ].join('\n');
  const body = `<!doctype html><html><body style="font-family:system-ui,sans-serif;max-width:560px;margin:auto;padding:16px;color:#111">
<p style="color:#555">${html(from)}:</p>
<p style="font-size:18px;font-weight:600">${html(row.message)}</p>
${meta.length ? `<table style="border-collapse:collapse;margin:8px 0">${meta.map(([k, v]) => `<tr><td style="color:#555;padding:2px 12px 2px 0">${html(k)}</td><td><b>${html(v)}</b></td></tr>`).join('')}</table>` : ''}
<p>${options.map((o) => `<a href="${html(o.url)}" style="display:inline-block;margin:4px 8px 4px 0;padding:10px 16px;border-radius:6px;background:#111;color:#fff;text-decoration:none">${html(o.label)}</a>`).join('')}</p>
<p style="color:#555;font-size:14px">You will be asked to confirm. <a href="${html(page)}">Open the question</a>. It expires ${html(expires)}.${html(fallback)}</p>
</body></html>`;
  return { subject: `Approval needed: ${row.message.replace(/\s+/g, ' ').slice(0, 80)}`, text, html: body };
}

export const emailAdapter: ChannelAdapter = {
  // SMTP 5xx is a refusal for good (no such mailbox, …); 4xx and connection errors are retried.
  permanent(err) {
    const e = err as { responseCode?: number; response?: string };
    return e.responseCode && e.responseCode >= 500 ? `smtp ${e.responseCode}: ${e.response ?? ''}`.trim() : undefined;
  },

  // One email a second to one address: a runaway agent cannot fill an inbox in seconds.
  pace: (_row, prompt) => [{ key: `email:${prompt.recipient.toLowerCase()}`, everyMs: 1_000 }],

  async send(deps, row, prompt) {
    const mail = approvalEmail(row, await askerName(deps.db, row), deps.config);
    const info = await transport(deps.config).sendMail({ from: deps.config.email.from, to: prompt.recipient, ...mail });
    return { message_id: info.messageId };
  },
};
