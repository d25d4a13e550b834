// Tests that need a chat identity to act link it straight in the table, confirmed, as its holder
// would by sending a link code from it (test/identity.test.ts covers that flow itself). An
// identity set through the API without this stays an owner's claim, which never acts.
import { sql } from 'kysely';
import type { TestApp } from './app.js';

interface Held {
  phone?: string;
  slack_team_id?: string;
  slack_user_id?: string;
  telegram_user_id?: string;
}

/** The member columns that link these identities, each one confirmed now. */
export function confirmed(held: Held) {
  const at = new Date();
  return {
    ...held,
    ...(held.phone ? { phone_confirmed_at: at } : {}),
    ...(held.slack_user_id ? { slack_confirmed_at: at } : {}),
    ...(held.telegram_user_id ? { telegram_confirmed_at: at } : {}),
  };
}

/** Confirms every identity the member holds (as set through the API). */
export async function confirmHeld(t: TestApp, memberId: string): Promise<void> {
  await sql`
    update members set
      phone_confirmed_at = case when phone is not null then now() end,
      slack_confirmed_at = case when slack_user_id is not null then now() end,
      telegram_confirmed_at = case when telegram_user_id is not null then now() end
    where id = ${memberId}`.execute(t.deps.db);
}
