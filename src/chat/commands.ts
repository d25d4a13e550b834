// The owner's commands as every chat surface offers them (Slack, Telegram, SMS): parse the words,
// find who runs them in which workspace (./identity.ts), call the same core actions as the API
// with the member's Ctx, and say what changed in plain text. A refusal is a LeashError whose
// message is shown as is; bad arguments get the usage line.
import { stopAgent, pauseAgent, unpauseAgent } from '../agents/control.js';
import { findAgent } from '../agents/registry.js';
import { agentView, type AgentView } from '../agents/view.js';
import type { ApprovalSettings } from '../approvals/approvals.js';
import { pendingApprovals, type PendingPage } from '../approvals/pending.js';
import { scopeOf, type Ctx } from '../context.js';
import type { Db } from '../db/index.js';
import type { Notifier } from '../db/notifier.js';
import type { ApprovalRow } from '../db/schema.js';
import { LeashError } from '../errors.js';
import type { Identity } from '../members/identities.js';
import { actingFor, type Acting } from './identity.js';
import { spellingFor } from './surfaces.js';

export interface CommandDeps {
  db: Db;
  notifier: Notifier;
  approvals: Pick<ApprovalSettings, 'publicUrl' | 'secret'>;
}

export const USAGE = {
  pause: 'pause <agent> [send|full] [reason…]',
  unpause: 'unpause <agent>',
  stop: 'stop <agent> [force]',
  status: 'status [agent]',
  approvals: 'approvals',
} as const;

export type CommandName = keyof typeof USAGE;

/** A command's words with the workspace it names taken out. */
export interface Target {
  /** The workspace named, by handle or id (`acme` of `acme/bob`). */
  workspace?: string;
  args: string[];
  /** The command's words with a workspace put in, for a refusal to show. */
  withWorkspace(label: string): string;
}

/** Where a command names its workspace: in its first word, before a `/` (`acme/bob`, or `acme/`
 *  for /status of every agent there); /approvals, which names no agent, takes `acme` alone.
 *  Agent names never hold a `/`, so the first one splits. */
export function targetOf(name: CommandName, args: string[]): Target {
  const [first, ...rest] = args;
  const slash = first?.indexOf('/') ?? -1;
  if (name === 'approvals') {
    const workspace = first?.replace(/\/$/, '') || undefined;
    return { workspace, args: rest, withWorkspace: (label) => label };
  }
  const agent = slash >= 0 ? first!.slice(slash + 1) : first;
  const workspace = slash > 0 ? first!.slice(0, slash) : undefined;
  const after = [agent, ...rest].filter((w): w is string => !!w);
  const placeholder = name === 'status' ? '' : '<agent>';
  return {
    workspace,
    args: after,
    withWorkspace: (label) => [`${label}/${agent || placeholder}`, ...rest].join(' '),
  };
}

export type Running = Exclude<Acting, { refusal: string }> & { args: string[] };

/** Who runs this command, in which workspace, with what words. */
export async function whoRuns(
  db: Db,
  identity: Identity,
  name: CommandName,
  args: string[],
): Promise<Running | { refusal: string }> {
  const target = targetOf(name, args);
  const spelling = spellingFor(identity);
  const who = await actingFor(db, identity, target.workspace, (label) =>
    spelling.command(name, target.withWorkspace(label)),
  );
  return 'refusal' in who ? who : { ...who, args: target.args };
}

/** A reply says which workspace it speaks of when the person acts in several. */
export function inWorkspace(who: Running, text: string): string {
  return who.several ? `In ${who.workspace.label}: ${text}` : text;
}

/** Runs a command for a reply (its text, or what went wrong), naming the workspace where it matters. */
export function answerIn(who: Running, run: Promise<string>): Promise<string> {
  return answerOf(run).then((text) => inWorkspace(who, text));
}

/** What a chat surface says when a command or an answer fails: a refusal as the core words it. */
export function sayError(err: unknown): string {
  return err instanceof LeashError
    ? err.message
    : 'Something went wrong on our side; nothing was changed. Try again in a moment.';
}

/** Runs a command for a reply: its text, or what went wrong. */
export function answerOf(run: Promise<string>): Promise<string> {
  return run.catch(sayError);
}

/** The reply if it comes within `ms`, else undefined while it goes on (only a graceful stop waits
 *  that long: for its agent). The surface answers at once and sends the reply when it comes. */
export function answerWithin(answer: Promise<string>, ms = 2_000): Promise<string | undefined> {
  return Promise.race([answer, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/** How long a graceful stop from chat waits for the agent to confirm. */
export const CHAT_STOP_TIMEOUT_MS = 30_000;

function usage(prefix: string, name: keyof typeof USAGE): never {
  throw new LeashError('invalid_request', `Usage: ${prefix}${USAGE[name]}`);
}

const ago = (d: Date, now = Date.now()) => {
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
};

/** One line per agent: state, pause (who, why), backlog, presence. */
export function agentLine(a: AgentView): string {
  const parts = [`${a.name}: ${a.status}`];
  if (a.pause) {
    parts[0] += ` (${a.pause.mode})`;
    parts.push(
      `since ${ago(new Date(a.pause.since))} ago by ${a.pause.by?.display ?? 'someone'}${a.pause.reason ? `: ${a.pause.reason}` : ''}`,
    );
  }
  if (a.backlog.undelivered > 0)
    parts.push(
      `${a.backlog.undelivered} undelivered${a.backlog.oldest_at ? `, oldest ${ago(new Date(a.backlog.oldest_at))} old` : ''}`,
    );
  parts.push(a.presence);
  return parts.join(' · ');
}

/** `pause bob full deploy freeze` → pause bob (full) with reason "deploy freeze"; the mode is optional. */
export async function pauseCommand(deps: CommandDeps, ctx: Ctx, args: string[], prefix = '/'): Promise<string> {
  const [name, maybeMode, ...rest] = args;
  if (!name) usage(prefix, 'pause');
  const explicit = maybeMode === 'send' || maybeMode === 'full';
  const mode = explicit ? maybeMode : 'send';
  const reason = (explicit ? rest : [maybeMode, ...rest]).filter(Boolean).join(' ').slice(0, 500) || null;
  const a = await pauseAgent(deps.db, ctx, name, { mode, reason });
  const hold =
    mode === 'full'
      ? 'Its outbound messages are refused and inbound ones are held until unpause.'
      : 'Its outbound messages are refused; inbound ones still flow.';
  return `Paused ${a.name} (${mode})${reason ? ` — ${reason}` : ''}. ${hold}\n${agentLine(a)}`;
}

export async function unpauseCommand(deps: CommandDeps, ctx: Ctx, args: string[], prefix = '/'): Promise<string> {
  const [name, extra] = args;
  if (!name || extra) usage(prefix, 'unpause');
  const a = await unpauseAgent(deps.db, ctx, name);
  const held = a.backlog.undelivered > 0 ? ` ${a.backlog.undelivered} held messages are being delivered in order.` : '';
  return `Unpaused ${a.name}.${held}\n${agentLine(a)}`;
}

/** `stop bob` asks bob to stop and waits for its confirmation; `stop bob force` stops it at once. */
export async function stopCommand(deps: CommandDeps, ctx: Ctx, args: string[], prefix = '/'): Promise<string> {
  const [name, flag, extra] = args;
  if (!name || extra || (flag !== undefined && flag !== 'force')) usage(prefix, 'stop');
  const graceful = flag !== 'force';
  try {
    const a = await stopAgent(
      deps.db,
      deps.notifier,
      ctx,
      name,
      { graceful, timeout: CHAT_STOP_TIMEOUT_MS },
      deps.approvals,
    );
    return `Stopped ${a.name}${graceful ? '' : ' (forced)'}.\n${agentLine(a)}`;
  } catch (err) {
    if (err instanceof LeashError && err.code === 'graceful_timeout') {
      throw new LeashError(
        'graceful_timeout',
        `${name} did not confirm the stop within ${CHAT_STOP_TIMEOUT_MS / 1000} s; it stays stopping. Force it with: ${prefix}stop ${name} force`,
      );
    }
    throw err;
  }
}

export async function statusCommand(deps: CommandDeps, ctx: Ctx, args: string[], prefix = '/'): Promise<string> {
  const [name, extra] = args;
  if (extra) usage(prefix, 'status');
  if (name) {
    const row = await findAgent(deps.db, ctx.workspaceId, name);
    const counts = await deps.db
      .selectFrom('agents as a')
      .select((eb) => [
        eb
          .selectFrom('sessions')
          .select(eb.fn.countAll<string>().as('n'))
          .where('agent_id', '=', row.id)
          .where('status', 'in', ['running', 'paused'])
          .as('sessions'),
        eb
          .selectFrom('approvals')
          .select(eb.fn.countAll<string>().as('n'))
          .where('agent_id', '=', row.id)
          .where('status', '=', 'pending')
          .as('approvals'),
      ])
      .where('a.id', '=', row.id)
      .executeTakeFirstOrThrow();
    return `${agentLine(agentView(row))}\nopen sessions: ${Number(counts.sessions)} · pending approvals: ${Number(counts.approvals)}`;
  }
  const rows = await deps.db
    .selectFrom('agents')
    .selectAll()
    .where('workspace_id', '=', ctx.workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy('name')
    .limit(51)
    .execute();
  if (rows.length === 0) return 'No agents yet.';
  const lines = rows.slice(0, 50).map((r) => agentLine(agentView(r)));
  if (rows.length > 50) lines.push('… and more (see the dashboard or GET /v1/agents)');
  return lines.join('\n');
}

/** What /approvals lists: the answerable ones, soonest deadline first, at most 10. */
export const pendingForChat = (deps: CommandDeps, ctx: Ctx): Promise<PendingPage> =>
  pendingApprovals(deps.db, scopeOf(ctx), { limit: 10, answerable: true });

export function approvalLine(a: ApprovalRow, agentName: string | undefined): string {
  const left = Math.max(0, Math.round((a.expires_at.getTime() - Date.now()) / 60_000));
  return `${a.message} — ${a.options.join(' / ')} (${agentName ?? 'asked by a member'}, ${left < 1 ? 'expires in under a minute' : `expires in ${left} min`})`;
}
