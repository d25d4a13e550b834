// Which approval timers are armed in the scheduler now, and which wait for the worker's sweep to
// bring them within its horizon. Asked by createApproval (whether a new web approval needs an event
// at all) and by the worker (what to arm); neither owns the rule.

/**
 * A web approval due further out than this gets no approval.requested event: there is nothing to
 * send, and its timer is armed by the worker's sweep once the deadline comes within the worker's
 * horizon (at least this long). Most approvals are answered long before their deadline, so most
 * never cost the worker a round trip, and the scheduler holds only the next minutes' timers.
 */
export const ARM_AHEAD_MS = 10 * 60_000;

/** The worker's horizon: twice per horizon at least, the sweep moves it along, so each timer is
 *  armed well before its deadline. */
export const horizonMs = (sweepIntervalMs: number) => Math.max(ARM_AHEAD_MS, 2 * sweepIntervalMs);

/** Whether a new approval needs the worker now (an event): a channel to send on, or a deadline
 *  within ARM_AHEAD_MS. */
export const needsWorkerNow = (channel: string, timeoutMs: number) => channel !== 'web' || timeoutMs <= ARM_AHEAD_MS;
