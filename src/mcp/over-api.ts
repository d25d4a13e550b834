// The tools' LeashPort for `leash mcp` on stdio: the agent SDK against a Leash over its HTTP API
// (retries, Idempotency-Keys and long-polls are the SDK's). A pause is seen when the tool looks at
// the agent again, every progress interval.
import { Leash, LeashError, type Channel } from '../../sdk/src/index.js';
import type { AgentSeen, ApprovalSeen, LeashPort } from './port.js';

export function overApiPort(leash: Leash): LeashPort {
  return {
    agent: async () => (await leash.me()) as AgentSeen,
    async ask(body, signal) {
      const a = await leash.approvals.create({
        message: body.message,
        options: body.options,
        channel: body.channel as Channel,
        recipient: body.recipient,
        ...(body.allow_text_response !== undefined ? { allowText: body.allow_text_response } : {}),
        ...(body.timeout_seconds !== undefined ? { timeout: body.timeout_seconds } : {}),
        ...(body.timeout_default != null ? { default: body.timeout_default } : {}),
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        ...(signal ? { signal } : {}),
      });
      return a as ApprovalSeen;
    },
    async wait(id, ms, signal) {
      return (await leash.approvals.get(id, { wait: ms / 1000, signal })) as ApprovalSeen;
    },
    async cancel(id) {
      try {
        await leash.approvals.cancel(id);
      } catch (err) {
        if (!(err instanceof LeashError && err.code === 'not_pending')) throw err;
      }
    },
  };
}
