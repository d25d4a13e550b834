// What a channel adapter provides: how an approval reaches a human, and how its message shows the
// outcome afterwards. Adapters run in the worker, one job per step, so vendor limits and outages
// delay the job, never a request. Each step works on one prompt (the question as sent to one
// recipient): its recipient, not the approval's, is where it goes.
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { ApprovalRow, PromptRow } from '../db/schema.js';
import type { ReadyConfig } from '../secret.js';

/** What an adapter may use: the config (credentials, vendor URLs, the link secret), the database
 *  (to read who asked, or which reply codes a phone has in use) and the log. */
export interface ChannelDeps {
  config: ReadyConfig;
  db: Db;
  log: Logger;
}

export interface ChannelAdapter {
  /** Sends the question; returns where it went (stored as the prompt's ref, for later edits). */
  send(deps: ChannelDeps, approval: ApprovalRow, prompt: PromptRow): Promise<Record<string, unknown> | null>;
  /** The approval left pending (answered anywhere, timed out, cancelled): show the outcome on the
   *  message the prompt sent. */
  settled?(deps: ChannelDeps, approval: ApprovalRow, prompt: PromptRow): Promise<void>;
  /** Still pending, but what the message shows changed (a quorum's vote): show it again, its
   *  buttons kept. Only for channels whose messages can be edited. */
  progress?(deps: ChannelDeps, approval: ApprovalRow, prompt: PromptRow): Promise<void>;
  /** Why an error is final (the vendor refused for good: no such chat, bot blocked, number opted
   *  out…), or undefined when trying again may help. Final errors are recorded, not retried. */
  permanent?(err: unknown): string | undefined;
  /** Calls sharing a key are spaced at least `everyMs` apart (a vendor's per-chat or overall limit). */
  pace?(approval: ApprovalRow, prompt: PromptRow): { key: string; everyMs: number }[];
}

/** The vendor asked us to wait (a 429 with Retry-After): the job runs again at `at`, without
 *  spending one of its attempts. */
export class RetryLater extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}
