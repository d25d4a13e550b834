// What every chat surface does around the owner's commands (./agent-commands.ts): find who runs
// one in which workspace (./identity.ts) from its words, run it for a reply that names the
// workspace where that matters, answer now or later, and word a refusal.
import { pendingApprovals, type PendingPage } from '../approvals/pending.js';
import { scopeOf, type Ctx } from '../context.js';
import type { Db } from '../db/index.js';
import type { ApprovalRow } from '../db/schema.js';
import { LeashError } from '../errors.js';
import type { Identity } from '../members/identities.js';
import type { CommandDeps } from './agent-commands.js';
import { commandOf, type CommandName } from './command-table.js';
import { actingFor, type Acting } from './identity.js';
import { spellingFor } from './surfaces.js';

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

/** What /approvals lists: the answerable ones, soonest deadline first, at most 10. */
export const pendingForChat = (deps: CommandDeps, ctx: Ctx): Promise<PendingPage> =>
  pendingApprovals(deps.db, scopeOf(ctx), { limit: 10, answerable: true });

export function approvalLine(a: ApprovalRow, agentName: string | undefined): string {
  const left = Math.max(0, Math.round((a.expires_at.getTime() - Date.now()) / 60_000));
  return `${a.message} — ${a.options.join(' / ')} (${agentName ?? 'asked by a member'}, ${left < 1 ? 'expires in under a minute' : `expires in ${left} min`})`;
}

/** A command's reply: `now` to say at once, and `later`, the answer, when `now` only says what is under way. */
export interface Reply {
  now: string;
  later?: Promise<string>;
}

/**
 * The answer within 2 s, or else what is under way and the answer when it comes: a surface must
 * answer its vendor quickly (Slack in 3 s), and a graceful stop waits up to 30 s for its agent.
 * `tail` says how the answer follows there. A surface that cannot send it later (`canFollow`
 * false: SMS, whose reply is the response to Twilio) waits for every other command to finish.
 */
export async function replyNowOrLater(
  name: CommandName,
  args: string[],
  answer: Promise<string>,
  surface: { tail: string; canFollow: boolean },
): Promise<Reply> {
  const { underWay } = commandOf(name);
  if (!surface.canFollow && !underWay) return { now: await answer };
  const quick = await answerWithin(answer);
  if (quick !== undefined) return { now: quick };
  const saying = underWay ? underWay(args[0] ?? '') : 'Working on it.';
  return { now: `${saying} ${surface.tail}`, ...(surface.canFollow ? { later: answer } : {}) };
}
