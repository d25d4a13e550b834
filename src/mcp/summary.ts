// How a tool call reads to the human asked about it: the tool's name and what it would do, in a
// line or two (a shell command, a file and the size of the change, a URL), not a JSON dump. The
// whole input travels in the approval's metadata, shown on the response page and the dashboard.
import { METADATA_LIMIT } from '../approvals/request.js';

type Input = Record<string, unknown>;

/** A command or path longer than this is cut (the full text is in the metadata). */
const SHOWN_CHARS = 600;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);

function cut(text: string, max = SHOWN_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const lines = (s: string) => (s === '' ? 0 : s.split('\n').length);
const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

/** Claude Code's built-in tools, by what a human wants to know before allowing one. */
const KNOWN: Record<string, (i: Input) => string | undefined> = {
  Bash: (i) => str(i.command) && `$ ${cut(String(i.command))}${str(i.description) ? `\n(${i.description})` : ''}`,
  Write: (i) =>
    str(i.file_path) &&
    `${i.file_path} (${plural(lines(String(i.content ?? '')), 'line')}, ${plural(Buffer.byteLength(String(i.content ?? '')), 'byte')})`,
  Edit: (i) =>
    str(i.file_path) &&
    `${i.file_path} (${plural(lines(String(i.old_string ?? '')), 'line')} → ${plural(lines(String(i.new_string ?? '')), 'line')}${i.replace_all === true ? ', every occurrence' : ''})`,
  MultiEdit: (i) =>
    str(i.file_path) && `${i.file_path} (${plural(Array.isArray(i.edits) ? i.edits.length : 0, 'edit')})`,
  NotebookEdit: (i) => str(i.notebook_path) && `${i.notebook_path}${str(i.edit_mode) ? ` (${i.edit_mode})` : ''}`,
  Read: (i) => str(i.file_path),
  WebFetch: (i) => str(i.url) && cut(String(i.url)),
  WebSearch: (i) => str(i.query) && `“${cut(String(i.query))}”`,
  Glob: (i) => str(i.pattern) && `${i.pattern}${str(i.path) ? ` in ${i.path}` : ''}`,
  Grep: (i) => str(i.pattern) && `/${i.pattern}/${str(i.path) ? ` in ${i.path}` : ''}`,
  Task: (i) => str(i.description) ?? (str(i.prompt) && cut(String(i.prompt), 200)),
};

/** Any other tool: its first few plain fields, `name: value`. */
function fields(input: Input): string | undefined {
  const parts = Object.entries(input)
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    .slice(0, 4)
    .map(([k, v]) => `${k}: ${cut(String(v), 120)}`);
  const rest = Object.keys(input).length - parts.length;
  if (parts.length === 0) return rest > 0 ? plural(rest, 'argument') : undefined;
  return parts.join(', ') + (rest > 0 ? ` (+${plural(rest, 'more argument')})` : '');
}

/** The question for one tool call: "Allow Bash?" and what it would do. */
export function permissionMessage(toolName: string, input: Input): string {
  const what = KNOWN[toolName]?.(input) ?? fields(input);
  return cut(what ? `Allow ${toolName}?\n${what}` : `Allow ${toolName}?`, 2000);
}

/** The metadata of a permission question: the whole call, with any string cut short as needed to
 *  stay within the metadata limit (the tool still gets its input unchanged). */
export function permissionMetadata(toolName: string, input: Input, toolUseId: string | undefined): Input {
  const meta = { tool_name: toolName, input, tool_use_id: toolUseId ?? null };
  for (const max of [Infinity, 4000, 1000, 200, 40]) {
    const fitted = JSON.stringify(meta, (_k, v: unknown) =>
      typeof v === 'string' && v.length > max ? `${v.slice(0, max)}… (${v.length - max} more characters)` : v,
    );
    if (Buffer.byteLength(fitted) <= METADATA_LIMIT) return JSON.parse(fitted) as Input;
  }
  return { tool_name: toolName, input: '(too large to show)', tool_use_id: toolUseId ?? null };
}
