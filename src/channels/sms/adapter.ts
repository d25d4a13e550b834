// Approvals by SMS, worker side: the prompt to the recipient's phone. A phone with other pending
// approvals gets a reply code in the prompt; the code is kept with every prompt (its ref), so
// replies can always name it. Nothing is edited afterwards: SMS cannot be.
import { sql } from 'kysely';
import type { ChannelAdapter } from '../adapter.js';
import { sendSms } from './client.js';
import { freeCode, promptText } from './prompt.js';

export interface SmsRef {
  code?: string;
  sid?: string;
}

export const smsAdapter: ChannelAdapter = {
  permanent(err) {
    const e = err as { status?: number; code?: number; message?: string };
    return typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.status !== 429
      ? `twilio ${e.code ?? e.status}: ${e.message ?? ''}`.trim()
      : undefined;
  },

  // One prompt per phone per second: codes are chosen one send at a time, and carriers frown on bursts.
  pace: (_row, prompt) => [{ key: `sms:${prompt.recipient}`, everyMs: 1_000 }],

  async send(deps, row, prompt) {
    // Codes used on this phone within a week stay taken: a late "K7 2" meant for a settled
    // approval must not answer a new one (it is told how the old one ended).
    const recent = await deps.db
      .selectFrom('prompts as p')
      .innerJoin('approvals as a', 'a.id', 'p.approval_id')
      .select(['a.status', sql<string | null>`p.ref->>'code'`.as('code')])
      .where('p.channel', '=', 'sms')
      .where('p.recipient', '=', prompt.recipient)
      .where('p.id', '!=', prompt.id)
      .where((eb) =>
        eb.or([eb('a.status', '=', 'pending'), eb('a.updated_at', '>', new Date(Date.now() - 7 * 86_400_000))]),
      )
      .execute();
    const code = freeCode(new Set(recent.map((o) => o.code).filter((c): c is string => !!c)));
    // The code is shown only when it is needed to tell this prompt from another.
    const body = promptText(row, recent.some((o) => o.status === 'pending') ? code : undefined);
    const sid = await sendSms(deps.config, prompt.recipient, body);
    return { code, sid } satisfies SmsRef;
  },
};
