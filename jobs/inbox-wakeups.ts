// Inboxes: a message, an unpause, a start or a new delivery_url notifies `inbox:<agent>`; those
// agents' drains are armed in one query per burst. A finished drain re-checks its agent too: a
// message committed while it was finishing found its job id taken.
import { coalesced } from '../src/coalesced.js';
import type { Deps } from '../src/deps.js';
import { armDueDrains } from './rearm.js';
import { SchedulerAway, type Scheduler } from './scheduler.js';

export interface InboxWakeups {
  /** An agent's inbox changed; undefined: any may have (the listener reconnected). */
  wake(agentId: string | undefined): void;
  /** A new delivery_url: a drain delayed by the old URL's backoff runs now. */
  reset(agentId: string): Promise<void>;
}

export function inboxWakeups(
  deps: Deps,
  scheduler: Scheduler,
  closing: () => boolean,
  warn: (err: Error, msg: string) => void,
): InboxWakeups {
  const woken = new Set<string>();
  let all = false;
  const armWoken = coalesced(async () => {
    const ids = all ? undefined : [...woken];
    all = false;
    woken.clear();
    try {
      if (!scheduler.ready) throw new SchedulerAway();
      await armDueDrains(deps.db, scheduler, ids);
    } catch (err) {
      warn(err as Error, 'arming drains failed; the sweep retries');
    }
  });
  const wake = (agentId: string | undefined) => {
    if (closing()) return;
    if (agentId) woken.add(agentId);
    else all = true;
    void armWoken();
  };
  return {
    wake,
    async reset(agentId) {
      if (!agentId || closing()) return;
      try {
        await scheduler.hurry('drains', `drain.${agentId}`);
      } catch (err) {
        warn(err as Error, 'could not restart a delayed drain');
      }
      wake(agentId);
    },
  };
}
