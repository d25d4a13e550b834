// The Slack app, web side (Bolt): slash commands and approval buttons. Each listener maps the Slack
// user to a member through the linked identity, calls the same core action as the API, and answers
// ephemerally. ack() comes first, or with the answer when that is quick; slow work (a graceful stop
// waiting for its agent) answers later through the command's response_url.
import { App, LogLevel, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import { agentNames } from '../../agents/registry.js';
import { runCommand } from '../../chat/agent-commands.js';
import { slashHelp, type CommandName } from '../../chat/command-table.js';
import {
  answerIn,
  approvalLine,
  inWorkspace,
  pendingForChat,
  replyNowOrLater,
  sayError,
  whoRuns,
  type Running,
} from '../../chat/commands.js';
import { answerFromChat, recordedText } from '../../chat/answer.js';
import { linkCommand, useCommand } from '../../chat/self-service.js';
import type { Deps } from '../../deps.js';
import type { Identity } from '../../members/identities.js';
import { approvalMessage, DECIDE_ACTION, esc, noteView, NOTE_VIEW } from './blocks.js';

/** Slack's SDK logs through pino, warnings and errors only. */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.WARN;
  return {
    debug: () => {},
    info: () => {},
    warn: (...m) => log.warn({ slack: m.map(String).join(' ') }, 'slack'),
    error: (...m) => log.error({ slack: m.map(String).join(' ') }, 'slack'),
    setLevel: (l) => (level = l),
    getLevel: () => level,
    setName: () => {},
  };
}

export function createSlackApp(deps: Deps, receiver: Receiver): App {
  const { config, log } = deps;
  const app = new App({
    receiver,
    // A fixed token, known good: Bolt would otherwise call auth.test before every listener.
    authorize: async () => ({ botToken: config.slack.botToken }),
    ignoreSelf: false,
    logger: boltLogger(log.child({ component: 'slack' })),
    clientOptions: {
      slackApiUrl: config.slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
    },
  });
  registerCommands(app, deps);
  registerAnswers(app, deps);
  // A listener's failure goes back to the receiver, which tells a passing one (retry) from a bad
  // request (acknowledged) and logs it: handleOnce in src/chat/dedupe.ts.
  app.error(async (err) => {
    throw err;
  });
  return app;
}

/** The slash commands: the owner's, and /leash (link, use, help). */
function registerCommands(app: App, deps: Deps): void {
  const { db, log } = deps;
  app.command(/^\/(pause|unpause|stop|status|approvals|leash)$/, async ({ command, ack, respond }) => {
    const args = command.text.trim().split(/\s+/).filter(Boolean);
    const identity: Identity = { kind: 'slack', teamId: command.team_id, userId: command.user_id };
    if (command.command === '/leash') {
      const [sub, ...rest] = args;
      if (sub === 'link') return ack({ text: esc(await linkCommand(db, identity, rest)) });
      if (sub === 'use') return ack({ text: esc(await useCommand(db, identity, rest)) });
      return ack({ text: slashHelp('slack') });
    }
    const name = command.command.slice(1) as CommandName;
    const who = await whoRuns(db, identity, name, args);
    if ('refusal' in who) return ack({ text: esc(who.refusal) });
    if (name === 'approvals') return ack((await approvalsList(deps, who)) as never);

    // Slack wants an ack within 3 s: a slow reply (a graceful stop) follows through response_url.
    const action = answerIn(who, runCommand(name, deps, who.ctx, who.args));
    const reply = await replyNowOrLater(name, who.args, action, { tail: 'The result follows here.', canFollow: true });
    await ack({ text: esc(reply.now) });
    if (reply.later)
      await respond({ response_type: 'ephemeral', text: esc(await reply.later) }).catch((err) =>
        log.warn({ err: err.message }, 'slack respond failed'),
      );
  });
}

/** Approval buttons, and the note modal a button opens when the approval takes a note. */
function registerAnswers(app: App, deps: Deps): void {
  const { log } = deps;
  app.action(DECIDE_ACTION, async ({ body, action, ack, respond, client }) => {
    await ack();
    const b = body as {
      user: { id: string; team_id?: string };
      team?: { id: string } | null;
      trigger_id?: string;
      response_url?: string;
    };
    const [approvalId, index] = String((action as { value?: string }).value ?? '').split('|');
    const tell = (text: string) =>
      respond({ response_type: 'ephemeral', replace_original: false, text: esc(text) }).catch((err) =>
        log.warn({ err: err.message }, 'slack respond failed'),
      );
    const press = { approvalId: approvalId ?? '', option: Number(index), canAskNote: !!b.trigger_id };
    const answered = await answerFromChat(deps, presser(b), press);
    if ('askNote' in answered) {
      await client.views.open({
        trigger_id: b.trigger_id!,
        view: noteView(answered.approval, press.option, { r: b.response_url }) as never,
      });
    } else if (!answered.recorded) await tell(answered.text);
    // A vote that has not decided yet: the message shows the count once the worker updates it.
    else if (answered.tally) await tell(recordedText(answered.choice, answered.note, answered.tally));
  });

  app.view(NOTE_VIEW, async ({ view, body, ack }) => {
    const meta = JSON.parse(view.private_metadata || '{}') as { a?: string; c?: number };
    const note = (view.state.values.note?.text?.value ?? '').trim() || null;
    const answered = await answerFromChat(deps, presser(body), {
      approvalId: meta.a ?? '',
      option: meta.c ?? -1,
      note,
    });
    const refusal = (text: string) => ack({ response_action: 'errors', errors: { note: text.slice(0, 150) } });
    if ('askNote' in answered) return ack(); // never: the modal is the note
    if (!answered.recorded) return refusal(answered.text);
    // As a failed decision would: a failed ack is followed by one that says what went wrong.
    await ack().catch((err) => refusal(sayError(err)));
  });
}

/** /approvals: the answerable ones as Block Kit messages with their buttons, at most 9 (each
 *  takes up to 5 blocks, and a message holds 50). */
async function approvalsList(deps: Deps, who: Running) {
  const pending = await pendingForChat(deps, who.ctx);
  const rows = pending.rows.slice(0, 9);
  const more = pending.more || pending.rows.length > 9;
  if (rows.length === 0) return { text: esc(inWorkspace(who, 'No pending approvals.')) };
  const names = await agentNames(
    deps.db,
    rows.map((r) => r.agent_id),
  );
  const blocks = rows.flatMap((r) => [...approvalMessage(r, names.get(r.agent_id ?? '')).blocks, { type: 'divider' }]);
  if (more)
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'More are pending: see GET /v1/pause?status=pending.' }],
    });
  return { text: esc(rows.map((r) => approvalLine(r, names.get(r.agent_id ?? ''))).join('\n')), blocks };
}

/** The Slack user behind a click or a modal: the team comes with the payload or with the user. */
const presser = (b: { user: { id: string; team_id?: string }; team?: { id: string } | null }): Identity => ({
  kind: 'slack',
  teamId: b.team?.id ?? b.user.team_id ?? '',
  userId: b.user.id,
});
