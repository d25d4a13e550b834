// The owner's commands, once: their names, their SMS words, their arguments and what they do.
// Each surface's help text and usage lines come from here, spelled its way (./surfaces.ts), and
// so does what a surface says while a slow answer is under way (./commands.ts, replyNowOrLater).
import { spellingOn, type Surface } from './surfaces.js';

export type CommandName = 'pause' | 'unpause' | 'stop' | 'status' | 'approvals';

interface Command {
  name: CommandName;
  /** Its arguments, as a usage line shows them. */
  args: string;
  /** Its arguments by SMS, where it takes fewer there; no SMS: not a command by SMS. */
  sms?: string;
  help: string;
  /** What is said while its answer is not in yet: only a graceful stop waits that long (for its agent). */
  underWay?: (agent: string) => string;
}

/** How long a graceful stop from chat waits for the agent to confirm. */
export const CHAT_STOP_TIMEOUT_MS = 30_000;
const STOP_S = CHAT_STOP_TIMEOUT_MS / 1000;

export const COMMANDS: readonly Command[] = [
  {
    name: 'pause',
    args: '<agent> [send|full] [reason…]',
    sms: '<agent> [full]',
    help: 'pause an agent (send: its outbound messages are refused; full: inbound ones are held too)',
  },
  { name: 'unpause', args: '<agent>', sms: '<agent>', help: 'let it run again (held messages are delivered in order)' },
  {
    name: 'stop',
    args: '<agent> [force]',
    sms: '<agent>',
    help: `ask it to stop (it has ${STOP_S} s to confirm), or stop it at once`,
    underWay: (agent) => `Asked ${agent} to stop; waiting up to ${STOP_S} s for it to confirm.`,
  },
  { name: 'status', args: '[agent]', sms: '[agent]', help: 'state, pause, backlog and presence' },
  { name: 'approvals', args: '[workspace]', help: 'pending approvals, with buttons' },
];

const byName = new Map(COMMANDS.map((c) => [c.name, c]));
export const commandOf = (name: CommandName): Command => byName.get(name)!;

/** A command's usage line on a slash surface (Slack, Telegram). */
export const usageLine = (name: CommandName): string => `Usage: /${name} ${commandOf(name).args}`;

const SMS = spellingOn('sms');

/** A command's usage line by SMS (`HALT <agent>`). */
export const smsUsageLine = (name: CommandName): string => `Usage: ${SMS.command(name, commandOf(name).sms)}`;

/** The SMS words that run a command (`HALT` → stop). */
export const SMS_COMMANDS: ReadonlyMap<string, CommandName> = new Map(
  COMMANDS.filter((c) => c.sms !== undefined).map((c) => [SMS.command(c.name), c.name]),
);

/** The help of a slash surface: every command, then linking and the default workspace, as spelled there. */
export function slashHelp(surface: Exclude<Surface, 'sms'>): string {
  const s = spellingOn(surface);
  return [
    'Leash commands:',
    ...COMMANDS.map((c) => `${s.command(c.name, c.args)} — ${c.help}`),
    `${s.link} <code> — link and confirm ${s.self} for your Leash member (code from POST /v1/members/me/link-codes)`,
    `${s.use} [workspace|none] — in several workspaces: where commands that name none go (or name one: ${s.command('pause', 'acme/bob')})`,
  ].join('\n');
}

/** The help by SMS: one message, so one line. */
export function smsHelp(): string {
  const owners = COMMANDS.filter((c) => c.sms !== undefined)
    .map((c) => SMS.command(c.name, c.sms))
    .join(', ');
  return `Leash: reply to a prompt with its number (or its code and number, e.g. K7 1). Owners: ${owners}. ${SMS.link} <code> confirms this number for your member. In several workspaces: ${SMS.command('pause', 'acme/<agent>')}, or ${SMS.use} acme for a default.`;
}
