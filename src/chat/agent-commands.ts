// The owner's commands on agents, as every chat surface runs them (Slack, Telegram, SMS): call
// the same core actions as the API with the member's Ctx, and say what changed in plain text. A
// refusal is a LeashError whose message is shown as is; bad arguments get the usage line.
import { pauseAgent, stopAgent, unpauseAgent } from '../agents/control.js';
import { agentOverviews } from '../agents/overview.js';
import { findAgent } from '../agents/registry.js';
import { agentView, type AgentView } from '../agents/view.js';
import type { ApprovalSettings } from '../approvals/approvals.js';
import type { Ctx } from '../context.js';
import type { Db } from '../db/index.js';
import type { Notifier } from '../db/notifier.js';
import { LeashError } from '../errors.js';
import { CHAT_STOP_TIMEOUT_MS, usageLine, type CommandName } from './command-table.js';

export interface CommandDeps {
  db: Db;
  notifier: Notifier;
  approvals: Pick<ApprovalSettings, 'publicUrl' | 'secret'>;
}

/** Bad arguments: the usage line, as Slack and Telegram spell it (SMS checks its own first). */
function usage(name: CommandName): never {
  throw new LeashError('invalid_request', usageLine(name));
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
export async function pauseCommand(deps: CommandDeps, ctx: Ctx, args: string[]): Promise<string> {
  const [name, maybeMode, ...rest] = args;
  if (!name) usage('pause');
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

export async function unpauseCommand(deps: CommandDeps, ctx: Ctx, args: string[]): Promise<string> {
  const [name, extra] = args;
  if (!name || extra) usage('unpause');
  const a = await unpauseAgent(deps.db, ctx, name);
  const held = a.backlog.undelivered > 0 ? ` ${a.backlog.undelivered} held messages are being delivered in order.` : '';
  return `Unpaused ${a.name}.${held}\n${agentLine(a)}`;
}

/** `stop bob` asks bob to stop and waits for its confirmation; `stop bob force` stops it at once. */
export async function stopCommand(deps: CommandDeps, ctx: Ctx, args: string[]): Promise<string> {
  const [name, flag, extra] = args;
  if (!name || extra || (flag !== undefined && flag !== 'force')) usage('stop');
  const graceful = flag !== 'force';
  const timeout = CHAT_STOP_TIMEOUT_MS;
  try {
    const a = await stopAgent(deps.db, deps.notifier, ctx, name, { graceful, timeout }, deps.approvals);
    return `Stopped ${a.name}${graceful ? '' : ' (forced)'}.\n${agentLine(a)}`;
  } catch (err) {
    if (err instanceof LeashError && err.code === 'graceful_timeout') {
      throw new LeashError(
        'graceful_timeout',
        `${name} did not confirm the stop within ${timeout / 1000} s; it stays stopping. Force it with: /stop ${name} force`,
      );
    }
    throw err;
  }
}

const STATUS_AT_MOST = 50;

/** `status bob`: its line, open sessions and pending approvals; `status`: a line per agent. */
export async function statusCommand(deps: CommandDeps, ctx: Ctx, args: string[]): Promise<string> {
  const [name, extra] = args;
  if (extra) usage('status');
  if (name) {
    const row = await findAgent(deps.db, ctx.workspaceId, name);
    const [o] = await agentOverviews(deps.db, { workspaceId: ctx.workspaceId, agentId: row.id });
    const counts = `open sessions: ${o?.open_sessions ?? 0} · pending approvals: ${o?.pending_approvals ?? 0}`;
    return `${agentLine(agentView(o?.agent ?? row))}\n${counts}`;
  }
  const rows = await agentOverviews(deps.db, { workspaceId: ctx.workspaceId, limit: STATUS_AT_MOST + 1 });
  if (rows.length === 0) return 'No agents yet.';
  const lines = rows.slice(0, STATUS_AT_MOST).map((o) => agentLine(agentView(o.agent)));
  if (rows.length > STATUS_AT_MOST) lines.push('… and more (see the dashboard or GET /v1/agents)');
  return lines.join('\n');
}

type Run = (deps: CommandDeps, ctx: Ctx, args: string[]) => Promise<string>;
const RUN: Record<Exclude<CommandName, 'approvals'>, Run> = {
  pause: pauseCommand,
  unpause: unpauseCommand,
  stop: stopCommand,
  status: statusCommand,
};

/** Runs a command that answers in text (every one but /approvals, which each surface lists its way). */
export const runCommand = (name: Exclude<CommandName, 'approvals'>, deps: CommandDeps, ctx: Ctx, args: string[]) =>
  RUN[name](deps, ctx, args);
