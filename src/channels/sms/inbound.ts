// POST /sms/twilio: replies to prompts, commands from a confirmed owner's phone, and LINK CODE,
// which confirms the sending phone for the code's member. The
// X-Twilio-Signature (over PUBLIC_URL + path and every parameter) is checked before anything is
// acted on; a MessageSid is handled once; every message gets a TwiML reply saying what happened.
// The carriers' opt-out words (STOP, START, …) are theirs: they never reach an agent command.
import type { FastifyInstance, FastifyReply } from 'fastify';
import twilio from 'twilio';
import { lastSettledAskedOf, pendingAskedOf, type AskedOfPhone } from '../../approvals/asked-of-phone.js';
import { settledMessage } from '../../approvals/decide.js';
import { answerFromPhone, recordedText } from '../../chat/answer.js';
import { runCommand, type CommandDeps } from '../../chat/agent-commands.js';
import { smsHelp, smsUsageLine, SMS_COMMANDS, type CommandName } from '../../chat/command-table.js';
import { answerIn, replyNowOrLater, whoRuns } from '../../chat/commands.js';
import { firstTime } from '../../chat/dedupe.js';
import { linkCommand, useCommand } from '../../chat/self-service.js';
import type { Identity } from '../../members/identities.js';
import type { ApprovalRow } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import { sendError } from '../../http/errors.js';
import { registerFormBody } from '../../http/form-body.js';
import { isStorable } from '../../storable-text.js';
import { parseChoice, splitCode } from './prompt.js';

/** Opt-out words: the carrier (and Twilio) stop messages to the phone; never a command or an answer. */
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE']);
/** Opt-in words: the carrier's too, never a command; but "yes" may well answer a question. */
const OPT_IN = new Set(['START', 'UNSTOP', 'YES', 'OPTIN']);
const HELP = smsHelp();
/** The words that start a command: the owner's commands (./command-table.ts) and the identity's own. */
const WORDS = [...SMS_COMMANDS.keys(), 'HELP', 'LINK', 'USE'];

function twiml(reply: FastifyReply, text?: string) {
  const r = new twilio.twiml.MessagingResponse();
  if (text) r.message(text);
  return reply.code(200).type('text/xml').send(r.toString());
}

export async function registerSms(root: FastifyInstance, deps: Deps): Promise<void> {
  const { authToken } = deps.config.twilio;
  if (!authToken) return;
  const commandDeps: CommandDeps = { db: deps.db, notifier: deps.notifier, approvals: deps.approvals };

  await root.register(async (app) => {
    registerFormBody(app);
    app.post('/sms/twilio', { schema: { hide: true }, config: { access: 'public' } }, async (req, reply) => {
      const params = (req.body ?? {}) as Record<string, string>;
      const signature = req.headers['x-twilio-signature'];
      const url = `${deps.config.publicUrl}${req.url}`;
      if (typeof signature !== 'string' || !twilio.validateRequest(authToken, signature, url, params)) {
        return sendError(reply, 'unauthorized', 'bad or missing X-Twilio-Signature');
      }
      // Signed, yet with a parameter repeated (a list): nothing Twilio sends; refused, not a 500.
      if ([params.From, params.Body, params.MessageSid].some((v) => v !== undefined && typeof v !== 'string')) {
        return sendError(reply, 'invalid_request', 'From, Body and MessageSid must each appear once');
      }
      const from = params.From ?? '';
      const text = (params.Body ?? '').trim();
      if (!params.MessageSid || !(await firstTime(deps.db, 'twilio', params.MessageSid))) return twiml(reply);
      if (OPT_OUT.has(text.toUpperCase())) return twiml(reply);
      if (!isStorable(text) || !isStorable(from))
        return twiml(
          reply,
          'Leash could not read that message (it holds a character it cannot store); nothing was changed. Please send it again as plain text.',
        );
      try {
        return twiml(reply, await answer(deps, commandDeps, from, text));
      } catch (err) {
        deps.log.warn({ err: (err as Error).message }, 'sms reply failed');
        return twiml(
          reply,
          'Something went wrong on our side; nothing was changed. Please send that again in a moment.',
        );
      }
    });
  });
}

async function answer(deps: Deps, commandDeps: CommandDeps, from: string, text: string): Promise<string> {
  const { code, rest } = splitCode(text);
  const pending = await pendingAskedOf(deps.db, from);
  const codeOf = (a: AskedOfPhone) => a.code ?? undefined;

  if (code) {
    const target = pending.find((a) => codeOf(a) === code);
    if (target) return decide(deps, from, target, rest);
    const earlier = await lastSettledAskedOf(deps.db, from, code);
    return earlier
      ? settledMessage(earlier)
      : `No approval with code ${code} is waiting for this number. ${pending.length ? list(pending) : ''}`.trim();
  }
  const first = rest.split(/\s+/)[0]?.toUpperCase() ?? '';
  const isCommand = WORDS.includes(first);
  if (pending.length === 1 && parseChoice(rest, pending[0]!.options)) return decide(deps, from, pending[0]!, rest);
  if (OPT_IN.has(rest.toUpperCase())) return '';
  if (pending.length > 1 && !isCommand)
    return `You have ${pending.length} pending approvals; start your reply with its code. ${list(pending)}`;
  if (isCommand) return command(deps, commandDeps, from, first, rest.split(/\s+/).slice(1));
  if (pending.length === 0 && /^\d/.test(rest)) {
    const earlier = await lastSettledAskedOf(deps.db, from);
    if (earlier) return settledMessage(earlier);
  }
  return `Sorry, I did not understand that. ${HELP}`;

  function list(rows: AskedOfPhone[]) {
    return rows
      .map(
        (a) =>
          `${codeOf(a) ?? '?'}: ${a.message.slice(0, 40)} (${a.options.map((o, i) => `${i + 1} ${o}`).join(', ')})`,
      )
      .join('; ');
  }
}

/** Only the recipient phone answers (contract §3.1): it acts like the holder of a signed link. */
async function decide(deps: Deps, from: string, row: ApprovalRow, rest: string): Promise<string> {
  const parsed = parseChoice(rest, row.options);
  if (!parsed)
    return `Reply with a number from 1 to ${row.options.length} (${row.options.map((o, i) => `${i + 1} ${o}`).join(', ')}).`;
  if (parsed.note && !row.allow_text_response)
    return `This question takes no note: reply with just the number (${row.options.map((o, i) => `${i + 1} ${o}`).join(', ')}).`;
  const answered = await answerFromPhone(deps, from, row, parsed);
  return answered.recorded
    ? `${recordedText(answered.choice, answered.note, answered.tally)}. Thank you.`
    : answered.text;
}

const phoneOf = (from: string): Identity => ({ kind: 'phone', phone: from });

async function command(
  deps: Deps,
  commandDeps: CommandDeps,
  from: string,
  word: string,
  words: string[],
): Promise<string> {
  if (word === 'HELP') return HELP;
  if (word === 'LINK') return linkCommand(deps.db, phoneOf(from), words);
  if (word === 'USE') return useCommand(deps.db, phoneOf(from), words);
  const name = SMS_COMMANDS.get(word) as Exclude<CommandName, 'approvals'>;
  const who = await whoRuns(deps.db, phoneOf(from), name, words);
  if ('refusal' in who) return who.refusal;
  const args = smsArgs(name, who.args);
  if (!args) return smsUsageLine(name);
  const action = answerIn(who, runCommand(name, commandDeps, who.ctx, args));
  // The TwiML reply is the only one: a halt that waits for its agent says so, and the stop goes on.
  const reply = await replyNowOrLater(name, args, action, { tail: 'Send STATUS to see.', canFollow: false });
  return reply.now;
}

/** The arguments a command takes by SMS (fewer than in Slack or Telegram: no reasons, no force),
 *  as the command reads them; undefined when they do not fit. */
function smsArgs(name: Exclude<CommandName, 'approvals'>, args: string[]): string[] | undefined {
  const [agent, mode] = args;
  if (name === 'status') return args.length <= 1 ? args : undefined;
  if (name !== 'pause') return args.length === 1 ? args : undefined;
  if (!agent || args.length > 2 || (mode !== undefined && !/^(full|send)$/i.test(mode))) return undefined;
  return mode ? [agent, mode.toLowerCase()] : [agent];
}
