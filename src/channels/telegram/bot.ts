// The Telegram bot, web side (grammY): the owner's commands, the linking flow, and the inline
// keyboards of approvals. Each handler maps the Telegram user to a member through the linked
// identity and calls the same core action as the API; every button press is answered. Updates
// reach it through ./inbound.ts (once each, failures classified), by webhook or long polling.
import { Bot, type Api, type Context } from 'grammy';
import { agentNames } from '../../agents/registry.js';
import { runCommand, type CommandDeps } from '../../chat/agent-commands.js';
import { slashHelp, type CommandName } from '../../chat/command-table.js';
import {
  answerIn,
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
import { cannotWritePrivately } from './api.js';
import {
  approvalText,
  DECIDE,
  esc,
  keyboard,
  namedOption,
  NOTE_TAG,
  UNKNOWN_BUTTON,
  UNKNOWN_NOTE_PROMPT,
} from './messages.js';

const LIST_AT_MOST = 5;

const NO_USER = 'Send commands from a user account.';

/** The sender as an identity: an integer user id, or nothing (a channel post, or a malformed
 *  update, whose id must not reach a query). */
const senderOf = (ctx: Context): Identity | undefined =>
  ctx.from && Number.isSafeInteger(ctx.from.id) ? { kind: 'telegram', userId: String(ctx.from.id) } : undefined;

export function createTelegramBot(deps: Deps): Bot {
  const { config } = deps;
  const bot = new Bot(config.telegram.botToken!, { client: { apiRoot: config.telegram.apiRoot, timeoutSeconds: 10 } });
  // Commands first: grammY runs handlers in the order they were added.
  registerCommands(bot, deps);
  registerAnswers(bot, deps);
  return bot;
}

const words = (ctx: Context) =>
  String(ctx.match ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);

/** The owner's commands, and linking. */
function registerCommands(bot: Bot, deps: Deps): void {
  const { db, log } = deps;
  const commandDeps: CommandDeps = { db, notifier: deps.notifier, approvals: deps.approvals };
  /** Who runs the command of this message, in which workspace. */
  const running = async (ctx: Context, name: CommandName): Promise<Running | { refusal: string }> => {
    const sender = senderOf(ctx);
    return sender ? whoRuns(db, sender, name, words(ctx)) : { refusal: NO_USER };
  };

  bot.command(['start', 'help'], (ctx) =>
    ctx.reply(
      `Hi! I am Leash: I pause, stop and ask approvals for your AI agents.\n\nTo use me, link this account to your Leash member: get a code with POST /v1/members/me/link-codes and send /link CODE here. An owner may add your Telegram user ID (${ctx.from?.id ?? 'unknown'}) to your member, but it acts only once you confirm it here with /link CODE.\n\n${slashHelp('telegram')}`,
    ),
  );

  for (const [name, run] of Object.entries({ link: linkCommand, use: useCommand })) {
    bot.command(name, async (ctx) => {
      const sender = senderOf(ctx);
      await ctx.reply(sender ? await run(db, sender, words(ctx)) : NO_USER);
    });
  }

  // These confirm in the chat they came from: the reply names only the agent acted on.
  for (const name of ['pause', 'unpause', 'stop'] as const) {
    bot.command(name, async (ctx) => {
      const who = await running(ctx, name);
      if ('refusal' in who) return void (await ctx.reply(who.refusal));
      const action = answerIn(who, runCommand(name, commandDeps, who.ctx, who.args));
      const reply = await replyNowOrLater(name, who.args, action, { tail: 'The result follows.', canFollow: true });
      await ctx.reply(reply.now);
      // The webhook is answered now; the result follows as its own message.
      void reply.later
        ?.then((text) => ctx.reply(text))
        .catch((err) => log.warn({ err: err.message }, 'telegram reply failed'));
    });
  }

  bot.command('status', async (ctx) => {
    const who = await running(ctx, 'status');
    if ('refusal' in who) return void (await ctx.reply(who.refusal));
    const text = await answerIn(who, runCommand('status', commandDeps, who.ctx, who.args));
    await answerPrivately(ctx, 'status', (chatId) => ctx.api.sendMessage(chatId, text));
  });

  bot.command('approvals', async (ctx) => {
    const who = await running(ctx, 'approvals');
    if ('refusal' in who) return void (await ctx.reply(who.refusal));
    await answerPrivately(ctx, 'approvals', (chatId) => sendApprovals(commandDeps, ctx.api, chatId, who));
  });
}

/** /approvals: the answerable ones, each with its keyboard, at most LIST_AT_MOST. */
async function sendApprovals(deps: CommandDeps, api: Api, chatId: number, who: Running) {
  const { rows, more } = await pendingForChat(deps, who.ctx);
  if (rows.length === 0) return void (await api.sendMessage(chatId, inWorkspace(who, 'No pending approvals.')));
  const names = await agentNames(
    deps.db,
    rows.map((r) => r.agent_id),
  );
  for (const r of rows.slice(0, LIST_AT_MOST))
    await api.sendMessage(chatId, approvalText(r, names.get(r.agent_id ?? '')), {
      parse_mode: 'HTML',
      reply_markup: keyboard(r),
    });
  const left = rows.length - LIST_AT_MOST + (more ? 1 : 0);
  if (left > 0)
    await api.sendMessage(
      chatId,
      `…and ${more ? 'more than ' : ''}${Math.max(left, 1)} more: see GET /v1/pause?status=pending.`,
    );
}

/** Approval buttons, and the notes that follow a button when the approval takes one. */
function registerAnswers(bot: Bot, deps: Deps): void {
  bot.on('callback_query:data', async (ctx) => {
    const press = namedOption(DECIDE, ctx.callbackQuery.data);
    if (!press) return void (await ctx.answerCallbackQuery({ text: UNKNOWN_BUTTON }));
    const sender = senderOf(ctx);
    if (!sender) return void (await ctx.answerCallbackQuery({ text: NO_USER, show_alert: true }));
    const answered = await answerFromChat(deps, sender, { ...press, canAskNote: !!ctx.chat });
    if (!('askNote' in answered)) {
      const refusal = (text: string) => ctx.answerCallbackQuery({ text: text.slice(0, 200), show_alert: true });
      if (!answered.recorded) return void (await refusal(answered.text));
      // A failed confirmation is followed by one that says so: Telegram's retry then hears "Already decided".
      return void (await ctx
        .answerCallbackQuery({ text: recordedText(answered.choice, null, answered.tally) })
        .catch((err) => refusal(sayError(err))));
    }
    const { approval, choice } = answered;
    await ctx.answerCallbackQuery({ text: `Reply with a note for “${choice}”` });
    await ctx.api.sendMessage(
      ctx.chat!.id,
      `Your answer: <b>${esc(choice.replace(/\n/g, ' '))}</b>. Reply to this message with a note, or with - for none.\n#leash-note d:${approval.id}:${press.option}`,
      { parse_mode: 'HTML', reply_markup: { force_reply: true } },
    );
  });

  // A press with no data (a game's button, say) is none of ours, but is answered all the same.
  bot.on('callback_query', (ctx) => ctx.answerCallbackQuery({ text: UNKNOWN_BUTTON }));

  // A note: the reply to our own note prompt.
  bot.on('message:text', async (ctx, next) => {
    const prompt = ctx.message.reply_to_message;
    if (prompt?.from?.id !== ctx.me.id || !NOTE_TAG.test(prompt.text ?? '')) return next();
    const tag = namedOption(NOTE_TAG, prompt.text ?? '');
    if (!tag) return void (await ctx.reply(UNKNOWN_NOTE_PROMPT));
    const sender = senderOf(ctx);
    if (!sender) return void (await ctx.reply(NO_USER));
    const note = ctx.message.text.trim() === '-' ? null : ctx.message.text.trim().slice(0, 2000);
    const answered = await answerFromChat(deps, sender, { ...tag, note });
    if ('askNote' in answered) return; // never: the note is here, none is asked for
    if (!answered.recorded) return void (await ctx.reply(answered.text));
    await ctx
      .reply(`${recordedText(answered.choice, answered.note, answered.tally)}.`)
      .catch((err) => ctx.reply(sayError(err)));
  });
}

/** Pending approvals and agents' state belong to the workspace, not to everyone in a group: asked
 *  in a group (or a channel), they go to the asker's own chat, and the group hears only where they
 *  went, or why they could not go there. */
async function answerPrivately(
  ctx: Context,
  command: string,
  send: (chatId: number) => Promise<unknown>,
): Promise<void> {
  if (ctx.chat?.type === 'private') return void (await send(ctx.chat.id));
  if (!ctx.from) return void (await ctx.reply('Send commands from a user account.'));
  try {
    await send(ctx.from.id);
  } catch (err) {
    if (!cannotWritePrivately(err)) throw err;
    return void (await ctx.reply(
      `I cannot write to you privately, and approvals and agent status are never posted in a group. Telegram lets a bot write to you only once you have started a chat with it: open a private chat with @${ctx.me.username}, press Start, and send /${command} there (if you blocked me, unblock me first).`,
    ));
  }
  await ctx.reply('I sent you the answer in a private chat.');
}
