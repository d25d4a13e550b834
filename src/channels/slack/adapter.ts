// Approvals on Slack, worker side: post the question (a channel or user ID through chat.postMessage,
// or an incoming-webhook URL), and once it is settled anywhere, chat.update it to the outcome
// without buttons. Calls to one channel are spaced 1 s apart (Slack's per-channel posting limit).
import { DeliveryError, postJson } from '../../delivery/signed-post.js';
import type { ChannelAdapter, ChannelDeps } from '../adapter.js';
import type { ApprovalRow, PromptRow } from '../../db/schema.js';
import { askerName } from '../text.js';
import { approvalMessage, outcomeMessage } from './blocks.js';
import { callSlack, slackClient, slackError } from './client.js';

interface SlackRef {
  channel?: string;
  ts?: string;
  /** Posted through an incoming webhook: such messages cannot be edited afterwards. */
  webhook?: boolean;
}

/** An incoming-webhook URL (https://hooks.slack.com/…; the SSRF guard decides where else it may point). */
const isWebhook = (recipient: string) => /^https?:\/\//.test(recipient);

/** Slack refused our blocks (a limit we did not foresee): the plain text still says it all. An
 *  update then still removes the buttons. */
async function withoutBlocksIfRefused<T>(
  message: { text: string; blocks: object[] },
  call: (m: { text: string; blocks?: object[] }) => Promise<T>,
): Promise<T> {
  try {
    return await call(message);
  } catch (err) {
    if (!['invalid_blocks', 'msg_too_long', 'invalid_blocks_format'].includes(slackError(err) ?? '')) throw err;
    return call({ text: message.text, blocks: [] });
  }
}

export const slackAdapter: ChannelAdapter = {
  permanent(err) {
    // An incoming webhook refused for good (a revoked or unknown URL: 403, 404, 410; a bad
    // payload: 400), or a URL the SSRF guard refuses; a 429 or 5xx may pass.
    if (err instanceof DeliveryError) {
      if (err.status === undefined)
        return err.message.startsWith('refused target') ? `slack webhook: ${err.message}` : undefined;
      return err.status >= 400 && err.status < 500 && err.status !== 429 ? `slack webhook: ${err.message}` : undefined;
    }
    const code = slackError(err);
    return code &&
      !['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited'].includes(code)
      ? `slack: ${code}`
      : undefined;
  },

  pace(_row, prompt) {
    const ref = prompt.ref as SlackRef | null;
    const channel = ref?.channel ?? prompt.recipient;
    return isWebhook(channel) ? [] : [{ key: `slack:${channel}`, everyMs: 1_000 }];
  },

  async send(deps, row, prompt) {
    const message = approvalMessage(row, await askerName(deps.db, row));
    if (isWebhook(prompt.recipient)) {
      await postJson({
        url: prompt.recipient,
        body: JSON.stringify(message),
        allowPrivateUrls: deps.config.allowPrivateUrls,
      });
      return { webhook: true } satisfies SlackRef;
    }
    const res = await withoutBlocksIfRefused(message, (m) =>
      callSlack('chat.postMessage', () =>
        slackClient(deps.config).chat.postMessage({ channel: prompt.recipient, ...m } as never),
      ),
    );
    return { channel: res.channel, ts: res.ts } satisfies SlackRef;
  },

  async settled(deps, row, prompt) {
    await update(deps, row, prompt, outcomeMessage(row, await askerName(deps.db, row)));
  },

  async progress(deps, row, prompt) {
    await update(deps, row, prompt, approvalMessage(row, await askerName(deps.db, row)));
  },
};

/** chat.update of the message a prompt posted (one posted through an incoming webhook cannot be). */
async function update(
  deps: ChannelDeps,
  row: ApprovalRow,
  prompt: PromptRow,
  message: { text: string; blocks: object[] },
): Promise<void> {
  const ref = prompt.ref as SlackRef | null;
  if (!ref?.channel || !ref.ts) return;
  try {
    await withoutBlocksIfRefused(message, (m) =>
      callSlack('chat.update', () =>
        slackClient(deps.config).chat.update({ channel: ref.channel!, ts: ref.ts!, ...m } as never),
      ),
    );
  } catch (err) {
    // The message or channel is gone: nothing left to update.
    const code = slackError(err);
    if (code && ['message_not_found', 'channel_not_found', 'cant_update_message', 'is_archived'].includes(code)) {
      deps.log.warn({ approval: row.id, code }, 'slack message could not be updated; leaving it');
      return;
    }
    throw err;
  }
}
