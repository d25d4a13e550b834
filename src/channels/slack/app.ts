// The Slack app, web side (Bolt): slash commands and approval buttons. Each listener maps the Slack
// user to a member through the linked identity, calls the same core action as the API, and answers
// ephemerally. ack() comes first, or with the answer when that is quick; slow work (a graceful stop
// waiting for its agent) answers later through the command's response_url.
import { App, LogLevel, type Logger as BoltLogger, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import { decideApproval } from '../../approvals/decide.js';
import { agentNames } from '../../agents/registry.js';
import { answerOf, answerWithin, approvalLine, pauseCommand, pendingApprovals, sayError, statusCommand, stopCommand, unpauseCommand } from '../../chat/commands.js';
import { memberBySlack } from '../../chat/identity.js';
import { isUuid } from '../../db/index.js';
import type { Deps } from '../../deps.js';
import { redeemLinkCode } from '../../members/link-codes.js';
import { approvalMessage, DECIDE_ACTION, esc, noteView, NOTE_VIEW } from './blocks.js';

const HELP = [
  'Leash commands:',
  '/pause <agent> [send|full] [reason…] — pause an agent (send: its outbound messages are refused; full: inbound ones are held too)',
  '/unpause <agent> — let it run again (held messages are delivered in order)',
  '/stop <agent> [force] — ask it to stop (it has 30 s to confirm), or stop it at once',
  '/status [agent] — state, pause, backlog and presence',
  '/approvals — pending approvals, with buttons',
  '/leash link <code> — link your Slack account to your Leash member (code from POST /v1/members/me/link-codes)',
].join('\n');

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
  const { config, db, log } = deps;
  const app = new App({
    receiver,
    // A fixed token, known good: Bolt would otherwise call auth.test before every listener.
    authorize: async () => ({ botToken: config.slack.botToken }),
    ignoreSelf: false,
    logger: boltLogger(log.child({ component: 'slack' })),
    clientOptions: { slackApiUrl: config.slack.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 10_000 },
  });
  const commandDeps = { db, notifier: deps.notifier, approvals: deps.approvals };
  const run = {
    '/pause': pauseCommand,
    '/unpause': unpauseCommand,
    '/stop': stopCommand,
    '/status': statusCommand,
  } as const;

  app.command(/^\/(pause|unpause|stop|status|approvals|leash)$/, async ({ command, ack, respond }) => {
    const args = command.text.trim().split(/\s+/).filter(Boolean);
    if (command.command === '/leash') {
      if (args[0] !== 'link') return ack({ text: HELP });
      if (args.length !== 2) return ack({ text: 'Usage: /leash link <code> (get a code with POST /v1/members/me/link-codes)' });
      try {
        const m = await redeemLinkCode(db, args[1]!, { slack: { team_id: command.team_id, user_id: command.user_id } }, 'slack');
        return ack({ text: esc(`Linked: this Slack account now acts as ${m.display_name ?? m.email} (${m.role}).`) });
      } catch (err) {
        return ack({ text: esc(sayError(err)) });
      }
    }
    const who = await memberBySlack(db, command.team_id, command.user_id);
    if ('refusal' in who) return ack({ text: esc(who.refusal) });

    if (command.command === '/approvals') {
      // At most 9: each takes up to 5 blocks, and a message holds 50.
      const pending = await pendingApprovals(commandDeps, who.ctx);
      const rows = pending.rows.slice(0, 9);
      const more = pending.more || pending.rows.length > 9;
      if (rows.length === 0) return ack({ text: 'No pending approvals.' });
      const names = await agentNames(db, rows.map((r) => r.agent_id));
      const blocks = rows.flatMap((r) => [...approvalMessage(r, names.get(r.agent_id ?? '')).blocks, { type: 'divider' }]);
      if (more) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'More are pending: see GET /v1/pause?status=pending.' }] });
      return ack({ text: esc(rows.map((r) => approvalLine(r, names.get(r.agent_id ?? ''))).join('\n')), blocks } as never);
    }

    // Slack wants an ack within 3 s: a slow reply (a graceful stop) follows through response_url.
    const action = answerOf(run[command.command as keyof typeof run](commandDeps, who.ctx, args));
    const quick = await answerWithin(action);
    if (quick !== undefined) return ack({ text: esc(quick) });
    const waiting = command.command === '/stop' ? `Asked ${args[0] ?? ''} to stop; waiting up to 30 s for it to confirm.` : 'Working on it.';
    await ack({ text: esc(`${waiting} The result follows here.`) });
    await respond({ response_type: 'ephemeral', text: esc(await action) }).catch((err) => log.warn({ err: err.message }, 'slack respond failed'));
  });

  app.action(DECIDE_ACTION, async ({ body, action, ack, respond, client }) => {
    await ack();
    const b = body as { user: { id: string; team_id?: string }; team?: { id: string } | null; trigger_id?: string; response_url?: string };
    const [approvalId, index] = String((action as { value?: string }).value ?? '').split('|');
    const tell = (text: string) => respond({ response_type: 'ephemeral', replace_original: false, text: esc(text) }).catch((err) => log.warn({ err: err.message }, 'slack respond failed'));
    // The approval names its workspace; the clicker must be a member there (someone linked in
    // several workspaces can answer in each).
    const row = isUuid(approvalId ?? '') ? await db.selectFrom('approvals').selectAll().where('id', '=', approvalId!).executeTakeFirst() : undefined;
    const who = await memberBySlack(db, b.team?.id ?? b.user.team_id ?? '', b.user.id, row?.workspace_id);
    if ('refusal' in who) return void (await tell(who.refusal));
    const choice = row?.options[Number(index)];
    if (!row || choice === undefined) return void (await tell('That approval is not in your workspace.'));
    if (row.allow_text_response && row.status === 'pending' && b.trigger_id) {
      await client.views.open({ trigger_id: b.trigger_id, view: noteView(row, Number(index), { r: b.response_url }) as never });
      return;
    }
    try {
      await decideApproval(db, who.ctx, row.id, { choice }, responderOf(who.member), deps.approvals);
    } catch (err) {
      await tell(sayError(err));
    }
  });

  app.view(NOTE_VIEW, async ({ view, body, ack }) => {
    const meta = JSON.parse(view.private_metadata || '{}') as { a?: string; c?: number };
    const text = (view.state.values.note?.text?.value ?? '').trim() || null;
    const row = isUuid(meta.a ?? '') ? await db.selectFrom('approvals').selectAll().where('id', '=', meta.a!).executeTakeFirst() : undefined;
    const who = await memberBySlack(db, body.team?.id ?? body.user.team_id ?? '', body.user.id, row?.workspace_id);
    if ('refusal' in who) return ack({ response_action: 'errors', errors: { note: who.refusal.slice(0, 150) } });
    const choice = row?.options[meta.c ?? -1];
    if (!row || choice === undefined) return ack({ response_action: 'errors', errors: { note: 'That approval is not in your workspace.' } });
    try {
      await decideApproval(db, who.ctx, row.id, { choice, text }, responderOf(who.member), deps.approvals);
      await ack();
    } catch (err) {
      await ack({ response_action: 'errors', errors: { note: sayError(err).slice(0, 150) } });
    }
  });

  // A listener's failure goes back to the receiver, which tells a passing one (retry) from a bad
  // request (acknowledged) and logs it: handleOnce in src/chat/dedupe.ts.
  app.error(async (err) => {
    throw err;
  });
  return app;
}

function responderOf(member: { id: string; display_name: string | null; email: string }) {
  return { channel: 'slack', member_id: member.id, display: member.display_name ?? member.email };
}

