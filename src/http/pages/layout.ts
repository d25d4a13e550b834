// Server-rendered HTML: one small layout, escaped by construction. Pages are plain HTML forms that
// work without JavaScript, read well on a phone, and carry strict security headers.
import type { FastifyReply } from 'fastify';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Marks a string as already-safe HTML. */
export class Html {
  constructor(readonly value: string) {}
  toString() {
    return this.value;
  }
}

export function escape(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const parts = Array.isArray(v) ? v : [v];
    out +=
      parts.map((p) => (p instanceof Html ? p.value : p === false || p == null ? '' : escape(p))).join('') +
      strings[i + 1]!;
  });
  return new Html(out);
}

const STYLE = `
  :root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #fff; --card: #f6f8fa; --line: #d0d7de; --accent: #0969da; --ok: #1a7f37; --warn: #9a6700; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --card: #161b22; --line: #30363d; --accent: #4493f8; --ok: #3fb950; --warn: #d29922; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  main { max-width: 40rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
  h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
  .muted { color: var(--muted); font-size: .925rem; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1rem; margin: 1rem 0; }
  .question { white-space: pre-wrap; font-size: 1.1rem; margin: 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; margin: 0; font-size: .925rem; }
  dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; min-width: 0; }
  pre.meta { margin: 0; font-size: .85rem; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 16rem; overflow-y: auto; }
  dl.metadata { margin: .75rem 0; } .card > dl.metadata:first-child { margin-top: 0; } .card > dl.metadata:last-child { margin-bottom: 0; }
  .options { display: grid; gap: .5rem; margin-top: 1rem; }
  button { font: inherit; font-weight: 600; padding: .8rem 1rem; border-radius: .5rem; border: 1px solid var(--line); background: var(--bg); color: var(--fg); cursor: pointer; text-align: left; }
  button:hover { border-color: var(--accent); }
  button:focus-visible, textarea:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  label { display: block; font-weight: 600; margin-top: 1rem; }
  textarea { width: 100%; min-height: 5rem; font: inherit; padding: .5rem; border-radius: .5rem; border: 1px solid var(--line); background: var(--bg); color: var(--fg); }
  .outcome { border-left: 4px solid var(--ok); } .outcome.warn { border-left-color: var(--warn); }
  .notice { border-left: 4px solid var(--warn); }
`;

export function page(title: string, body: Html, opts: { wide?: boolean; script?: string } = {}): Html {
  const extra = opts.wide ? new Html(WIDE) : '';
  const script = opts.script ? html`<script src="${opts.script}" defer></script>` : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Leash</title>
<style>${new Html(STYLE)}${extra}</style>
${script}
</head>
<body><main>${body}</main></body>
</html>`;
}

/** The dashboard: wider, with tables, a nav bar and small inline forms. */
const WIDE = `
  main { max-width: 64rem; }
  nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: center; border-bottom: 1px solid var(--line); padding-bottom: .75rem; margin-bottom: 1rem; }
  nav a { color: var(--accent); text-decoration: none; font-weight: 600; } nav .me { margin-left: auto; }
  table { width: 100%; border-collapse: collapse; font-size: .925rem; }
  th, td { text-align: left; padding: .5rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; }
  form.inline { display: inline-flex; gap: .25rem; margin: 0 .25rem .25rem 0; }
  form.inline button, nav button { padding: .35rem .6rem; font-size: .875rem; }
  form.inline input[type=text] { font: inherit; font-size: .875rem; padding: .3rem .4rem; border: 1px solid var(--line); border-radius: .4rem; background: var(--bg); color: var(--fg); width: 9rem; }
  .pill { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; border: 1px solid var(--line); }
  .pill.active { color: var(--ok); } .pill.paused, .pill.stopping { color: var(--warn); } .pill.inactive { color: var(--muted); }
  .err { border-left: 4px solid #cf222e; }
  @media (max-width: 40rem) { table.agents thead { display: none; } table.agents td { display: block; border: 0; padding: .2rem 0; } table.agents tr { display: block; border-bottom: 1px solid var(--line); padding: .5rem 0; } }
`;

/** Pages behind capability links: never cached, never framed, never leak the URL as a referrer. */
export function sendPage(reply: FastifyReply, status: number, content: Html, opts: { scripts?: boolean } = {}) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header(
      'content-security-policy',
      `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'${opts.scripts ? "; script-src 'self'; connect-src 'self'" : ''}`,
    )
    .send(content.value);
}

export function messagePage(title: string, message: string): Html {
  return page(title, html`<h1>${title}</h1><p>${message}</p>`);
}
