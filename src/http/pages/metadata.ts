// An approval's metadata for a person deciding: each field by name, plain values as text, objects
// (a tool call's whole input, say) as indented JSON they can read through before answering.
import { html, type Html } from './layout.js';

const FIELDS_SHOWN = 12;
/** A structured value is shown up to this many characters (metadata is at most 16 KiB anyway). */
const SHOWN_CHARS = 8000;

function value(v: unknown): Html | string {
  if (typeof v !== 'object' && !(typeof v === 'string' && v.includes('\n'))) {
    const s = String(v);
    return s.length > 500 ? `${s.slice(0, 499)}…` : s;
  }
  const text = typeof v === 'string' ? v : JSON.stringify(v, null, 2);
  return html`<pre class="meta">${text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS - 1)}…` : text}</pre>`;
}

export function metadataTable(metadata: Record<string, unknown> | null): Html | string {
  const entries = Object.entries(metadata ?? {}).filter(([, v]) => v !== null && v !== undefined);
  if (entries.length === 0) return '';
  const more = entries.length - FIELDS_SHOWN;
  return html`<dl class="metadata">${entries.slice(0, FIELDS_SHOWN).map(([k, v]) => html`<dt>${k}</dt><dd>${value(v)}</dd>`)}</dl>${more > 0 ? html`<p class="muted">and ${more} more fields</p>` : ''}`;
}
